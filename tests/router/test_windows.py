"""Counting windows, in-process: a window counts only requests that started after it opened, and only the
shadow outcomes of such requests (even when the comparison ends later); windows never reset each other;
``POST /counters/reset`` resets the shadow figures /counters shows too; /parity?window=N lists only that
window's differences; unknown windows are 404 and old or idle ones are dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from router.control.windows import IDLE_SECONDS, MAX_WINDOWS
from router.upstream.interface import UpstreamRequest
from tests.router.inprocess import TOKEN, TOKEN_ENV, FakeBackends, Running, routes, running

ROUTES = routes("""\
  products: {path: /api/products/, backend: monolith, shadow: {backend: catalog, rate: 100000}}
  writes: {path: /api/writes/, backend: monolith}
""")


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def wrong_price(request: UpstreamRequest) -> dict[str, Any]:
    return {"id": request.url.rsplit("/", 2)[-2], "price": "11.00"}


def price(request: UpstreamRequest) -> dict[str, Any]:
    return {"id": request.url.rsplit("/", 2)[-2], "price": "10.00"}


def scenario(test: Callable[[Running], Awaitable[None]], *, catalog_right: bool = True) -> None:
    backends = FakeBackends(answers={"monolith": price, "catalog": price if catalog_right else wrong_price})

    async def run() -> None:
        async with running(ROUTES, backends) as router:
            await test(router)

    asyncio.run(run())


async def shop(router: Running, count: int, path: str = "/api/products/{n}/") -> None:
    for n in range(count):
        method = "POST" if path.startswith("/api/writes") else "GET"
        assert (await router.public.request(method, path.format(n=n))).status_code == 200
    await router.router.shadow.drain()


async def open_window(router: Running) -> int:
    response = await router.admin("POST", "/windows")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"window", "opened_at"}
    number: int = body["window"]
    return number


async def counters(router: Running, window: int | None = None) -> dict[str, Any]:
    response = await router.admin("GET", "/counters", params={"window": window} if window is not None else None)
    assert response.status_code == 200, response.text
    figures: dict[str, Any] = response.json()["routes"]
    return figures


def test_a_window_counts_only_requests_that_started_after_it_opened() -> None:
    async def test(router: Running) -> None:
        await shop(router, 3, "/api/writes/{n}")
        first = await open_window(router)
        await shop(router, 2, "/api/writes/{n}")
        second = await open_window(router)
        assert second > first
        await shop(router, 4, "/api/writes/{n}")
        assert (await counters(router))["writes"]["requests"] == 9
        assert (await counters(router, first))["writes"]["requests"] == 6
        assert (await counters(router, second))["writes"]["backends"]["monolith"]["requests"] == 4
        whole = (await router.admin("GET", "/counters", params={"window": second})).json()
        assert (whole["window"], set(whole)) == (second, {"table_version", "window", "opened_at", "routes"})
        # Windows never reset each other, and a reset of the base window resets no numbered one.
        assert (await router.admin("POST", "/counters/reset")).status_code == 200
        await shop(router, 1, "/api/writes/{n}")
        assert (await counters(router))["writes"]["requests"] == 1
        assert (await counters(router, first))["writes"]["requests"] == 7
        assert (await counters(router, second))["writes"]["requests"] == 5

    scenario(test)


def test_a_request_in_flight_when_a_window_opens_is_not_the_windows() -> None:
    async def test(router: Running) -> None:
        router.backends.hold["monolith"] = gate = asyncio.Event()
        slow = asyncio.create_task(router.public.post("/api/writes/1"))
        await asyncio.sleep(0.05)
        window = await open_window(router)
        gate.set()
        assert (await slow).status_code == 200
        assert "writes" not in await counters(router, window)
        assert (await counters(router))["writes"]["requests"] == 1

    scenario(test)


def test_a_window_has_only_the_shadow_outcomes_of_its_own_requests() -> None:
    async def test(router: Running) -> None:
        await shop(router, 5)
        # A mirrored request answered before the window, its comparison finishing after it opened.
        router.backends.hold["catalog"] = gate = asyncio.Event()
        assert (await router.public.get("/api/products/99/")).status_code == 200
        await asyncio.sleep(0.05)
        window = await open_window(router)
        gate.set()
        await router.router.shadow.drain()
        assert "products" not in await counters(router, window)
        await shop(router, 3)
        mine = (await counters(router, window))["products"]["shadow"]
        assert (mine["queued"], mine["compared"], mine["equal"], mine["different"]) == (3, 3, 3, 0)
        base = (await counters(router))["products"]["shadow"]
        assert (base["queued"], base["compared"]) == (9, 9)
        parity = (await router.admin("GET", "/parity", params={"window": window})).json()
        assert parity["window"] == window
        assert (parity["routes"]["products"]["compared"], parity["routes"]["products"]["rate"]) == (3, 1.0)

    scenario(test)


def test_counters_reset_resets_the_shadow_figures_too() -> None:
    async def test(router: Running) -> None:
        await shop(router, 4)
        assert (await counters(router))["products"]["shadow"]["compared"] == 4
        assert (await router.admin("POST", "/counters/reset")).status_code == 200
        assert "products" not in await counters(router)  # nothing since the reset, shadow included
        await shop(router, 2)
        assert (await counters(router))["products"]["shadow"]["compared"] == 2
        # /parity without a window (and Prometheus) keep counting from the start.
        assert (await router.admin("GET", "/parity")).json()["routes"]["products"]["compared"] == 6

    scenario(test, catalog_right=True)


def test_parity_of_a_window_lists_only_that_windows_differences() -> None:
    async def test(router: Running) -> None:
        await shop(router, 3)
        window = await open_window(router)
        assert (await router.admin("GET", "/parity", params={"window": window})).json()["latest"] == []
        assert len((await router.admin("GET", "/parity")).json()["latest"]) == 3
        assert (await router.public.get("/api/products/7/")).status_code == 200
        await router.router.shadow.drain()
        parity = (await router.admin("GET", "/parity", params={"window": window, "route": "products"})).json()
        assert [row["target"] for row in parity["latest"]] == ["/api/products/7/"]
        assert parity["latest"][0]["differences"][0]["path"] == "$.price"
        assert parity["routes"]["products"]["different"] == 1

    scenario(test, catalog_right=False)


def test_unknown_closed_dropped_and_idle_windows_are_404() -> None:
    async def test(router: Running) -> None:
        gone = "no window {} (the router restarted or it expired)"
        response = await router.admin("GET", "/counters", params={"window": 12345})
        assert (response.status_code, response.json()) == (404, {"detail": gone.format(12345)})
        assert (await router.admin("GET", "/parity", params={"window": 12345})).status_code == 404
        window = await open_window(router)
        assert (await router.admin("DELETE", f"/windows/{window}")).status_code == 200
        assert (await router.admin("GET", "/counters", params={"window": window})).json() == {
            "detail": gone.format(window)}
        assert (await router.admin("DELETE", f"/windows/{window}")).status_code == 404
        numbers = [await open_window(router) for _ in range(MAX_WINDOWS + 1)]
        assert (await router.admin("GET", "/counters", params={"window": numbers[0]})).status_code == 404
        assert (await router.admin("GET", "/counters", params={"window": numbers[1]})).status_code == 200
        router.router.windows.numbered[numbers[2]].used -= IDLE_SECONDS + 1
        assert (await router.admin("GET", "/counters", params={"window": numbers[2]})).status_code == 404
        assert (await router.admin("GET", "/counters", params={"window": numbers[3]})).status_code == 200

    scenario(test)


@pytest.mark.parametrize("window", ["abc", "-1", "1.5", ""])
def test_a_window_that_is_not_a_number_is_400(window: str) -> None:
    async def test(router: Running) -> None:
        response = await router.admin("GET", "/counters", params={"window": window})
        if window == "":  # an empty parameter is no parameter
            assert response.status_code == 200
            return
        assert response.status_code == 400
        assert response.json()["detail"] == f"window: {window!r} is not a window number (from POST /windows)"

    scenario(test)


def test_without_windows_a_request_is_counted_once() -> None:
    async def test(router: Running) -> None:
        assert router.router.windows.counting == (router.router.windows.base,)
        window = await open_window(router)
        assert len(router.router.windows.counting) == 2
        assert (await router.admin("DELETE", f"/windows/{window}")).status_code == 200
        assert router.router.windows.counting == (router.router.windows.base,)

    scenario(test)
