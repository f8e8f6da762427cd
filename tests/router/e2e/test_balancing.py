"""One backend, several targets: round-robin spreads the traffic, and active health checks take a target
that stops answering out of the rotation (and put it back when it returns)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.router.e2e.conftest import Router, Upstream
from tests.router.e2e.helpers import routes_file, wait_for
from tests.support.servers import running_router, running_upstream

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Upstream, Upstream]]:
    base = tmp_path_factory.mktemp("pair")
    with running_upstream(base, "blue") as (blue_url, blue), running_upstream(base, "green") as (green_url, green):
        yield Upstream("blue", blue_url, blue), Upstream("green", green_url, green)


@pytest.fixture(scope="module")
def pool_router(tmp_path_factory: pytest.TempPathFactory, pair: tuple[Upstream, Upstream]) -> Iterator[Router]:
    blue, green = pair
    # Passive health is turned off (a huge circuit threshold) so that only the active checks can take a
    # target out; "sick" checks a path that always fails.
    config = routes_file(f"""\
        default: pool
        backends:
          pool:
            targets: ["{blue.url}", "{green.url}"]
            health: {{path: /healthz, interval: 0.2}}
            circuit: {{failures: 10000}}
          busy:
            targets: ["{blue.url}", "{green.url}"]
            balance: least_busy
            health: {{interval: 0}}
          sick:
            targets: ["{blue.url}"]
            health: {{path: "/healthz?fail=1", interval: 0.2}}
            circuit: {{failures: 10000}}
        routes:
          sick: {{path: /echo/sick/, backend: sick}}
          busy-slow: {{path: /slow/, backend: busy}}
          busy-echo: {{path: /echo/busy/, backend: busy}}
        """)
    with running_router(tmp_path_factory.mktemp("pool-router"), config) as (url, process, _path):
        yield Router(url, process)


def _served_by(client: httpx.Client, n: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(n):
        response = client.get("/echo/rr")
        assert response.status_code == 200, response.text
        counts[response.headers["x-upstream"]] += 1
    return counts


def test_round_robin_then_health_checks_take_a_dead_target_out_and_back(pool_router: Router,
                                                                        pair: tuple[Upstream, Upstream]) -> None:
    blue, green = pair
    with httpx.Client(base_url=pool_router.url, timeout=5) as client:
        counts = _served_by(client, 40)
        assert set(counts) == {"blue", "green"}
        assert abs(counts["blue"] - counts["green"]) <= 2, counts

        green.process.stop()
        time.sleep(1.0)  # a few check intervals (0.2 s)
        assert _served_by(client, 30) == Counter(blue=30)

        green.process.start()
        green.process.wait_healthy(f"{green.url}/healthz")
        wait_for(lambda: client.get("/echo/rr").headers["x-upstream"] == "green", timeout=3)
        counts = _served_by(client, 20)
        assert abs(counts["blue"] - counts["green"]) <= 2, counts


def test_concurrent_traffic_is_spread_evenly(pool_router: Router, pair: tuple[Upstream, Upstream]) -> None:
    for upstream in pair:
        if not upstream.process.running:  # an earlier test failed half-way
            upstream.process.start()
            upstream.process.wait_healthy(f"{upstream.url}/healthz")
    time.sleep(0.5)

    with httpx.Client(base_url=pool_router.url, timeout=5, limits=httpx.Limits(max_connections=10)) as client:

        def one(_: int) -> str:
            return client.get("/echo/concurrent").headers["x-upstream"]

        with ThreadPoolExecutor(max_workers=10) as pool:
            counts = Counter(pool.map(one, range(100)))
    assert set(counts) == {"blue", "green"}
    assert abs(counts["blue"] - counts["green"]) <= 10, counts


def test_a_backend_whose_only_target_fails_its_checks_is_not_tried(pool_router: Router,
                                                                   pair: tuple[Upstream, Upstream]) -> None:
    time.sleep(0.6)  # the first checks have run
    response = httpx.get(f"{pool_router.url}/echo/sick/x", timeout=5)
    assert response.status_code == 503
    body = response.json()
    assert (body["code"], body["route"], body["backend"]) == ("circuit_open", "sick", "sick")


def test_least_busy_sends_new_requests_away_from_a_target_with_work_in_flight(pool_router: Router) -> None:
    # Both routes use the least_busy backend. The slow request ties (both targets idle) and takes one
    # target for 2 s; meanwhile every other request must go to the other target.
    with httpx.Client(base_url=pool_router.url, timeout=10) as client, ThreadPoolExecutor(1) as pool:
        slow = pool.submit(client.get, "/slow/2")
        time.sleep(0.3)
        during = Counter(client.get("/echo/busy/x").headers["x-upstream"] for _ in range(10))
        held = slow.result().headers["x-upstream"]
    assert len(during) == 1 and held not in during, (held, during)
    assert sum(during.values()) == 10
