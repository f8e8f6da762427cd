"""The admin API (router/admin/api.py) of a real router process: its bearer token, never on the public port,
the table and its versions, refused changes, a change and its rollback, a refused reload, and a route moved
under load without a failed request."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import aiohttp
import httpx
import pytest

from tests.router.e2e.features import (
    ADMIN_TOKEN,
    Running,
    admin,
    router_for,
    routes_file,
    two_backends,
)

pytestmark = pytest.mark.slow


ADMIN_ROUTES = """\
routes:
  moving: {path: /echo/moving/, backend: catalog}
  other: {path: /echo/other/, backend: catalog, canary: 10}
"""


@pytest.fixture(scope="module")
def admin_router(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Running]:
    with router_for(tmp_path_factory, "admin-router", routes_file(
            "default: monolith\nbackends:\n" + two_backends(upstreams) + ADMIN_ROUTES)) as running:
        yield running


def served_by(router: Running, path: str = "/echo/moving/x") -> str:
    response = httpx.get(router.url + path)
    assert response.status_code == 200
    return response.headers["x-upstream"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/table"), ("GET", "/versions"), ("GET", "/counters"),
                                              ("POST", "/counters/reset"), ("PATCH", "/routes/moving"),
                                              ("POST", "/rollback"), ("POST", "/reload")])
def test_admin_api_needs_the_bearer_token(admin_router: Running, method: str, path: str) -> None:
    version = admin(admin_router, "GET", "/table").json()["version"]
    attempts: list[tuple[str | None, str]] = [(None, "Bearer"), ("wrong-" + ADMIN_TOKEN, "Bearer"),
                                               (ADMIN_TOKEN, "Basic"), (ADMIN_TOKEN[:-1], "Bearer")]
    for token, scheme in attempts:
        response = admin(admin_router, method, path, body={"backend": "monolith"}, token=token, scheme=scheme)
        assert response.status_code == 401, (token, scheme)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert admin(admin_router, "GET", "/table").json()["version"] == version
    assert served_by(admin_router) == "catalog"
    assert admin(admin_router, "GET", "/healthz", token=None).status_code == 200


@pytest.mark.parametrize(("method", "path"), [("GET", "/table"), ("GET", "/versions"), ("GET", "/metrics"),
                                              ("GET", "/counters"), ("GET", "/healthz"),
                                              ("PATCH", "/routes/moving"), ("POST", "/rollback")])
def test_admin_api_is_not_reachable_through_the_public_port(admin_router: Running, method: str, path: str) -> None:
    version = admin(admin_router, "GET", "/table").json()["version"]
    response = httpx.request(method, admin_router.url + path, json={"backend": "monolith"},
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.headers["x-upstream"] == "monolith"  # the default backend answered, not the admin API
    if path == "/healthz":  # the monolith has one of its own
        assert (response.status_code, response.json()) == (200, {"status": "ok", "name": "monolith"})
    else:
        assert response.status_code == 404
    assert admin(admin_router, "GET", "/table").json()["version"] == version
    # Nor does the admin port forward anything.
    assert admin(admin_router, "GET", "/echo/moving/x").status_code == 404
    assert "x-upstream" not in admin(admin_router, "GET", "/echo/moving/x").headers


def test_table_and_versions(admin_router: Running, upstreams: dict[str, str]) -> None:
    table = admin(admin_router, "GET", "/table")
    assert table.status_code == 200
    body = table.json()
    assert body["default"] == "monolith"
    assert body["backends"]["catalog"]["targets"] == [upstreams["catalog"]]
    assert body["routes"]["other"] == {"path": "/echo/other/", "match": "prefix", "methods": None,
                                       "backend": "catalog", "canary": 10, "fallback": None, "shadow": None}
    versions = admin(admin_router, "GET", "/versions").json()
    assert versions[-1]["version"] == body["version"]
    assert versions[-1]["table_version"] == body["table_version"]
    assert [v["version"] for v in versions] == list(range(versions[0]["version"], body["version"] + 1))
    if versions[0]["version"] == 1:
        assert versions[0]["origin"] == "start"


def test_an_invalid_change_is_refused_and_the_table_kept(admin_router: Running) -> None:
    before = admin(admin_router, "GET", "/table").json()
    response = admin(admin_router, "PATCH", "/routes/other", body={"canary": 140})
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert any("routes.other.canary" in p and "140" in p for p in problems), problems
    unknown_backend = admin(admin_router, "PATCH", "/routes/moving", body={"backend": "nowhere"})
    assert unknown_backend.status_code == 400
    assert any("routes.moving.backend" in p and "nowhere" in p for p in unknown_backend.json()["problems"])
    for body, content in (({"path": "/elsewhere/"}, None), ({"backend": "monolith", "methods": ["GET"]}, None),
                          (None, b"{not json"), (["backend", "monolith"], None), ({}, None)):
        refused = admin(admin_router, "PATCH", "/routes/moving", body=body, content=content)
        assert refused.status_code == 400, (body, content)
    missing = admin(admin_router, "PATCH", "/routes/nope", body={"backend": "monolith"})
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]
    assert admin(admin_router, "GET", "/table").json() == before
    assert served_by(admin_router) == "catalog"


def test_a_change_moves_traffic_and_rollback_undoes_it(admin_router: Running) -> None:
    version = admin(admin_router, "GET", "/table").json()["version"]
    assert served_by(admin_router) == "catalog"
    patched = admin(admin_router, "PATCH", "/routes/moving", body={"backend": "monolith"})
    assert patched.status_code == 200
    assert (patched.json()["version"], patched.json()["routes"]["moving"]["backend"]) == (version + 1, "monolith")
    assert [served_by(admin_router) for _ in range(5)] == ["monolith"] * 5
    assert served_by(admin_router, "/echo/other/x") in ("monolith", "catalog")  # other routes unaffected
    assert "routes.moving" in admin(admin_router, "GET", "/versions").json()[-1]["origin"]

    rolled = admin(admin_router, "POST", "/rollback")
    assert rolled.status_code == 200
    assert (rolled.json()["version"], rolled.json()["routes"]["moving"]["backend"]) == (version + 2, "catalog")
    assert rolled.json()["origin"].startswith("rollback")
    assert [served_by(admin_router) for _ in range(5)] == ["catalog"] * 5


def test_reload_of_a_broken_file_is_refused_and_the_table_keeps_serving(admin_router: Running) -> None:
    original = admin_router.config.read_text()
    before = admin(admin_router, "GET", "/table").json()
    admin_router.config.write_text(original.replace("canary: 10}", "canary: 140}"))
    try:
        response = admin(admin_router, "POST", "/reload")
        assert response.status_code == 400
        problems = response.json()["problems"]
        assert any(str(admin_router.config) in p and "routes.other.canary" in p for p in problems), problems
        time.sleep(1.2)  # the file watcher sees the change too, and refuses it as well
        assert admin(admin_router, "GET", "/table").json() == before
        assert served_by(admin_router) == "catalog"
    finally:
        admin_router.config.write_text(original)
    reloaded = admin(admin_router, "POST", "/reload")
    assert reloaded.status_code == 200
    assert reloaded.json()["table_version"] == before["table_version"]


def test_a_route_moved_under_load_fails_no_request(admin_router: Running) -> None:
    # Earlier tests rewrote the routes file: settle on it now, so no reload lands in the middle of this one.
    assert admin(admin_router, "POST", "/reload").status_code == 200
    assert admin(admin_router, "PATCH", "/routes/moving", body={"backend": "catalog"}).status_code == 200
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def run() -> tuple[list[tuple[float, float, str]], list[tuple[float, float, str]]]:
        results: list[tuple[float, float, str]] = []
        marks: list[tuple[float, float, str]] = []
        stop = asyncio.Event()
        # 50 clients, each on its own keep-alive connection, sending one request after another.
        async with aiohttp.ClientSession(admin_router.url, connector=aiohttp.TCPConnector(limit=50),
                                         timeout=aiohttp.ClientTimeout(total=10)) as clients, \
                httpx.AsyncClient(base_url=admin_router.admin_url, headers=auth, timeout=10) as control:
            async def user(n: int) -> None:
                i = 0
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        async with clients.get(f"/echo/moving/u{n}/{i}") as response:
                            body = await response.read()
                            outcome = response.headers.get("x-upstream", "")
                            if response.status != 200 or json.loads(body)["name"] != outcome:
                                outcome = f"status {response.status}: {body[:200]!r}"
                    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                        outcome = f"error {type(exc).__name__}: {exc}"
                    results.append((started, time.monotonic(), outcome))
                    i += 1

            users = [asyncio.create_task(user(n)) for n in range(50)]
            await asyncio.sleep(0.8)
            for backend in ("monolith", "catalog", "monolith", "catalog"):
                sent = time.monotonic()
                response = await control.patch("/routes/moving", json={"backend": backend})
                assert response.status_code == 200, response.text
                marks.append((sent, time.monotonic(), backend))
                await asyncio.sleep(0.6)
            stop.set()
            await asyncio.gather(*users)
        return results, marks

    results, marks = asyncio.run(run())
    failures = [outcome for _, _, outcome in results if outcome not in ("monolith", "catalog")]
    assert failures == [], f"{len(failures)} of {len(results)} failed, e.g. {failures[:3]}"
    assert len(results) >= 500
    # Whatever ran wholly before the first change went to catalog; whatever ran wholly between one change's
    # answer and the next change went where that change said.
    windows = [(float("-inf"), marks[0][0], "catalog")]
    windows += [(mark[1], following[0], mark[2]) for mark, following in zip(marks, marks[1:], strict=False)]
    windows.append((marks[-1][1], float("inf"), marks[-1][2]))
    for start, end, backend in windows:
        inside = [outcome for began, ended, outcome in results if began > start and ended < end]
        assert len(inside) >= 20, f"too few requests between changes ({len(inside)})"
        assert set(inside) == {backend}
