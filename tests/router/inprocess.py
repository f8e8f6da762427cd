"""The whole router assembled as ``python -m router serve`` assembles it (``router.server.assembly.Router``: freeze,
leases, metrics, windows, shadow, admin API), driven in-process over ASGI with fake backends: one event loop
per test (``asyncio.run(scenario(...))``), so the shadow's workers and held requests live in it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from router.config import parse
from router.server.assembly import Router
from router.upstream.interface import UpstreamRequest, UpstreamResponse

TOKEN_ENV = "INPROCESS_ROUTER_ADMIN_TOKEN"
TOKEN = "in-process-admin-token"


class _Response:
    def __init__(self, status: int, body: bytes, name: str) -> None:
        self.status = status
        self.headers = [(b"content-type", b"application/json"), (b"x-upstream", name.encode())]
        self._body = body

    async def iter_body(self) -> AsyncIterator[bytes]:
        yield self._body

    def close(self) -> None:
        return None


Answer = Callable[[UpstreamRequest], Any]  # -> a JSON-able body (status 200)


@dataclass
class FakeBackends:
    """Backends named by host (``http://monolith.test`` is "monolith"): each answers ``{"name": ...}`` or what
    ``answers[name]`` returns; ``hold`` makes a backend wait for an event first (a request kept in flight)."""

    answers: dict[str, Answer] = field(default_factory=dict)
    hold: dict[str, asyncio.Event] = field(default_factory=dict)
    seen: list[tuple[str, str, str]] = field(default_factory=list)  # (backend, method, path)

    async def handle_request(self, request: UpstreamRequest) -> UpstreamResponse:
        parts = urlsplit(request.url)
        name = (parts.hostname or "").removesuffix(".test")
        self.seen.append((name, request.method, parts.path))
        if request.body is not None and not isinstance(request.body, bytes):
            async for _ in request.body:
                pass
        if name in self.hold:
            await self.hold[name].wait()
        answer = self.answers.get(name)
        body = answer(request) if answer is not None else {"name": name}
        return _Response(200, json.dumps(body).encode(), name)

    async def aclose(self) -> None:
        return None

    def served(self, name: str, method: str | None = None) -> int:
        return sum(1 for backend, m, _ in self.seen if backend == name and (method is None or m == method))


@dataclass
class Running:
    router: Router
    backends: FakeBackends
    public: httpx.AsyncClient
    admin_client: httpx.AsyncClient

    async def admin(self, method: str, path: str, *, body: Any = None, content: bytes | None = None,
                    lease: str | None = None, params: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if lease is not None:
            headers["X-Router-Lease"] = lease
        return await self.admin_client.request(method, path, json=body, content=content, headers=headers,
                                               params=params)

    async def backend_of(self, route: str) -> str:
        table = (await self.admin("GET", "/table")).json()
        backend: str = table["routes"][route]["backend"]
        return backend


def routes(body: str) -> str:
    """A routes file: backends monolith and catalog (fake hosts, no health checks), no parity store."""
    return f"""
default: monolith
admin: {{token_env: {TOKEN_ENV}}}
parity: {{store: null}}
backends:
  monolith: {{targets: http://monolith.test, health: {{interval: 0}}}}
  catalog: {{targets: http://catalog.test, health: {{interval: 0}}}}
routes:
{body}"""


@asynccontextmanager
async def running(routes_yaml: str, backends: FakeBackends | None = None) -> AsyncIterator[Running]:
    """The router with its background tasks started (as uvicorn's lifespan does); the caller sets TOKEN_ENV."""
    backends = backends or FakeBackends()
    router = Router(parse(routes_yaml), None, access_log=False, upstream=backends)
    for task in router.app.background:
        task.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=router.app), base_url="http://shop") as pub, \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=router.admin), base_url="http://admin") as adm:
            yield Running(router, backends, pub, adm)
    finally:
        for task in reversed(router.app.background):
            await task.stop()
