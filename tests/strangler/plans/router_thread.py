"""A real router (``router.server.Router``: admin API, metrics, windows, shadow, leases) served by uvicorn in a
thread on free ports, with in-process fake backends; and the traffic a test records through it as the router
records it (``feed``: answers of a backend on a route; ``compared``: shadow comparisons). The gates' tests
(test_gates.py) and the executor's tests over real routes (test_many_routes.py) run against it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from router.config import parse_data
from router.proxy.flow import Flow
from router.routing.table import Match
from router.server import Router
from strangler.plans.schema import RouterSpec
from tests.router.inprocess import FakeBackends

TOKEN_ENV = "STRANGLER_GATES_TEST_TOKEN"
TOKEN = "gates-test-token"


def price(request: Any) -> dict[str, Any]:
    return {"id": request.url.rstrip("/").rsplit("/", 1)[-1], "name": "Teapot", "price": "12.50"}


class TimedFlow(Flow):
    """A flow that took as long as the test says (``Flow`` has slots: its method cannot be replaced)."""

    ms: float = 0.0

    def elapsed_ms(self) -> float:
        return self.ms


@dataclass
class RouterServer:
    url: str  # the admin API
    public_url: str
    router: Router
    backends: FakeBackends

    def feed(self, route: str, backend: str, *, count: int, ms: float, status: int = 200) -> None:
        """``count`` answers of ``backend`` on ``route``, each taking ``ms``, as the router records them
        (requests that start now: inside any window already open)."""
        tables = self.router.app.tables
        found = next(r for r in tables.current.table.routes if r.name == route)
        for n in range(count):
            flow = TimedFlow(method="GET", path="/api/catalog/products/1/", query=b"", headers=[],
                             client="10.0.0.1", scheme="http", host="shop", request_id=f"r{n}",
                             match=Match(found, backend), backend=backend, default_backend="monolith",
                             status=status, target=f"http://{backend}.test")
            flow.ms = ms
            self.router.metrics.done(flow)

    def compared(self, route: str, *, equal: int = 0, different: int = 0) -> None:
        """Shadow comparisons of requests that start now, counted as the shadow counts them."""
        shadow = self.router.shadow
        for outcome, count in (("equal", equal), ("different", different)):
            for _ in range(count):
                windows = shadow.windows.containing(time.perf_counter())
                shadow._count(route, "compared", windows)
                shadow._count(route, outcome, windows)

    def shop(self, count: int) -> None:
        """``count`` product reads through the router's public port, waiting until each was compared."""
        before = self.router.shadow.figures["catalog-reads"].compared
        with httpx.Client(base_url=self.public_url, timeout=10) as client:
            for n in range(count):
                assert client.get(f"/api/catalog/products/{n}/").status_code == 200
        deadline = time.monotonic() + 10
        while self.router.shadow.figures["catalog-reads"].compared < before + count:
            assert time.monotonic() < deadline, "the shadow did not compare the reads"
            time.sleep(0.01)

    def spec(self, **changes: Any) -> RouterSpec:
        return RouterSpec(**{"admin_url": self.url, "token_env": TOKEN_ENV, "service_backend": "catalog", **changes})

    def routes(self) -> dict[str, dict[str, Any]]:
        """The live table's routes as the admin API shows them (backend, canary, fallback, shadow, ...)."""
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
            response = client.get("/table")
        response.raise_for_status()
        routes: dict[str, dict[str, Any]] = response.json()["routes"]
        return routes


def _bound() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(routes: dict[str, Any], answers: dict[str, Callable[[Any], Any]] | None = None) -> Iterator[RouterServer]:
    """The router of the routes file ``routes`` (a mapping), its admin token in :data:`TOKEN_ENV` meanwhile."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv(TOKEN_ENV, TOKEN)
        backends = FakeBackends(answers=answers if answers is not None else {"monolith": price, "catalog": price})
        router = Router(parse_data(routes, source="test"), None, access_log=False, upstream=backends)
        public, admin = _bound(), _bound()
        router.admin_port = admin.getsockname()[1]
        uv = uvicorn.Server(uvicorn.Config(router, lifespan="on", log_level="warning", access_log=False))
        thread = threading.Thread(target=uv.run, kwargs={"sockets": [public, admin]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not uv.started:
            assert time.monotonic() < deadline, "the router did not start"
            time.sleep(0.01)
        try:
            yield RouterServer(f"http://127.0.0.1:{router.admin_port}", f"http://127.0.0.1:{public.getsockname()[1]}",
                               router, backends)
        finally:
            uv.should_exit = True
            thread.join(timeout=10)
            public.close()
            admin.close()
