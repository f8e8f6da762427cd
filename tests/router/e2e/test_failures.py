"""Upstream failures: refused connections, timeouts, 5xx answers, open circuits, and a backend killed under
load. Every failure is answered at once with a JSON body naming the route and the backend, idempotent
requests are served by the fallback, and nothing that is not idempotent is ever sent twice."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest

from tests.router.e2e.conftest import Router, Upstream
from tests.router.e2e.helpers import dead_url, journal, routes_file, seen_with_id, wait_for
from tests.support.servers import running_router, running_upstream

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def victim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """A backend the tests of this module stop and start again (on the same port)."""
    with running_upstream(tmp_path_factory.mktemp("victim"), "victim") as (url, process):
        yield Upstream("victim", url, process)


def _revive(victim: Upstream) -> None:
    if not victim.process.running:
        victim.process.start()
        victim.process.wait_healthy(f"{victim.url}/healthz")


@pytest.fixture(scope="module")
def failing_router(tmp_path_factory: pytest.TempPathFactory, monolith: Upstream, catalog: Upstream,
                   victim: Upstream) -> Iterator[Router]:
    """Routes chosen by an ``X-Case`` header, each with a backend set up to fail in its own way; backends
    that share a target still keep their own circuits (circuits are per backend and target)."""
    no_checks = "health: {interval: 0}"
    config = routes_file(f"""\
        default: monolith
        backends:
          monolith: {{targets: ["{monolith.url}"], {no_checks}}}
          dead: {{targets: ["{dead_url()}"], {no_checks}, timeouts: {{connect: 1}}, circuit: {{failures: 1000}}}}
          tight: {{targets: ["{monolith.url}"], {no_checks}, timeouts: {{read: 0.5}}}}
          flaky: {{targets: ["{catalog.url}"], {no_checks}, circuit: {{failures: 1000}}}}
          breaker: {{targets: ["{catalog.url}"], {no_checks}, circuit: {{failures: 3, reset_after: 1}}}}
          breaker-fb: {{targets: ["{catalog.url}"], {no_checks}, circuit: {{failures: 2, reset_after: 60}}}}
          victim-circuit: {{targets: ["{victim.url}"], {no_checks}, circuit: {{failures: 3, reset_after: 2}}}}
          victim-stop: {{targets: ["{victim.url}"], {no_checks}}}
          victim-crash: {{targets: ["{victim.url}"], {no_checks}}}
        routes:
          dead: {{path: /, header: {{name: x-case, value: dead}}, backend: dead}}
          dead-fb: {{path: /, header: {{name: x-case, value: dead-fb}}, backend: dead, fallback: monolith}}
          tight: {{path: /, header: {{name: x-case, value: tight}}, backend: tight}}
          flaky-fb: {{path: /, header: {{name: x-case, value: flaky-fb}}, backend: flaky, fallback: monolith}}
          breaker: {{path: /, header: {{name: x-case, value: breaker}}, backend: breaker}}
          breaker-fb: {{path: /, header: {{name: x-case, value: breaker-fb}}, backend: breaker-fb,
                       fallback: monolith}}
          victim-circuit: {{path: /, header: {{name: x-case, value: victim-circuit}}, backend: victim-circuit}}
          victim-stop: {{path: /, header: {{name: x-case, value: victim-stop}}, backend: victim-stop,
                        fallback: monolith}}
          victim-crash: {{path: /, header: {{name: x-case, value: victim-crash}}, backend: victim-crash,
                         fallback: monolith}}
        """)
    with running_router(tmp_path_factory.mktemp("failing-router"), config) as (url, process, _path):
        yield Router(url, process)


@pytest.fixture(scope="module")
def client(failing_router: Router) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=failing_router.url, timeout=10) as client:
        yield client


def _case(name: str, **extra: str) -> dict[str, str]:
    return {"X-Case": name, "X-Request-ID": f"{name}-{uuid.uuid4().hex}", **extra}


def _assert_router_error(response: httpx.Response, status: int, code: str, route: str, backend: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert "x-upstream" not in response.headers  # the router answered, no backend did
    body = response.json()
    assert (body["code"], body["route"], body["backend"]) == (code, route, backend)
    assert repr(route) in body["detail"] and repr(backend) in body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_backend_that_is_not_running_is_a_fast_502(client: httpx.Client, method: str) -> None:
    started = time.monotonic()
    response = client.request(method, "/echo/x", headers=_case("dead"), content=b"{}" if method == "POST" else None)
    assert time.monotonic() - started < 1.0
    _assert_router_error(response, 502, "connect_failed", "dead", "dead")


def test_a_backend_slower_than_its_read_timeout_is_a_504(client: httpx.Client, monolith: Upstream) -> None:
    started = time.monotonic()
    response = client.get("/slow/3", headers=_case("tight"))
    elapsed = time.monotonic() - started
    _assert_router_error(response, 504, "timeout", "tight", "tight")
    assert 0.4 < elapsed < 1.5


def test_a_backend_within_its_read_timeout_answers(client: httpx.Client) -> None:
    response = client.get("/slow/0.1", headers=_case("tight"))
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "monolith"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "DELETE"])
def test_an_idempotent_request_falls_back_when_the_backend_is_down(client: httpx.Client, method: str) -> None:
    started = time.monotonic()
    response = client.request(method, "/echo/fb", headers=_case("dead-fb"))
    assert time.monotonic() - started < 1.0
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "monolith"
    if method != "HEAD":
        assert response.json()["method"] == method


@pytest.mark.parametrize(("method", "body"), [("POST", b""), ("POST", b'{"order": 1}'), ("PATCH", b"{}"),
                                              ("PUT", b'{"a": 1}')])
def test_a_request_that_is_not_safe_to_repeat_never_falls_back(client: httpx.Client, monolith: Upstream,
                                                               method: str, body: bytes) -> None:
    headers = _case("dead-fb")
    response = client.request(method, "/echo/fb", headers=headers, content=body)
    _assert_router_error(response, 502, "connect_failed", "dead-fb", "dead")
    assert seen_with_id(monolith.url, headers["X-Request-ID"]) == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_get_answered_5xx_is_served_by_the_fallback(client: httpx.Client, catalog: Upstream,
                                                      status: int) -> None:
    headers = _case("flaky-fb")
    response = client.get(f"/status/{status}?only=catalog", headers=headers)
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "monolith"
    assert len(seen_with_id(catalog.url, headers["X-Request-ID"])) == 1  # the primary was asked first


def test_a_post_answered_5xx_is_passed_on_not_retried(client: httpx.Client, monolith: Upstream,
                                                      catalog: Upstream) -> None:
    headers = _case("flaky-fb")
    response = client.post("/status/500?only=catalog", headers=headers, content=b"{}")
    assert response.status_code == 500
    assert response.headers["x-upstream"] == "catalog"
    assert len(seen_with_id(catalog.url, headers["X-Request-ID"])) == 1
    assert seen_with_id(monolith.url, headers["X-Request-ID"]) == []


def test_a_4xx_is_an_answer_not_a_failure(client: httpx.Client, monolith: Upstream) -> None:
    headers = _case("flaky-fb")
    response = client.get("/status/404?only=catalog", headers=headers)
    assert (response.status_code, response.headers["x-upstream"]) == (404, "catalog")
    assert seen_with_id(monolith.url, headers["X-Request-ID"]) == []


def test_the_circuit_opens_after_consecutive_failures_and_a_probe_closes_it(client: httpx.Client,
                                                                            catalog: Upstream) -> None:
    for _ in range(3):  # circuit.failures: 3
        response = client.get("/status/503?only=catalog", headers=_case("breaker"))
        assert (response.status_code, response.headers["x-upstream"]) == (503, "catalog")
    opened = time.monotonic()
    # Open: the backend is not even asked; the answer says when to come back.
    for _ in range(3):
        headers = _case("breaker")
        started = time.monotonic()
        response = client.get("/echo/while-open", headers=headers)
        assert time.monotonic() - started < 0.5
        _assert_router_error(response, 503, "circuit_open", "breaker", "breaker")
        assert response.headers["retry-after"].isdigit()
        assert seen_with_id(catalog.url, headers["X-Request-ID"]) == []
    # After reset_after (1 s) one request probes the backend, which is healthy again: the circuit closes.
    time.sleep(max(0.0, 1.1 - (time.monotonic() - opened)))
    probe = _case("breaker")
    response = client.get("/echo/probe", headers=probe)
    assert (response.status_code, response.headers["x-upstream"]) == (200, "catalog")
    assert len(seen_with_id(catalog.url, probe["X-Request-ID"])) == 1
    for _ in range(5):
        response = client.get("/echo/closed", headers=_case("breaker"))
        assert (response.status_code, response.headers["x-upstream"]) == (200, "catalog")


def test_a_failed_probe_opens_the_circuit_again(client: httpx.Client, catalog: Upstream) -> None:
    for _ in range(3):
        assert client.get("/status/502?only=catalog", headers=_case("breaker")).status_code == 502
    time.sleep(1.1)
    probe = client.get("/status/502?only=catalog", headers=_case("breaker"))
    assert (probe.status_code, probe.headers["x-upstream"]) == (502, "catalog")  # the probe failed
    _assert_router_error(client.get("/echo/reopened", headers=_case("breaker")), 503, "circuit_open", "breaker",
                         "breaker")
    time.sleep(1.1)
    response = client.get("/echo/recovered", headers=_case("breaker"))
    assert (response.status_code, response.headers["x-upstream"]) == (200, "catalog")


def test_an_open_circuit_sends_gets_straight_to_the_fallback(client: httpx.Client, catalog: Upstream,
                                                             monolith: Upstream) -> None:
    for _ in range(2):  # circuit.failures: 2; each failure is still served by the fallback
        response = client.get("/status/503?only=catalog", headers=_case("breaker-fb"))
        assert (response.status_code, response.headers["x-upstream"]) == (200, "monolith")
    headers = _case("breaker-fb")
    response = client.get("/echo/open", headers=headers)
    assert (response.status_code, response.headers["x-upstream"]) == (200, "monolith")
    assert seen_with_id(catalog.url, headers["X-Request-ID"]) == []
    post = _case("breaker-fb")
    response = client.post("/echo/open", headers=post, content=b"{}")
    _assert_router_error(response, 503, "circuit_open", "breaker-fb", "breaker-fb")
    assert seen_with_id(monolith.url, post["X-Request-ID"]) == []


def test_a_circuit_opened_by_a_dead_backend_closes_once_it_is_back(client: httpx.Client,
                                                                   victim: Upstream) -> None:
    _revive(victim)
    assert client.get("/echo/up", headers=_case("victim-circuit")).headers["x-upstream"] == "victim"
    victim.process.stop()
    for _ in range(3):
        _assert_router_error(client.get("/echo/down", headers=_case("victim-circuit")), 502, "connect_failed",
                             "victim-circuit", "victim-circuit")
    opened = time.monotonic()
    _assert_router_error(client.get("/echo/down", headers=_case("victim-circuit")), 503, "circuit_open",
                         "victim-circuit", "victim-circuit")
    _revive(victim)
    if time.monotonic() - opened < 1.5:  # back, but the circuit is still open until reset_after (2 s)
        headers = _case("victim-circuit")
        _assert_router_error(client.get("/echo/early", headers=headers), 503, "circuit_open", "victim-circuit",
                             "victim-circuit")
        assert seen_with_id(victim.url, headers["X-Request-ID"]) == []
    time.sleep(max(0.0, 2.1 - (time.monotonic() - opened)))
    for _ in range(3):
        response = client.get("/echo/again", headers=_case("victim-circuit"))
        assert (response.status_code, response.headers["x-upstream"]) == (200, "victim")


@dataclass
class Outcome:
    method: str
    status: int | None  # None: no answer at all (an exception)
    upstream: str | None
    seconds: float
    error: str | None = None


@pytest.mark.parametrize("how", ["stop", "crash"])
def test_a_backend_killed_mid_load_fails_no_get_and_hangs_no_post(failing_router: Router, victim: Upstream,
                                                                  monolith: Upstream, how: str) -> None:
    """``stop``: SIGTERM (ManagedProcess.stop(), a graceful shutdown); ``crash``: SIGKILL, connections cut.
    Each has a backend of its own, so the circuit the first one opened does not shape the second."""
    _revive(victim)
    marker = uuid.uuid4().hex
    stop = threading.Event()
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def client_loop(method: str, index: int) -> None:
        with httpx.Client(base_url=failing_router.url, timeout=5) as client:
            n = 0
            while not stop.is_set():
                n += 1
                headers = {"X-Case": f"victim-{how}", "X-Request-ID": f"load-{marker}-{method}-{index}-{n}"}
                started = time.monotonic()
                try:
                    response = client.request(method, f"/echo/load-{index}", headers=headers,
                                              content=b'{"n": 1}' if method == "POST" else None)
                    outcome = Outcome(method, response.status_code, response.headers.get("x-upstream"),
                                      time.monotonic() - started)
                except httpx.HTTPError as exc:
                    outcome = Outcome(method, None, None, time.monotonic() - started, repr(exc))
                with lock:
                    outcomes.append(outcome)

    with ThreadPoolExecutor(max_workers=25) as pool:
        futures = [pool.submit(client_loop, "GET", i) for i in range(20)]
        futures += [pool.submit(client_loop, "POST", i) for i in range(5)]
        wait_for(lambda: sum(o.upstream == "victim" for o in outcomes) >= 100, timeout=10)
        if how == "stop":
            victim.process.stop()
        else:
            assert victim.process.proc is not None
            os.killpg(victim.process.proc.pid, signal.SIGKILL)
            victim.process.proc.wait(timeout=5)
        killed_at = len(outcomes)
        wait_for(lambda: len(outcomes) >= killed_at + 150, timeout=20)
        stop.set()
        for future in futures:
            future.result()

    gets = [o for o in outcomes if o.method == "GET"]
    posts = [o for o in outcomes if o.method == "POST"]
    failed_gets = [o for o in gets if o.status != 200]
    assert failed_gets == [], f"{len(failed_gets)} of {len(gets)} GETs failed, e.g. {failed_gets[:3]}"
    assert {o.upstream for o in gets} == {"victim", "monolith"}  # served by the fallback after the kill
    assert [o for o in posts if o.status is None] == []  # every POST was answered
    assert {(o.status, o.upstream) for o in posts} <= {(200, "victim"), (502, None), (503, None)}
    assert any(o.status in (502, 503) for o in posts)
    slow = [o for o in outcomes if o.seconds > 2.0]
    assert slow == [], f"{len(slow)} requests took over 2 s, e.g. {slow[:3]}"
    # The fallback never saw a POST of this run.
    assert not [e for e in journal(monolith.url) if e["method"] == "POST" and marker in (e["request_id"] or "")]
