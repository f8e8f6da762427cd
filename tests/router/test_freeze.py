"""The write freeze, in-process: set through the admin API as seconds, applied to writes only, self-lifting."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from router.admin import AdminApp
from router.app import RouterApp
from router.config import parse
from router.freeze import WriteFreeze
from router.metrics import Metrics
from tests.router.test_app import FakeUpstream

ROUTES = """
default: monolith
backends:
  monolith: {targets: http://monolith.test, health: {interval: 0}}
routes:
  moving: {path: /api/moving/, backend: monolith}
"""
TOKEN = "freeze-test-token"


def request(app, method: str, path: str, **kwargs) -> httpx.Response:  # noqa: ANN001
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(run())


@pytest.fixture
def router(monkeypatch: pytest.MonkeyPatch) -> tuple[RouterApp, AdminApp]:
    monkeypatch.setenv("ROUTER_ADMIN_TOKEN", TOKEN)
    app = RouterApp(parse(ROUTES), upstream=FakeUpstream(), addons=[])
    metrics = Metrics(app.health, app.tables)
    app.addons.extend([WriteFreeze(), metrics])
    return app, AdminApp(app.tables, metrics, token_env="ROUTER_ADMIN_TOKEN")


def freeze(admin: AdminApp, seconds: object) -> httpx.Response:
    return request(admin, "PATCH", "/routes/moving", json={"freeze": seconds},
                   headers={"Authorization": f"Bearer {TOKEN}"})


def test_a_frozen_route_refuses_writes_with_retry_after_and_keeps_reads(router) -> None:  # noqa: ANN001
    app, admin = router
    assert freeze(admin, 4).status_code == 200
    response = request(app, "POST", "/api/moving/x")
    assert response.status_code == 503
    assert response.json()["code"] == "write_freeze"
    assert 1 <= int(response.headers["retry-after"]) <= 4
    assert request(app, "GET", "/api/moving/x").status_code == 200
    assert request(app, "POST", "/elsewhere").status_code == 200  # other routes are not frozen
    # Frozen answers are the router's own, not the backend's errors.
    figures = admin.metrics.snapshot()["moving"]
    assert figures["rejected"] == 1 and figures["backends"]["monolith"]["errors"] == 0


def test_the_freeze_lifts_itself_and_can_be_lifted(router) -> None:  # noqa: ANN001
    app, admin = router
    assert freeze(admin, 0.3).status_code == 200
    assert request(app, "PUT", "/api/moving/x").status_code == 503
    time.sleep(0.35)
    assert request(app, "PUT", "/api/moving/x").status_code == 200
    assert freeze(admin, 60).status_code == 200
    assert freeze(admin, 0).status_code == 200
    assert request(app, "DELETE", "/api/moving/x").status_code == 200


@pytest.mark.parametrize("bad", [-1, 301, "ten", True])
def test_a_freeze_must_be_a_few_seconds(router, bad: object) -> None:  # noqa: ANN001
    app, admin = router
    response = freeze(admin, bad)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("routes.moving.freeze:")
    assert request(app, "POST", "/api/moving/x").status_code == 200
