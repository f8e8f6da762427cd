"""The gates and RouterAdmin against the router's real admin API (``router.admin.AdminApp`` over
``router.metrics.Metrics``, served by uvicorn in a thread on a free port), fed with synthetic flows: figures
are read over HTTP from /counters, exactly as the executor reads them from a running router."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from router.admin import AdminApp
from router.config import parse_data
from router.flow import Flow
from router.health import HealthRegistry
from router.metrics import Metrics
from router.state import TableHolder
from router.table import Match
from strangler.plans.exceptions import GateFailed, RouterUnavailable
from strangler.plans.gates import RouterAdmin, canary_gate, shadow_gate
from strangler.plans.schema import CanaryGate, RouterSpec, ShadowGate

TOKEN_ENV = "STRANGLER_GATES_TEST_TOKEN"
TOKEN = "gates-test-token"
ROUTES = {
    "default": "monolith",
    "backends": {"monolith": {"targets": "http://127.0.0.1:9"}, "catalog": {"targets": "http://127.0.0.1:10"}},
    "routes": {"catalog-reads": {"path": "/api/catalog/", "backend": "monolith", "methods": ["GET"]},
               "catalog-writes": {"path": "/api/catalog/", "backend": "monolith",
                                  "methods": ["POST", "PATCH", "PUT", "DELETE"]}},
}


@dataclass
class AdminServer:
    url: str
    tables: TableHolder
    metrics: Metrics
    shadow: dict[str, dict[str, int]] = field(default_factory=dict)

    def feed(self, route: str, backend: str, *, count: int, ms: float, status: int = 200) -> None:
        """``count`` answers of ``backend`` on ``route``, each taking ``ms``, as the router records them."""
        found = next(r for r in self.tables.current.table.routes if r.name == route)
        for n in range(count):
            flow = Flow(method="GET", path="/api/catalog/products/1/", query=b"", headers=[], client="10.0.0.1",
                        scheme="http", host="shop", request_id=f"r{n}", match=Match(found, backend),
                        backend=backend, default_backend="monolith", status=status,
                        target=f"http://{backend}.test")
            flow.elapsed_ms = lambda ms=ms: ms  # type: ignore[method-assign]
            self.metrics.done(flow)

    def spec(self, **changes: Any) -> RouterSpec:
        return RouterSpec(**{"admin_url": self.url, "token_env": TOKEN_ENV, "service_backend": "catalog", **changes})


@pytest.fixture(scope="module")
def server() -> Iterator[AdminServer]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv(TOKEN_ENV, TOKEN)
        tables = TableHolder()
        tables.swap(parse_data(ROUTES, source="test"), origin="test")
        shadow: dict[str, dict[str, int]] = {}
        metrics = Metrics(HealthRegistry(), tables, lambda: {k: dict(v) for k, v in shadow.items()})
        app = AdminApp(tables, metrics, token_env=TOKEN_ENV)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        uv = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
        thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not uv.started:
            assert time.monotonic() < deadline, "the admin API did not start"
            time.sleep(0.01)
        try:
            yield AdminServer(f"http://127.0.0.1:{sock.getsockname()[1]}", tables, metrics, shadow)
        finally:
            uv.should_exit = True
            thread.join(timeout=10)
            sock.close()


@pytest.fixture
def admin(server: AdminServer) -> Iterator[RouterAdmin]:
    server.metrics.reset()
    server.shadow.clear()
    server.tables.swap(parse_data(ROUTES, source="test"), origin="test")
    client = RouterAdmin(server.spec())
    try:
        yield client
    finally:
        client.close()


class Said(list[str]):
    """The gate's progress lines; ``then`` runs after each (the traffic that arrives between two polls)."""

    def __init__(self, then: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.then = then

    def __call__(self, line: str) -> None:
        self.append(line)
        if self.then is not None:
            self.then(len(self))


# -- shadow ----------------------------------------------------------------------------------------------------

def test_shadow_holds_within_the_mismatch_limit(server: AdminServer, admin: RouterAdmin) -> None:
    server.shadow["catalog-reads"] = {"compared": 40, "equal": 39, "different": 1}
    said = Said()
    figures = shadow_gate(admin, "shadow", "catalog-reads", ShadowGate(min_requests=30, max_mismatch_rate=0.05),
                          said)
    assert figures == {"compared": 40, "equal": 39, "different": 1, "mismatch_rate": 0.025}
    assert said == ["shadow: 40/30 compared, 1 different"]


def test_shadow_waits_for_its_minimum(server: AdminServer, admin: RouterAdmin) -> None:
    server.shadow["catalog-reads"] = {"compared": 10, "different": 0}

    def more(_: int) -> None:
        server.shadow["catalog-reads"]["compared"] += 10

    said = Said(more)
    figures = shadow_gate(admin, "shadow", "catalog-reads", ShadowGate(min_requests=30, poll=0.01, timeout=5), said)
    assert said == ["shadow: 10/30 compared, 0 different", "shadow: 20/30 compared, 0 different",
                    "shadow: 30/30 compared, 0 different"]
    assert (figures["compared"], figures["mismatch_rate"]) == (30, 0.0)


def test_shadow_fails_after_its_timeout_when_too_few_were_compared(server: AdminServer, admin: RouterAdmin) -> None:
    server.shadow["catalog-reads"] = {"compared": 12, "different": 0}
    said = Said()
    started = time.monotonic()
    with pytest.raises(GateFailed) as caught:
        shadow_gate(admin, "shadow", "catalog-reads", ShadowGate(min_requests=30, timeout=0.3, poll=0.05), said)
    assert str(caught.value) == "shadow: only 12 of 30 requests compared within 0.3s"
    assert 0.3 <= time.monotonic() - started < 3
    assert len(said) >= 3 and set(said) == {"shadow: 12/30 compared, 0 different"}


def test_shadow_with_no_figures_at_all_fails_with_zero(admin: RouterAdmin) -> None:
    with pytest.raises(GateFailed, match=r"^shadow: only 0 of 5 requests compared within 0\.1s$"):
        shadow_gate(admin, "shadow", "catalog-reads", ShadowGate(min_requests=5, timeout=0.1, poll=0.05),
                    Said())


def test_shadow_fails_on_the_mismatch_rate_with_figure_and_limit(server: AdminServer, admin: RouterAdmin) -> None:
    server.shadow["catalog-reads"] = {"compared": 40, "equal": 36, "different": 4}
    with pytest.raises(GateFailed) as caught:
        shadow_gate(admin, "shadow", "catalog-reads", ShadowGate(min_requests=30, max_mismatch_rate=0.05), Said())
    assert str(caught.value) == "shadow: mismatch rate 10.0% > 5.0% (4 of 40 compared requests differ)"


def test_shadow_reads_only_its_own_route(server: AdminServer, admin: RouterAdmin) -> None:
    server.shadow["catalog-writes"] = {"compared": 100, "different": 100}
    server.shadow["catalog-reads"] = {"compared": 30, "different": 0}
    figures = shadow_gate(admin, "shadow", "catalog-reads", ShadowGate(min_requests=30), Said())
    assert (figures["compared"], figures["different"], figures["mismatch_rate"]) == (30, 0, 0.0)


# -- canary ----------------------------------------------------------------------------------------------------

def _canary(gate: CanaryGate, admin: RouterAdmin, said: Said, routes: list[str] | None = None) -> dict[str, Any]:
    return canary_gate(admin, "canary-10", routes or ["catalog-reads"], gate, service="catalog", monolith="monolith",
                       say=said)


def test_canary_holds_within_its_limits(server: AdminServer, admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "catalog", count=20, ms=12.0)
    server.feed("catalog-reads", "monolith", count=80, ms=10.0)
    said = Said()
    result = _canary(CanaryGate(percent=10, min_requests=20, max_error_rate=0.01, max_p99_ratio=1.5), admin, said)
    assert result == {"service": {"requests": 20, "errors": 0, "p99_ms": 12.0},
                      "monolith": {"requests": 80, "errors": 0, "p99_ms": 10.0},
                      "error_rate": 0.0, "p99_ratio": 1.2}
    assert said == ["canary-10: 20/20 requests on catalog"]


def test_canary_waits_for_its_minimum_then_holds(server: AdminServer, admin: RouterAdmin) -> None:
    def more(_: int) -> None:
        server.feed("catalog-reads", "catalog", count=5, ms=5.0)

    said = Said(more)
    result = _canary(CanaryGate(percent=10, min_requests=15, poll=0.01, timeout=5), admin, said)
    assert said == [f"canary-10: {n}/15 requests on catalog" for n in (0, 5, 10, 15)]
    assert result["service"]["requests"] == 15 and "p99_ratio" not in result  # no monolith figures to compare


def test_canary_fails_after_its_timeout_when_too_few_reached_the_service(server: AdminServer,
                                                                         admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "catalog", count=7, ms=5.0)
    server.feed("catalog-reads", "monolith", count=300, ms=5.0)  # the monolith's answers do not count
    with pytest.raises(GateFailed) as caught:
        _canary(CanaryGate(percent=10, min_requests=20, timeout=0.2, poll=0.05), admin, Said())
    assert str(caught.value) == "canary-10: only 7 of 20 requests reached catalog within 0.2s"


def test_canary_fails_on_the_error_rate_with_figure_and_limit(server: AdminServer, admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "catalog", count=97, ms=5.0)
    server.feed("catalog-reads", "catalog", count=3, ms=5.0, status=502)
    server.feed("catalog-reads", "monolith", count=10, ms=5.0, status=500)  # not the service's errors
    with pytest.raises(GateFailed) as caught:
        _canary(CanaryGate(percent=10, min_requests=20, max_error_rate=0.01), admin, Said())
    assert str(caught.value) == "canary-10: error rate 3.0% of catalog > 1.0% (3 of 100 requests)"


def test_canary_error_rate_at_the_limit_holds(server: AdminServer, admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "catalog", count=99, ms=5.0)
    server.feed("catalog-reads", "catalog", count=1, ms=5.0, status=503)
    result = _canary(CanaryGate(percent=10, min_requests=20, max_error_rate=0.01), admin, Said())
    assert result["error_rate"] == 0.01 and result["service"]["errors"] == 1


def test_canary_fails_on_the_p99_ratio_with_figures_and_limit(server: AdminServer, admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "catalog", count=20, ms=50.0)
    server.feed("catalog-reads", "monolith", count=20, ms=10.0)
    with pytest.raises(GateFailed) as caught:
        _canary(CanaryGate(percent=10, min_requests=20, max_p99_ratio=3.0), admin, Said())
    assert str(caught.value) == "canary-10: p99 of catalog is 50.0 ms, 5.00x the monolith's 10.0 ms > 3x"


def test_canary_skips_the_p99_ratio_without_enough_monolith_requests(server: AdminServer,
                                                                     admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "catalog", count=20, ms=50.0)
    server.feed("catalog-reads", "monolith", count=9, ms=10.0)
    result = _canary(CanaryGate(percent=10, min_requests=20, max_p99_ratio=3.0), admin, Said())
    assert "p99_ratio" not in result and result["monolith"]["requests"] == 9


def test_canary_adds_up_its_routes(server: AdminServer, admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "catalog", count=12, ms=5.0)
    server.feed("catalog-writes", "catalog", count=8, ms=40.0, status=503)
    with pytest.raises(GateFailed) as caught:
        _canary(CanaryGate(percent=10, min_requests=20, max_error_rate=0.3), admin, Said(),
                routes=["catalog-reads", "catalog-writes"])
    assert str(caught.value) == "canary-10: error rate 40.0% of catalog > 30.0% (8 of 20 requests)"


# -- RouterAdmin -----------------------------------------------------------------------------------------------

def test_router_admin_needs_its_token_variable(server: AdminServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRANGLER_UNSET_TOKEN", raising=False)
    with pytest.raises(RouterUnavailable) as caught:
        RouterAdmin(server.spec(token_env="STRANGLER_UNSET_TOKEN"))
    assert str(caught.value) == "router.token_env: set STRANGLER_UNSET_TOKEN to the router's admin token"


def test_router_admin_with_a_wrong_token_is_refused(server: AdminServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRANGLER_WRONG_TOKEN", "not-the-token")
    admin = RouterAdmin(server.spec(token_env="STRANGLER_WRONG_TOKEN"))
    try:
        with pytest.raises(RouterUnavailable) as caught:
            admin.table()
    finally:
        admin.close()
    assert str(caught.value) == "router admin API GET /table: 401 a valid bearer token is required"


def test_router_admin_moves_a_route(server: AdminServer, admin: RouterAdmin) -> None:
    admin.patch("catalog-reads", backend="catalog", canary=10, fallback="monolith")
    route = admin.route("catalog-reads")
    assert (route["backend"], route["canary"], route["fallback"], route["shadow"]) == ("catalog", 10, "monolith",
                                                                                      None)
    admin.patch("catalog-reads", shadow={"backend": "catalog"}, canary=None, backend="monolith", fallback=None)
    route = admin.route("catalog-reads")
    assert (route["backend"], route["canary"], route["fallback"], route["shadow"]) == ("monolith", None, None,
                                                                                      "catalog")
    live = server.tables.current.table.routes
    assert next(r for r in live if r.name == "catalog-reads").shadow is not None


def test_a_refused_patch_surfaces_the_routers_problems(server: AdminServer, admin: RouterAdmin) -> None:
    before = server.tables.version.number
    with pytest.raises(RouterUnavailable) as caught:
        admin.patch("catalog-reads", backend="catalog", canary=140)
    assert str(caught.value) == ("router admin API PATCH /routes/catalog-reads: 400 change refused; the current "
                                 "table keeps serving: admin: routes.catalog-reads.canary: 140 is not a percentage "
                                 "(0-100)")
    assert server.tables.version.number == before  # nothing changed
    assert admin.route("catalog-reads")["backend"] == "monolith"


def test_a_patch_of_an_unknown_backend_is_refused(admin: RouterAdmin) -> None:
    with pytest.raises(RouterUnavailable, match=r"^router admin API PATCH /routes/catalog-reads: 400 change refused"):
        admin.patch("catalog-reads", backend="inventory")


def test_router_admin_names_a_missing_route(admin: RouterAdmin) -> None:
    with pytest.raises(RouterUnavailable) as caught:
        admin.route("catalog-read")
    assert str(caught.value) == ("the router has no route 'catalog-read'; add it to the routes file "
                                 "(known: catalog-reads, catalog-writes)")


def test_router_admin_reads_and_resets_counters(server: AdminServer, admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "monolith", count=3, ms=1.0, status=500)
    counters = admin.counters()
    assert list(counters) == ["catalog-reads"]
    assert counters["catalog-reads"]["backends"]["monolith"]["requests"] == 3
    assert counters["catalog-reads"]["backends"]["monolith"]["errors"] == 3
    admin.reset_counters()
    assert admin.counters() == {}


def test_router_admin_says_when_the_router_does_not_answer() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nobody listens there
    with pytest.MonkeyPatch.context() as env:
        env.setenv(TOKEN_ENV, TOKEN)
        admin = RouterAdmin(RouterSpec(admin_url=f"http://127.0.0.1:{port}", token_env=TOKEN_ENV,
                                       service_backend="catalog"))
    try:
        with pytest.raises(RouterUnavailable, match=rf"^router admin API at http://127\.0\.0\.1:{port}: "):
            admin.counters()
    finally:
        admin.close()
