"""The write freeze, in-process: a lease freezes its routes' writes (503 write_freeze, Retry-After from the
lease's time left), reads and other routes flow, fenced-only routes are not frozen, and the freeze lifts on
release and on expiry. The timer freeze of old (PATCH {"freeze": SECONDS}) is refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.router.inprocess import TOKEN, TOKEN_ENV, Running, routes, running

ROUTES = routes("""\
  moving: {path: /api/moving/, backend: monolith}
  reads: {path: /api/reads/, backend: monolith}
  checkout: {path: /checkout/, backend: monolith}
""")


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def scenario(test: Callable[[Running], Awaitable[None]]) -> None:
    async def run() -> None:
        async with running(ROUTES) as router:
            await test(router)

    asyncio.run(run())


async def acquire(router: Running, **body: Any) -> dict[str, Any]:
    response = await router.admin("POST", "/leases", body={"holder": "test", "seconds": 4, **body})
    assert response.status_code == 201, response.text
    lease: dict[str, Any] = response.json()
    return lease


def test_a_leased_route_refuses_writes_with_retry_after_and_keeps_reads() -> None:
    async def test(router: Running) -> None:
        await acquire(router, freeze=["moving"], seconds=4)
        response = await router.public.post("/api/moving/x")
        assert response.status_code == 503
        assert (response.json()["code"], response.json()["route"]) == ("write_freeze", "moving")
        assert 1 <= int(response.headers["retry-after"]) <= 4
        for method in ("PUT", "PATCH", "DELETE"):
            assert (await router.public.request(method, "/api/moving/x")).status_code == 503
        assert (await router.public.get("/api/moving/x")).status_code == 200
        assert (await router.public.post("/elsewhere")).status_code == 200  # other routes are not frozen
        assert router.backends.served("monolith", "POST") == 1
        # Frozen answers are the router's own, not the backend's errors, and never "in flight".
        figures = router.router.metrics.snapshot()["moving"]
        assert figures["rejected"] == 4 and figures["backends"]["monolith"]["errors"] == 0
        assert "in_flight" not in figures

    scenario(test)


def test_retry_after_is_the_time_the_lease_has_left_at_least_one_second() -> None:
    async def test(router: Running) -> None:
        lease = await acquire(router, freeze=["moving"], seconds=0.3)
        response = await router.public.post("/api/moving/x")
        assert response.headers["retry-after"] == "1"
        assert (await router.admin("POST", f"/leases/{lease['lease']}/renew", body={"seconds": 37.5})).status_code \
            == 200
        response = await router.public.post("/api/moving/x")
        assert response.headers["retry-after"] in ("38", "37")

    scenario(test)


def test_fenced_routes_are_not_frozen() -> None:
    async def test(router: Running) -> None:
        await acquire(router, freeze=["moving"], fence=["reads", "checkout"])
        assert (await router.public.post("/checkout/x")).status_code == 200
        assert (await router.public.post("/api/moving/x")).status_code == 503

    scenario(test)


def test_the_freeze_lifts_on_release_without_on_expiry() -> None:
    async def test(router: Running) -> None:
        lease = await acquire(router, freeze=["moving"], on_expiry={"moving": {"backend": "catalog"}})
        assert (await router.public.post("/api/moving/x")).status_code == 503
        released = await router.admin("DELETE", f"/leases/{lease['lease']}")
        assert released.status_code == 200
        response = await router.public.post("/api/moving/x")
        assert (response.status_code, response.headers["x-upstream"]) == (200, "monolith")  # on_expiry unused

    scenario(test)


def test_the_freeze_lifts_by_itself_when_the_lease_expires_and_on_expiry_applies_first() -> None:
    async def test(router: Running) -> None:
        version = router.router.app.tables.version.number
        await acquire(router, freeze=["moving"], seconds=0.2, on_expiry={"moving": {"backend": "catalog"}})
        assert (await router.public.put("/api/moving/x")).status_code == 503
        await asyncio.sleep(0.35)  # the expiry timer has fired: no request needed to notice
        assert router.router.leases.live == {}
        assert router.router.app.tables.version.number == version + 1
        assert router.router.app.tables.version.origin.startswith("lease ")
        response = await router.public.put("/api/moving/x")
        assert (response.status_code, response.headers["x-upstream"]) == (200, "catalog")
        assert router.backends.served("monolith", "PUT") == 0  # no write ever reached the old side

    scenario(test)


def test_a_write_meeting_a_lapsed_lease_expires_it_gets_503_and_the_next_write_is_switched() -> None:
    async def test(router: Running) -> None:
        await router.router.leases.stop()  # no expiry timer: only the arriving write can notice
        await acquire(router, freeze=["moving"], seconds=0.1, on_expiry={"moving": {"backend": "catalog"}})
        await asyncio.sleep(0.15)
        assert router.router.leases.live  # past its deadline, not yet expired
        first = await router.public.post("/api/moving/x")
        assert (first.status_code, first.json()["code"], first.headers["retry-after"]) == (503, "write_freeze", "1")
        assert router.router.leases.live == {}  # expired right there, on_expiry applied
        assert await router.backend_of("moving") == "catalog"
        second = await router.public.post("/api/moving/x")
        assert (second.status_code, second.headers["x-upstream"]) == (200, "catalog")
        assert router.backends.served("monolith", "POST") == 0

    scenario(test)


def test_an_on_expiry_that_no_longer_applies_keeps_the_freeze_until_released() -> None:
    async def test(router: Running) -> None:
        tables = router.router.app.tables
        lease = await acquire(router, freeze=["moving"], seconds=0.1, on_expiry={"moving": {"backend": "catalog"}})
        # The table changes under the lease (a reload, say) so that the change cannot be made any more.
        raw = {**tables.current.raw, "backends": {"monolith": tables.current.raw["backends"]["monolith"]}}
        from router.config import parse_data

        tables.swap(parse_data(raw, source="test"), origin="test")
        await asyncio.sleep(0.3)
        assert (await router.public.post("/api/moving/x")).status_code == 503  # refused, never lost
        shown = (await router.admin("GET", f"/leases/{lease['lease']}")).json()
        assert "'catalog' is not a backend" in " ".join(shown["expiry_failed"])
        renewed = await router.admin("POST", f"/leases/{lease['lease']}/renew", body={"seconds": 5})
        assert renewed.status_code == 409 and "could not be applied" in renewed.json()["detail"]
        assert (await router.admin("DELETE", f"/leases/{lease['lease']}")).status_code == 200
        assert (await router.public.post("/api/moving/x")).status_code == 200

    scenario(test)


@pytest.mark.parametrize("freeze", [4, 0, None])
def test_the_timer_freeze_is_gone(freeze: object) -> None:
    async def test(router: Running) -> None:
        before = router.router.app.tables.version.number
        response = await router.admin("PATCH", "/routes/moving", body={"freeze": freeze})
        assert response.status_code == 400
        assert response.json()["detail"].startswith("body.freeze: a route's writes are no longer frozen by a "
                                                    "PATCH; take a lease (POST /leases")
        assert router.router.app.tables.version.number == before
        assert (await router.public.post("/api/moving/x")).status_code == 200

    scenario(test)


def test_no_lease_costs_writes_nothing() -> None:
    async def test(router: Running) -> None:
        started = time.perf_counter()
        for _ in range(200):
            assert (await router.public.post("/api/moving/x")).status_code == 200
        assert time.perf_counter() - started < 10
        assert router.router.leases.frozen == {}

    scenario(test)
