"""The forwarding core driven in-process through its transport interface (no sockets): what the router
decides when a backend fails, independent of any HTTP client library."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from router.config import parse
from router.exceptions import UpstreamConnectError
from router.proxy.app import RouterApp
from router.upstream.interface import Headers, UpstreamRequest, UpstreamResponse

ROUTES = """
default: monolith
backends:
  monolith: {targets: http://monolith.test, health: {interval: 0}}
  catalog:
    targets: http://catalog.test
    health: {interval: 0}
    circuit: {failures: 1, reset_after: 7.5}
routes:
  catalog: {path: /api/catalog/, backend: catalog}
  catalog-fb: {path: /api/fb/, backend: catalog, fallback: monolith}
"""


class _Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.headers, self._body = status, [(b"content-type", b"text/plain")], body

    async def iter_body(self) -> AsyncIterator[bytes]:
        yield self._body

    def close(self) -> None:
        return None


class FakeUpstream:
    """Answers for monolith.test; refuses connections to catalog.test."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def handle_request(self, request: UpstreamRequest) -> UpstreamResponse:
        self.seen.append((request.method, request.url))
        if request.url.startswith("http://catalog.test"):
            raise UpstreamConnectError("cannot connect: refused")
        return _Response(200, b"monolith")

    async def aclose(self) -> None:
        return None


def call(app: RouterApp, method: str, path: str, headers: Headers | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://router.test") as client:
            return await client.request(method, path)

    return asyncio.run(run())


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream()


@pytest.fixture
def app(upstream: FakeUpstream) -> RouterApp:
    return RouterApp(parse(ROUTES), upstream=upstream, addons=[])


def test_a_refused_connection_is_a_502_naming_route_and_backend(app: RouterApp) -> None:
    response = call(app, "GET", "/api/catalog/products/")
    assert response.status_code == 502
    body = response.json()
    assert (body["code"], body["route"], body["backend"]) == ("connect_failed", "catalog", "catalog")
    assert "Traceback" not in response.text


def test_an_open_circuit_answers_503_with_retry_after_from_reset_after(app: RouterApp,
                                                                        upstream: FakeUpstream) -> None:
    assert call(app, "GET", "/api/catalog/a").status_code == 502  # failures: 1 opens the circuit
    tried = len(upstream.seen)
    response = call(app, "GET", "/api/catalog/b")
    assert response.status_code == 503
    assert response.json()["code"] == "circuit_open"
    assert response.headers["retry-after"] == "8"  # ceil(7.5)
    assert len(upstream.seen) == tried  # not even tried


def test_fallback_serves_idempotent_requests_and_never_replays_others(app: RouterApp,
                                                                      upstream: FakeUpstream) -> None:
    response = call(app, "GET", "/api/fb/x")
    assert (response.status_code, response.text) == (200, "monolith")
    upstream.seen.clear()
    response = call(app, "POST", "/api/fb/x")
    assert response.status_code in (502, 503)
    assert all(not url.startswith("http://monolith.test") for _, url in upstream.seen)
