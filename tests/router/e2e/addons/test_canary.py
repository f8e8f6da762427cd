"""The canary (router/addons/canary.py) in a real router process: nobody at 0%, everybody at 100%, about
the share asked for in between, sticky per session, and whoever was in stays in when the share grows."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator

import aiohttp
import httpx
import pytest

from tests.router.e2e.features import (
    COOKIES,
    Running,
    admin,
    fan_out,
    router_for,
    routes_file,
    sides,
    two_backends,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def canary_router(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Running]:
    """Four canary routes to "catalog" (0, 100, 30 and 10 percent) and a WebSocket route at 0 percent; the rest
    goes to "monolith"."""
    with router_for(tmp_path_factory, "canary-router", routes_file(
        "default: monolith\nbackends:\n" + two_backends(upstreams) + textwrap.dedent("""\
        routes:
          c0: {path: /echo/c0/, backend: catalog, canary: 0}
          c100: {path: /echo/c100/, backend: catalog, canary: 100}
          c30: {path: /echo/c30/, backend: catalog, canary: 30}
          c10: {path: /echo/c10/, backend: catalog, canary: 10}
          ws0: {path: /ws, match: exact, backend: catalog, canary: 0}
        """))) as running:
        yield running


def test_canary_at_0_percent_nobody_and_at_100_percent_everybody(canary_router: Running) -> None:
    assert set(sides(canary_router.url, "/echo/c0/products/", COOKIES[:300]).values()) == {"monolith"}
    assert set(sides(canary_router.url, "/echo/c100/products/", COOKIES[:300]).values()) == {"catalog"}
    # No cookie at all: sticky by client address, same rule.
    assert httpx.get(f"{canary_router.url}/echo/c0/x").headers["x-upstream"] == "monolith"
    assert httpx.get(f"{canary_router.url}/echo/c100/x").headers["x-upstream"] == "catalog"


def test_canary_at_30_percent_takes_about_30_percent_and_sticks(canary_router: Running) -> None:
    first = sides(canary_router.url, "/echo/c30/products/", COOKIES)
    moved = [cookie for cookie, backend in first.items() if backend == "catalog"]
    share = len(moved) / len(COOKIES)
    assert 0.26 <= share <= 0.34, f"{share:.1%} of 2,000 sessions went to the canary at 30%"

    # Sticky: the same cookie lands on the same side on every request, whatever the path under the route.
    chosen = moved[:10] + [cookie for cookie, backend in first.items() if backend == "monolith"][:10]
    requests = [(f"/echo/c30/products/{n}?page={n % 3}", {"Cookie": f"sessionid={cookie}"})
                for cookie in chosen for n in range(20)]
    responses = fan_out(canary_router.url, requests)
    for (_path, headers), response in zip(requests, responses, strict=True):
        assert response.status_code == 200
        cookie = headers["Cookie"].removeprefix("sessionid=")
        assert response.headers["x-upstream"] == first[cookie], f"session {cookie} changed sides"

    # Without a cookie the client address is the key: one client, one side.
    anonymous = fan_out(canary_router.url, [("/echo/c30/x", {})] * 20)
    assert len({r.headers["x-upstream"] for r in anonymous}) == 1


def test_raising_the_canary_keeps_everyone_who_was_in_it(canary_router: Running) -> None:
    cookies = COOKIES[:1000]
    at_10 = {c for c, backend in sides(canary_router.url, "/echo/c10/x", cookies).items() if backend == "catalog"}
    assert 60 <= len(at_10) <= 140
    patched = admin(canary_router, "PATCH", "/routes/c10", body={"canary": 50})
    assert patched.status_code == 200, patched.text
    assert patched.json()["routes"]["c10"]["canary"] == 50
    try:
        at_50 = {c for c, backend in sides(canary_router.url, "/echo/c10/x", cookies).items()
                 if backend == "catalog"}
        assert 430 <= len(at_50) <= 570
        assert at_10 <= at_50, f"{len(at_10 - at_50)} sessions left the canary when it grew from 10% to 50%"
    finally:
        assert admin(canary_router, "PATCH", "/routes/c10", body={"canary": 10}).status_code == 200


def test_a_websocket_upgrade_follows_the_canary(canary_router: Running) -> None:
    """An upgrade goes through the addons as a plain request does: at 0% nobody is moved, so the upgrade
    reaches the default backend, not the route's (each fake backend's echo names itself)."""
    async def talk(cookie: str) -> str:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{canary_router.url}/ws", timeout=aiohttp.ClientWSTimeout(ws_close=5),
                                          headers={"Cookie": f"sessionid={cookie}"}) as ws:
                await ws.send_str("hi")
                return await asyncio.wait_for(ws.receive_str(), 5)

    for cookie in COOKIES[:5]:
        assert asyncio.run(asyncio.wait_for(talk(cookie), 10)) == "monolith:hi"
