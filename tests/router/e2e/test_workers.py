"""``python -m router serve --workers 2`` as real processes under 50 concurrent clients: a route switch and a
write freeze reach both workers before the admin API answers (no request sent after the answer is served the
old way), figures are summed over the workers, both workers serve, the access log stays one JSON object a
line, a killed worker comes back with the current table, and a broken routes file leaves every worker on the
table it had."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from router.parity.store import summarise
from strangler.processes import ManagedProcess
from tests.router.e2e.conftest import Upstream
from tests.router.e2e.helpers import journal, routes_file, wait_for
from tests.support.servers import running_router

pytestmark = pytest.mark.slow

ADMIN_ENV = "WORKERS_ROUTER_ADMIN_TOKEN"
ADMIN_TOKEN = f"workers-admin-{uuid.uuid4().hex}"
CLIENTS = 50
ROUTES = """\
    default: monolith
    admin: {{listen: "{{admin_listen}}", token_env: {env}}}
    parity: {{store: parity.sqlite3}}
    backends:
      monolith: {{targets: ["{monolith}"], health: {{interval: 0}}}}
      catalog: {{targets: ["{catalog}"], health: {{interval: 0}}}}
      failing: {{targets: ["{catalog}"], circuit: {{failures: 2, reset_after: 60}}, health: {{interval: 0}}}}
    routes:
      items: {{path: /echo/items/, backend: {items}}}
      writes: {{path: /echo/writes/, methods: [POST, PUT, PATCH, DELETE], backend: monolith}}
      reads: {{path: /echo/writes/, methods: [GET], backend: monolith}}
      broken: {{path: /status/, backend: failing}}
      mirrored: {{path: /echo/mirrored/, backend: monolith, shadow: {{backend: catalog, rate: 10000, queue: 1000}}}}
    """


def _routes(monolith: Upstream, catalog: Upstream, *, items: str = "monolith", extra: str = "") -> str:
    body = ROUTES.format(env=ADMIN_ENV, monolith=monolith.url, catalog=catalog.url, items=items) + extra
    return routes_file(body).replace('admin: {listen: "{admin_listen}"}\n', "", 1)


@dataclass
class Cluster:
    url: str
    admin_url: str
    process: ManagedProcess
    path: Path

    def admin(self, method: str, path: str, *, body: Any = None) -> httpx.Response:
        return httpx.request(method, self.admin_url + path, json=body, timeout=10,
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    def status(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.admin("GET", "/status").json()
        return answer

    def requests_total(self, route: str) -> float:
        text = self.admin("GET", "/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("router_requests_total{") and f'route="{route}"' in line)

    def log_lines(self) -> list[str]:
        return [line for line in self.process.log_path.read_text().splitlines() if line.strip()]


@contextmanager
def _cluster(tmp_path: Path, routes: str) -> Iterator[Cluster]:
    with running_router(tmp_path, routes, env={ADMIN_ENV: ADMIN_TOKEN}, workers=2) as (url, process, path):
        yield Cluster(url, process.admin_url, process, path)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, monolith: Upstream, catalog: Upstream) -> Iterator[Cluster]:
    with _cluster(tmp_path_factory.mktemp("workers"), _routes(monolith, catalog)) as started:
        yield started


@pytest.fixture
def items_on_monolith(cluster: Cluster) -> None:
    assert cluster.admin("PATCH", "/routes/items", body={"backend": "monolith"}).status_code == 200


@dataclass
class Sent:
    at: float  # time.monotonic() just before the request was handed to the client library
    method: str
    request_id: str
    status: int | None = None
    upstream: str | None = None  # X-Upstream: the backend that answered
    code: str | None = None  # the router's own answers
    retry_after: str | None = None
    error: str | None = None


Pick = Callable[[int, int], tuple[str, str]]  # (client, n) -> (method, path)


class Load:
    """``clients`` concurrent clients (aiohttp, one event loop in a thread) sending requests in a loop until
    stopped (or ``each`` requests apiece); every request recorded with when it was sent and who answered."""

    def __init__(self, url: str, pick: Pick, *, clients: int = CLIENTS, each: int | None = None,
                 close: bool = False) -> None:
        self.url, self.pick, self.clients, self.each, self.close = url, pick, clients, each, close
        self.sent: list[Sent] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, force_close=self.close)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
            await asyncio.gather(*(self._client(session, i) for i in range(self.clients)))

    async def _client(self, session: aiohttp.ClientSession, client: int) -> None:
        n = 0
        while not self._stop.is_set() and (self.each is None or n < self.each):
            method, path = self.pick(client, n)
            n += 1
            sent = Sent(time.monotonic(), method, f"workers-{uuid.uuid4().hex}")
            self.sent.append(sent)
            try:
                async with session.request(method, self.url + path, headers={"X-Request-ID": sent.request_id},
                                           data=b"{}" if method != "GET" else None) as response:
                    body = await response.read()
                    sent.status, sent.upstream = response.status, response.headers.get("X-Upstream")
                    sent.retry_after = response.headers.get("Retry-After")
                    if response.status >= 400:
                        sent.code = json.loads(body).get("code")
            except (aiohttp.ClientError, TimeoutError) as exc:
                sent.error = repr(exc)

    def wait(self, count: int, timeout: float = 10) -> None:
        """Until ``count`` more answers than now have arrived."""
        target = len(self.answered) + count
        wait_for(lambda: len(self.answered) >= target, timeout=timeout)

    @property
    def answered(self) -> list[Sent]:
        return [s for s in list(self.sent) if s.status is not None]

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.each is None:
            self._stop.set()
        self._thread.join(timeout=30)


def _items(_client: int, n: int) -> tuple[str, str]:
    return "GET", f"/echo/items/{n}"


def test_a_route_switch_reaches_every_worker_before_the_admin_api_answers(
        cluster: Cluster, items_on_monolith: None) -> None:
    switches: list[tuple[float, float, str]] = []  # (PATCH sent, answered, backend from then on)
    with Load(cluster.url, _items) as load:
        load.wait(200)
        for backend in ("catalog", "monolith", "catalog", "monolith"):
            asked = time.monotonic()
            response = cluster.admin("PATCH", "/routes/items", body={"backend": backend})
            switches.append((asked, time.monotonic(), backend))
            assert response.status_code == 200, response.text
            load.wait(300)
    assert not [s for s in load.sent if s.error], [s.error for s in load.sent if s.error][:3]
    for index, (_asked, answered, backend) in enumerate(switches):
        until = switches[index + 1][0] if index + 1 < len(switches) else float("inf")
        after = [s for s in load.answered if answered < s.at < until]
        assert len(after) >= 100, len(after)
        wrong = [s for s in after if s.upstream != backend]
        assert not wrong, f"switch {index} to {backend}: {len(wrong)} of {len(after)} served by {wrong[0].upstream}"


def test_a_freeze_reaches_every_worker_before_the_admin_api_answers(cluster: Cluster, monolith: Upstream) -> None:
    def pick(client: int, n: int) -> tuple[str, str]:
        return ("POST" if client % 2 else "GET"), f"/echo/writes/{n}"

    with Load(cluster.url, pick) as load:
        load.wait(200)
        response = cluster.admin("POST", "/leases", body={"freeze": ["writes"], "seconds": 30, "holder": "test"})
        frozen = time.monotonic()
        assert response.status_code == 201, response.text
        lease = response.json()["lease"]
        load.wait(400)
        drained = cluster.admin("GET", f"/leases/{lease}").json()
        released_asked = time.monotonic()
        assert cluster.admin("DELETE", f"/leases/{lease}").status_code == 200
        released = time.monotonic()
        load.wait(300)
    assert not [s for s in load.sent if s.error], [s.error for s in load.sent if s.error][:3]
    during = [s for s in load.answered if frozen < s.at < released_asked]
    writes = [s for s in during if s.method == "POST"]
    reads = [s for s in during if s.method == "GET"]
    assert len(writes) >= 50 and len(reads) >= 50, (len(writes), len(reads))
    assert {(s.status, s.code) for s in writes} == {(503, "write_freeze")}
    assert all(int(s.retry_after or 0) >= 1 for s in writes)
    assert {(s.status, s.upstream) for s in reads} == {(200, "monolith")}
    # None of the refused writes reached the backend; the writes still on their way had drained (all workers).
    seen = {entry["request_id"] for entry in journal(monolith.url)}
    assert not [s for s in writes if s.request_id in seen]
    assert drained["drained"] is True and drained["in_flight"] == {"writes": 0}, drained
    after = [s for s in load.answered if s.at > released and s.method == "POST"]
    assert len(after) >= 50 and {(s.status, s.upstream) for s in after} == {(200, "monolith")}


def test_a_lapsed_lease_switches_every_worker_before_writes_flow_again(cluster: Cluster, monolith: Upstream) -> None:
    """No admin request here: the primary's own timer expires the lease and pushes on_expiry and the lifted
    freeze to both workers together."""
    def pick(_client: int, n: int) -> tuple[str, str]:
        return "POST", f"/echo/writes/{n}"

    try:
        with Load(cluster.url, pick) as load:
            load.wait(100)
            response = cluster.admin("POST", "/leases", body={
                "freeze": ["writes"], "seconds": 1, "holder": "test", "on_expiry": {"writes": {"backend": "catalog"}}})
            assert response.status_code == 201, response.text
            frozen = time.monotonic()
            wait_for(lambda: any(s.upstream == "catalog" for s in load.answered), timeout=5)
            load.wait(200)
        assert not [s for s in load.sent if s.error]
        after = [s for s in load.answered if s.at > frozen]
        assert {(s.status, s.upstream or s.code) for s in after} == {(503, "write_freeze"), (200, "catalog")}
        seen = {entry["request_id"] for entry in journal(monolith.url)}
        assert not [s for s in after if s.request_id in seen]  # no write reached the old side once frozen
    finally:
        assert cluster.admin("PATCH", "/routes/writes", body={"backend": "monolith"}).status_code == 200


def test_metrics_and_counters_are_summed_over_the_workers(cluster: Cluster, items_on_monolith: None) -> None:
    window = cluster.admin("POST", "/windows").json()["window"]
    before = cluster.requests_total("items")
    with Load(cluster.url, _items, each=20) as load:
        pass
    sent = len(load.sent)
    assert sent == CLIENTS * 20 and all(s.status == 200 for s in load.sent)
    wait_for(lambda: cluster.requests_total("items") - before >= sent, timeout=5)
    assert cluster.requests_total("items") - before == sent
    counters = cluster.admin("GET", f"/counters?window={window}").json()["routes"]["items"]
    assert counters["requests"] == sent and counters["status"] == {"2xx": sent}
    figures = counters["backends"]["monolith"]
    assert figures["requests"] == sent and figures["p50_ms"] is not None and figures["p99_ms"] >= figures["p50_ms"]
    assert cluster.admin("DELETE", f"/windows/{window}").status_code == 200


def test_shadow_comparisons_of_every_worker_land_in_the_one_parity_store(cluster: Cluster) -> None:
    window = cluster.admin("POST", "/windows").json()["window"]
    with Load(cluster.url, lambda _client, n: ("GET", f"/echo/mirrored/{n}"), each=4) as load:
        pass
    sent = len(load.sent)
    assert all(s.status == 200 for s in load.sent)

    def parity() -> dict[str, Any]:
        found: dict[str, Any] = cluster.admin("GET", f"/parity?window={window}&limit=200").json()
        return found

    wait_for(lambda: parity()["routes"]["mirrored"]["compared"] == sent, timeout=10)
    figures = parity()
    # The echo answers name their backend: every comparison differs, from both workers' shadows.
    assert figures["routes"]["mirrored"]["different"] == sent
    assert len(figures["latest"]) == 50  # the primary keeps the latest 50 differences of a route
    store = cluster.path.with_name("parity.sqlite3")
    wait_for(lambda: sum(r.compared for r in summarise(store, route="mirrored")) >= sent, timeout=10)
    assert cluster.admin("GET", "/parity").json()["store"]["failures"] == 0


def test_both_workers_serve_and_every_access_log_line_is_whole(cluster: Cluster, items_on_monolith: None) -> None:
    pids = {p["pid"] for p in cluster.status()["workers"]["processes"]}
    marker = uuid.uuid4().hex

    def pick(_client: int, n: int) -> tuple[str, str]:
        return "GET", f"/echo/items/{marker}/{'x' * (n % 7) * 300}"  # lines of many lengths, some long

    with Load(cluster.url, pick, each=30, close=True) as load:
        pass
    assert all(s.status == 200 for s in load.sent)

    def logged() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in cluster.log_lines()]  # every line of the log is one JSON object
        return [line for line in lines if marker in line.get("path", "")]

    wait_for(lambda: len(logged()) >= len(load.sent), timeout=5)
    lines = logged()
    assert len(lines) == len(load.sent)
    assert {line["request_id"] for line in lines} == {s.request_id for s in load.sent}
    served_by = {line["worker_pid"] for line in lines}
    assert served_by == pids, (served_by, pids)


def test_a_broken_routes_file_leaves_every_worker_on_its_table(cluster: Cluster, items_on_monolith: None) -> None:
    good = cluster.path.read_text()
    serving = cluster.status()["version"]
    # A second "items" (to the other backend): a duplicate key, refused naming both lines.
    broken = good.replace("routes:\n", "routes:\n  items: {path: /echo/other/, backend: catalog}\n", 1)
    assert broken != good
    with Load(cluster.url, _items) as load:
        load.wait(200)
        cluster.path.write_text(broken)
        try:
            response = cluster.admin("POST", "/reload")
            assert response.status_code == 400, response.text
            asked = time.monotonic()
            load.wait(300)
            status = cluster.status()
        finally:
            cluster.path.write_text(good)
    assert status["reload"]["state"] == "rejected"
    assert any("items" in problem for problem in status["reload"]["last_rejection"]["problems"])
    assert status["version"] == serving
    assert [p["table_version"] for p in status["workers"]["processes"]] == [serving, serving]
    after = [s for s in load.answered if s.at > asked]
    assert len(after) >= 100 and {s.upstream for s in after} == {"monolith"}
    assert not [s for s in load.sent if s.error]


def test_a_circuit_opened_by_one_worker_is_open_in_the_other(cluster: Cluster, catalog: Upstream) -> None:
    """Failures are counted per worker, but the opening is shared: without it, each worker would send its own
    two failing requests before refusing (4 at the backend instead of at most 3)."""
    marker = f"circuit-{uuid.uuid4().hex}"
    answers = []
    for n in range(40):  # one at a time, each on a new connection: both workers take some
        response = httpx.get(f"{cluster.url}/status/503", headers={"X-Request-ID": f"{marker}-{n}",
                                                                    "Connection": "close"}, timeout=5)
        answers.append((response.status_code, response.headers.get("x-upstream"),
                        response.json().get("code")))
        time.sleep(0.01)
    reached = [e for e in journal(catalog.url) if (e["request_id"] or "").startswith(marker)]
    assert 2 <= len(reached) <= 3, len(reached)
    assert answers[len(reached):] == [(503, None, "circuit_open")] * (40 - len(reached))
    pids = {line["worker_pid"] for line in map(json.loads, cluster.log_lines())
            if line.get("request_id", "").startswith(marker)}
    assert len(pids) == 2  # both workers answered, the second without ever reaching the backend twice


def test_a_reload_by_sighup_reaches_every_worker(cluster: Cluster, items_on_monolith: None) -> None:
    good = cluster.path.read_text()
    serving = cluster.status()["version"]
    assert cluster.process.proc is not None
    with Load(cluster.url, _items) as load:
        load.wait(200)
        cluster.path.write_text(good.replace("backend: monolith}", "backend: catalog}", 1))
        try:
            os.kill(cluster.process.proc.pid, signal.SIGHUP)  # the primary's: it reloads, then pushes
            wait_for(lambda: cluster.status()["version"] > serving, timeout=5)  # /status answers once pushed
            seen = time.monotonic()
            load.wait(300)
        finally:
            restored = time.monotonic()
            cluster.path.write_text(good)
            assert cluster.admin("POST", "/reload").status_code == 200
    after = [s for s in load.answered if seen < s.at < restored]
    assert len(after) >= 100 and {s.upstream for s in after} == {"catalog"}
    assert not [s for s in load.sent if s.error]


def test_a_killed_worker_comes_back_with_the_current_table(tmp_path: Path, monolith: Upstream,
                                                           catalog: Upstream) -> None:
    with _cluster(tmp_path, _routes(monolith, catalog)) as killed:
        assert killed.admin("PATCH", "/routes/items", body={"backend": "catalog"}).status_code == 200
        workers = killed.status()["workers"]["processes"]
        victim = workers[0]["pid"]
        # New connections for every request, so the restarted worker gets its share of them.
        with Load(killed.url, _items, close=True) as load:
            load.wait(200)
            counted = killed.requests_total("items")  # a scrape: what the victim counted so far stays counted
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: killed.status()["workers"]["serving"] == 2
                     and victim not in {p["pid"] for p in killed.status()["workers"]["processes"]}, timeout=15)
            back = time.monotonic()
            load.wait(300)
        status = killed.status()
        replacement = ({p["pid"] for p in status["workers"]["processes"]} - {w["pid"] for w in workers}).pop()
        failed = [s for s in load.sent if s.error]
        assert len(failed) <= CLIENTS, len(failed)  # at most the connections that were on it (one per client)
        answered = load.answered
        assert {s.upstream for s in answered} == {"catalog"}
        assert len([s for s in answered if s.at > back]) >= 100
        assert "router_worker_restarts_total 1.0" in killed.admin("GET", "/metrics").text
        assert counted <= killed.requests_total("items") <= len(answered)
        assert all(p["table_version"] == status["version"] for p in status["workers"]["processes"])
        # The new worker serves, with the table patched before the kill.
        wait_for(lambda: f'"worker_pid":{replacement}' in killed.process.log_path.read_text(), timeout=5)
        mine = [json.loads(line) for line in killed.log_lines() if line.endswith(f'"worker_pid":{replacement}}}')]
        assert mine and {line["backend"] for line in mine if "request_id" in line} == {"catalog"}


def test_a_worker_that_does_not_apply_a_change_in_time_is_replaced_before_the_answer(
        tmp_path: Path, monolith: Upstream, catalog: Upstream) -> None:
    with _cluster(tmp_path, _routes(monolith, catalog)) as stuck:
        workers = stuck.status()["workers"]["processes"]
        frozen_pid = workers[1]["pid"]
        os.kill(frozen_pid, signal.SIGSTOP)  # alive, but it will not acknowledge anything
        try:
            asked = time.monotonic()
            response = stuck.admin("PATCH", "/routes/items", body={"backend": "catalog"})
            took = time.monotonic() - asked
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(frozen_pid, signal.SIGCONT)
        assert response.status_code == 200, response.text
        assert 1.9 <= took <= 6, took  # the acknowledgement's bound, then the answer
        answered = time.monotonic()
        with Load(stuck.url, _items, close=True) as load:
            load.wait(200)
        assert {(s.status, s.upstream) for s in load.sent if s.at > answered} == {(200, "catalog")}
        wait_for(lambda: stuck.status()["workers"]["serving"] == 2, timeout=15)
        status = stuck.status()
        assert status["workers"]["restarts"] == 1
        assert frozen_pid not in {p["pid"] for p in status["workers"]["processes"]}
        assert any('"event": "worker_killed"' in line and str(frozen_pid) in line for line in stuck.log_lines())
