"""The gates and RouterAdmin against a real router (``router.server.Router``: admin API, metrics, windows,
shadow, leases, served by uvicorn in a thread on free ports, with in-process fake backends: router_thread.py).
Figures are read over HTTP exactly as the executor reads them: from the gate's own counting window. Traffic is
synthetic (flows and shadow outcomes recorded as the router records them) where exact figures matter, and real
requests through the router's public port for the issue's case (a re-run gate and old comparisons)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from router.config import parse_data
from strangler.plans.exceptions import GateFailed, LeaseLost, RouterUnavailable, WindowLost
from strangler.plans.gates import RouterAdmin, canary_gate, shadow_gate
from strangler.plans.schema import CanaryGate, RouterSpec, ShadowGate

from .router_thread import TOKEN, TOKEN_ENV, RouterServer, price, serve

ROUTES = {
    "default": "monolith",
    "admin": {"token_env": TOKEN_ENV},
    "parity": {"store": None},
    "backends": {"monolith": {"targets": "http://monolith.test", "health": {"interval": 0}},
                 "catalog": {"targets": "http://catalog.test", "health": {"interval": 0}}},
    "routes": {"catalog-reads": {"path": "/api/catalog/", "backend": "monolith", "methods": ["GET"]},
               "catalog-writes": {"path": "/api/catalog/", "backend": "monolith",
                                  "methods": ["POST", "PATCH", "PUT", "DELETE"]}},
}
MIRROR = {"backend": "catalog", "rate": 100000}  # every read compared (the default samples 10 a second)


def wrong_price(request: Any) -> dict[str, Any]:
    return {**price(request), "price": "13.50"}


@pytest.fixture(scope="module")
def server() -> Iterator[RouterServer]:
    with serve(ROUTES) as running:
        yield running


@pytest.fixture
def admin(server: RouterServer) -> Iterator[RouterAdmin]:
    server.router.metrics.reset()
    for lease in list(server.router.leases.live):
        server.router.leases.release(lease)
    server.router.app.tables.swap(parse_data(ROUTES, source="test"), origin="test")
    server.backends.answers["catalog"] = price
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


def first(action: Callable[[], None]) -> Said:
    """A gate's lines, with ``action`` as the traffic that arrives after the gate started (its first poll)."""
    return Said(lambda n: action() if n == 1 else None)


ZERO_SHADOW = {"sampled_out": 0, "queued": 0, "dropped": 0, "errors": 0}


# -- shadow ----------------------------------------------------------------------------------------------------

def test_shadow_holds_within_the_mismatch_limit(server: RouterServer, admin: RouterAdmin) -> None:
    said = first(lambda: server.compared("catalog-reads", equal=39, different=1))
    figures = shadow_gate(admin, "shadow", ["catalog-reads"],
                          ShadowGate(min_requests=30, max_mismatch_rate=0.05, poll=0.01), said)
    assert figures == {**ZERO_SHADOW, "compared": 40, "equal": 39, "different": 1, "mismatch_rate": 0.025}
    assert said == ["shadow: 0/30 compared, 0 different", "shadow: 40/30 compared, 1 different"]


def test_shadow_counts_nothing_from_before_it_started(server: RouterServer, admin: RouterAdmin) -> None:
    server.compared("catalog-reads", equal=100)
    assert admin.counters()["catalog-reads"]["shadow"]["compared"] == 100  # the base window has them
    with pytest.raises(GateFailed, match=r"^shadow: only 0 of 30 requests compared within 0\.2s$"):
        shadow_gate(admin, "shadow", ["catalog-reads"], ShadowGate(min_requests=30, timeout=0.2, poll=0.05), Said())


def test_shadow_waits_for_its_minimum(server: RouterServer, admin: RouterAdmin) -> None:
    said = Said(lambda _: server.compared("catalog-reads", equal=10))
    figures = shadow_gate(admin, "shadow", ["catalog-reads"], ShadowGate(min_requests=30, poll=0.01, timeout=5), said)
    assert said == ["shadow: 0/30 compared, 0 different", "shadow: 10/30 compared, 0 different",
                    "shadow: 20/30 compared, 0 different", "shadow: 30/30 compared, 0 different"]
    assert (figures["compared"], figures["mismatch_rate"]) == (30, 0.0)


def test_shadow_fails_after_its_timeout_when_too_few_were_compared(server: RouterServer, admin: RouterAdmin) -> None:
    said = first(lambda: server.compared("catalog-reads", equal=12))
    started = time.monotonic()
    with pytest.raises(GateFailed) as caught:
        shadow_gate(admin, "shadow", ["catalog-reads"], ShadowGate(min_requests=30, timeout=0.3, poll=0.05), said)
    assert str(caught.value) == "shadow: only 12 of 30 requests compared within 0.3s"
    assert 0.3 <= time.monotonic() - started < 3
    assert len(said) >= 3 and set(said[1:]) == {"shadow: 12/30 compared, 0 different"}


def test_shadow_with_no_figures_at_all_fails_with_zero(admin: RouterAdmin) -> None:
    with pytest.raises(GateFailed, match=r"^shadow: only 0 of 5 requests compared within 0\.1s$"):
        shadow_gate(admin, "shadow", ["catalog-reads"], ShadowGate(min_requests=5, timeout=0.1, poll=0.05),
                    Said())


def test_shadow_fails_on_the_mismatch_rate_with_figure_and_limit(server: RouterServer, admin: RouterAdmin) -> None:
    said = first(lambda: server.compared("catalog-reads", equal=36, different=4))
    with pytest.raises(GateFailed) as caught:
        shadow_gate(admin, "shadow", ["catalog-reads"], ShadowGate(min_requests=30, max_mismatch_rate=0.05, poll=0.01),
                    said)
    assert str(caught.value) == "shadow: mismatch rate 10.0% > 5.0% (4 of 40 compared requests differ)"


def test_shadow_reads_only_its_own_route(server: RouterServer, admin: RouterAdmin) -> None:
    def traffic() -> None:
        server.compared("catalog-writes", different=100)
        server.compared("catalog-reads", equal=30)

    figures = shadow_gate(admin, "shadow", ["catalog-reads"], ShadowGate(min_requests=30, poll=0.01), first(traffic))
    assert (figures["compared"], figures["different"], figures["mismatch_rate"]) == (30, 0, 0.0)


def test_shadow_adds_up_its_routes(server: RouterServer, admin: RouterAdmin) -> None:
    """A plan with several reads routes: the gate counts their comparisons together, in its own window."""
    server.compared("catalog-writes", different=50)  # before the gate: never counted

    def traffic() -> None:
        server.compared("catalog-reads", equal=20)
        server.compared("catalog-writes", equal=7, different=3)

    gate = ShadowGate(min_requests=30, max_mismatch_rate=0.05, poll=0.01)
    with pytest.raises(GateFailed) as caught:
        shadow_gate(admin, "shadow", ["catalog-reads", "catalog-writes"], gate, first(traffic))
    assert str(caught.value) == ("shadow: mismatch rate 10.0% > 5.0% (3 of 30 compared requests differ: "
                                 "catalog-reads 0 of 20, catalog-writes 3 of 10)")
    said = first(lambda: (server.compared("catalog-reads", equal=16), server.compared("catalog-writes", equal=14)))
    figures = shadow_gate(admin, "shadow", ["catalog-reads", "catalog-writes"], gate, said)
    assert (figures["compared"], figures["different"], figures["mismatch_rate"]) == (30, 0, 0.0)
    assert (figures["routes"]["catalog-reads"]["compared"], figures["routes"]["catalog-writes"]["compared"]) == (16, 14)
    assert said == ["shadow: 0/30 compared, 0 different", "shadow: 30/30 compared, 0 different"]


def test_shadow_gates_of_two_plans_do_not_disturb_each_other(server: RouterServer, admin: RouterAdmin) -> None:
    """A gate's window is its own: another gate (or a reset) running meanwhile changes nothing of it."""
    other: dict[str, Any] = {}

    def traffic(n: int) -> None:
        if n == 1:
            server.compared("catalog-reads", different=5)  # seen by the first gate only
            other["figures"] = shadow_gate(admin, "other plan", ["catalog-reads"],
                                           ShadowGate(min_requests=20, poll=0.01), first(
                                               lambda: server.compared("catalog-reads", equal=20)))
            admin.reset_counters()

    with pytest.raises(GateFailed) as caught:
        shadow_gate(admin, "shadow", ["catalog-reads"], ShadowGate(min_requests=20, max_mismatch_rate=0.05, poll=0.01),
                    Said(traffic))
    assert str(caught.value) == "shadow: mismatch rate 20.0% > 5.0% (5 of 25 compared requests differ)"
    assert (other["figures"]["compared"], other["figures"]["different"]) == (20, 0)


def test_a_lost_window_is_opened_again_and_said_and_only_new_figures_count(server: RouterServer,
                                                                           admin: RouterAdmin) -> None:
    windows = server.router.windows

    def restart(n: int) -> None:
        if n == 1:
            server.compared("catalog-reads", different=40)  # would fail the gate, but the router forgets them
            for number in list(windows.numbered):
                windows.close(number)
        elif n == 2:
            server.compared("catalog-reads", equal=30)  # in the new window

    said = Said(restart)
    figures = shadow_gate(admin, "shadow", ["catalog-reads"], ShadowGate(min_requests=30, poll=0.01, timeout=5), said)
    assert (figures["compared"], figures["different"]) == (30, 0)
    assert said[0] == "shadow: 0/30 compared, 0 different"
    assert said[1].startswith("shadow: the router no longer knows window ") and "counting again from now in window " \
        in said[1]
    assert said[2:] == ["shadow: 30/30 compared, 0 different"]
    assert windows.numbered == {}  # the gate closed its window


def test_a_rerun_shadow_gate_never_passes_on_the_comparisons_of_an_earlier_run(server: RouterServer,
                                                                              admin: RouterAdmin) -> None:
    """The issue's case: the shadow step passed once; it is rolled back (counters reset, mirror removed) and
    run again against a service that now answers a wrong price for every product. The old, equal comparisons
    must not let it pass: it waits for new ones (timing out without traffic), then fails on them."""
    gate = ShadowGate(min_requests=20, max_mismatch_rate=0.05, timeout=10, poll=0.02)
    admin.patch("catalog-reads", shadow=MIRROR)
    admin.reset_counters()
    passed = shadow_gate(admin, "shadow", ["catalog-reads"], gate, first(lambda: server.shop(25)))
    assert passed["compared"] >= 20 and passed["different"] == 0

    # Rollback of the shadow step, then a new service version that gets every price wrong.
    admin.reset_counters()
    admin.patch("catalog-reads", shadow=None)
    server.backends.answers["catalog"] = wrong_price
    # The re-run, as steps.py does it: the mirror back on, counters reset, the gate.
    admin.patch("catalog-reads", shadow=MIRROR)
    admin.reset_counters()
    quiet = ShadowGate(min_requests=20, max_mismatch_rate=0.05, timeout=0.5, poll=0.05)
    with pytest.raises(GateFailed, match=r"^shadow: only 0 of 20 requests compared within 0\.5s$"):
        shadow_gate(admin, "shadow", ["catalog-reads"], quiet, Said())
    # Not even without the reset: the gate reads its own window, never the router's older figures.
    server.shop(5)
    assert admin.counters()["catalog-reads"]["shadow"]["compared"] == 5
    with pytest.raises(GateFailed, match=r"^shadow: only 0 of 20 requests compared within 0\.5s$"):
        shadow_gate(admin, "shadow", ["catalog-reads"], quiet, Said())
    # New comparisons arrive: the gate fails on them.
    with pytest.raises(GateFailed) as caught:
        shadow_gate(admin, "shadow", ["catalog-reads"], gate, first(lambda: server.shop(25)))
    assert str(caught.value).startswith("shadow: mismatch rate 100.0% > 5.0% (")
    latest = admin.parity(route="catalog-reads", limit=1)["latest"]
    assert latest[0]["differences"][0]["path"] == "$.price"


# -- canary ----------------------------------------------------------------------------------------------------

def _canary(gate: CanaryGate, admin: RouterAdmin, said: Said, routes: list[str] | None = None) -> dict[str, Any]:
    return canary_gate(admin, "canary-10", routes or ["catalog-reads"], gate, service="catalog", monolith="monolith",
                       say=said)


def test_canary_holds_within_its_limits(server: RouterServer, admin: RouterAdmin) -> None:
    def traffic() -> None:
        server.feed("catalog-reads", "catalog", count=20, ms=12.0)
        server.feed("catalog-reads", "monolith", count=80, ms=10.0)

    said = first(traffic)
    result = _canary(CanaryGate(percent=10, min_requests=20, max_error_rate=0.01, max_p99_ratio=1.5, poll=0.01),
                     admin, said)
    assert result == {"service": {"requests": 20, "errors": 0, "p99_ms": 12.0},
                      "monolith": {"requests": 80, "errors": 0, "p99_ms": 10.0},
                      "error_rate": 0.0, "p99_ratio": 1.2}
    assert said == ["canary-10: 0/20 requests on catalog", "canary-10: 20/20 requests on catalog"]


def test_canary_counts_nothing_from_before_it_started(server: RouterServer, admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "catalog", count=50, ms=5.0, status=500)  # an earlier run's failures
    said = first(lambda: server.feed("catalog-reads", "catalog", count=20, ms=5.0))
    result = _canary(CanaryGate(percent=10, min_requests=20, poll=0.01), admin, said)
    assert result["service"] == {"requests": 20, "errors": 0, "p99_ms": 5.0}


def test_canary_waits_for_its_minimum_then_holds(server: RouterServer, admin: RouterAdmin) -> None:
    def more(_: int) -> None:
        server.feed("catalog-reads", "catalog", count=5, ms=5.0)

    said = Said(more)
    result = _canary(CanaryGate(percent=10, min_requests=15, poll=0.01, timeout=5), admin, said)
    assert said == [f"canary-10: {n}/15 requests on catalog" for n in (0, 5, 10, 15)]
    assert result["service"]["requests"] == 15 and "p99_ratio" not in result  # no monolith figures to compare


def test_canary_fails_after_its_timeout_when_too_few_reached_the_service(server: RouterServer,
                                                                         admin: RouterAdmin) -> None:
    def traffic() -> None:
        server.feed("catalog-reads", "catalog", count=7, ms=5.0)
        server.feed("catalog-reads", "monolith", count=300, ms=5.0)  # the monolith's answers do not count

    with pytest.raises(GateFailed) as caught:
        _canary(CanaryGate(percent=10, min_requests=20, timeout=0.2, poll=0.05), admin, first(traffic))
    assert str(caught.value) == "canary-10: only 7 of 20 requests reached catalog within 0.2s"


def test_canary_fails_on_the_error_rate_with_figure_and_limit(server: RouterServer, admin: RouterAdmin) -> None:
    def traffic() -> None:
        server.feed("catalog-reads", "catalog", count=97, ms=5.0)
        server.feed("catalog-reads", "catalog", count=3, ms=5.0, status=502)
        server.feed("catalog-reads", "monolith", count=10, ms=5.0, status=500)  # not the service's errors

    with pytest.raises(GateFailed) as caught:
        _canary(CanaryGate(percent=10, min_requests=20, max_error_rate=0.01, poll=0.01), admin, first(traffic))
    assert str(caught.value) == "canary-10: error rate 3.0% of catalog > 1.0% (3 of 100 requests)"


def test_canary_error_rate_at_the_limit_holds(server: RouterServer, admin: RouterAdmin) -> None:
    def traffic() -> None:
        server.feed("catalog-reads", "catalog", count=99, ms=5.0)
        server.feed("catalog-reads", "catalog", count=1, ms=5.0, status=503)

    result = _canary(CanaryGate(percent=10, min_requests=20, max_error_rate=0.01, poll=0.01), admin, first(traffic))
    assert result["error_rate"] == 0.01 and result["service"]["errors"] == 1


def test_canary_fails_on_the_p99_ratio_with_figures_and_limit(server: RouterServer, admin: RouterAdmin) -> None:
    def traffic() -> None:
        server.feed("catalog-reads", "catalog", count=20, ms=50.0)
        server.feed("catalog-reads", "monolith", count=20, ms=10.0)

    with pytest.raises(GateFailed) as caught:
        _canary(CanaryGate(percent=10, min_requests=20, max_p99_ratio=3.0, poll=0.01), admin, first(traffic))
    assert str(caught.value) == "canary-10: p99 of catalog is 50.0 ms, 5.00x the monolith's 10.0 ms > 3x"


def test_canary_skips_the_p99_ratio_without_enough_monolith_requests(server: RouterServer,
                                                                     admin: RouterAdmin) -> None:
    def traffic() -> None:
        server.feed("catalog-reads", "catalog", count=20, ms=50.0)
        server.feed("catalog-reads", "monolith", count=9, ms=10.0)

    result = _canary(CanaryGate(percent=10, min_requests=20, max_p99_ratio=3.0, poll=0.01), admin, first(traffic))
    assert "p99_ratio" not in result and result["monolith"]["requests"] == 9


def test_canary_adds_up_its_routes(server: RouterServer, admin: RouterAdmin) -> None:
    def traffic() -> None:
        server.feed("catalog-reads", "catalog", count=12, ms=5.0)
        server.feed("catalog-writes", "catalog", count=8, ms=40.0, status=503)

    with pytest.raises(GateFailed) as caught:
        _canary(CanaryGate(percent=10, min_requests=20, max_error_rate=0.3, poll=0.01), admin, first(traffic),
                routes=["catalog-reads", "catalog-writes"])
    assert str(caught.value) == "canary-10: error rate 40.0% of catalog > 30.0% (8 of 20 requests)"


def test_a_canary_whose_window_is_lost_counts_again_from_then(server: RouterServer, admin: RouterAdmin) -> None:
    windows = server.router.windows

    def restart(n: int) -> None:
        if n == 1:
            server.feed("catalog-reads", "catalog", count=20, ms=5.0, status=500)
            for number in list(windows.numbered):
                windows.close(number)
        elif n == 2:
            server.feed("catalog-reads", "catalog", count=20, ms=5.0)

    said = Said(restart)
    result = _canary(CanaryGate(percent=10, min_requests=20, poll=0.01), admin, said)
    assert result["service"] == {"requests": 20, "errors": 0, "p99_ms": 5.0}
    assert "the router no longer knows window" in said[1]


# -- RouterAdmin -----------------------------------------------------------------------------------------------

def test_router_admin_needs_its_token_variable(server: RouterServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRANGLER_UNSET_TOKEN", raising=False)
    with pytest.raises(RouterUnavailable) as caught:
        RouterAdmin(server.spec(token_env="STRANGLER_UNSET_TOKEN"))
    assert str(caught.value) == "router.token_env: set STRANGLER_UNSET_TOKEN to the router's admin token"


def test_router_admin_with_a_wrong_token_is_refused(server: RouterServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRANGLER_WRONG_TOKEN", "not-the-token")
    admin = RouterAdmin(server.spec(token_env="STRANGLER_WRONG_TOKEN"))
    try:
        with pytest.raises(RouterUnavailable) as caught:
            admin.table()
    finally:
        admin.close()
    assert str(caught.value) == "router admin API GET /table: 401 a valid bearer token is required"


def test_router_admin_moves_a_route(server: RouterServer, admin: RouterAdmin) -> None:
    admin.patch("catalog-reads", backend="catalog", canary=10, fallback="monolith")
    route = admin.route("catalog-reads")
    assert (route["backend"], route["canary"], route["fallback"], route["shadow"]) == ("catalog", 10, "monolith",
                                                                                      None)
    admin.patch("catalog-reads", shadow={"backend": "catalog"}, canary=None, backend="monolith", fallback=None)
    route = admin.route("catalog-reads")
    assert (route["backend"], route["canary"], route["fallback"], route["shadow"]) == ("monolith", None, None,
                                                                                      "catalog")
    live = server.router.app.tables.current.table.routes
    assert next(r for r in live if r.name == "catalog-reads").shadow is not None


def test_a_refused_patch_surfaces_the_routers_problems(server: RouterServer, admin: RouterAdmin) -> None:
    before = server.router.app.tables.version.number
    with pytest.raises(RouterUnavailable) as caught:
        admin.patch("catalog-reads", backend="catalog", canary=140)
    assert str(caught.value) == ("router admin API PATCH /routes/catalog-reads: 400 change refused; the current "
                                 "table keeps serving: admin: routes.catalog-reads.canary: 140 is not a percentage "
                                 "(0-100)")
    assert server.router.app.tables.version.number == before  # nothing changed
    assert admin.route("catalog-reads")["backend"] == "monolith"


def test_a_patch_of_an_unknown_backend_is_refused(admin: RouterAdmin) -> None:
    with pytest.raises(RouterUnavailable, match=r"^router admin API PATCH /routes/catalog-reads: 400 change refused"):
        admin.patch("catalog-reads", backend="inventory")


def test_router_admin_names_a_missing_route(admin: RouterAdmin) -> None:
    with pytest.raises(RouterUnavailable) as caught:
        admin.route("catalog-read")
    assert str(caught.value) == ("the router has no route 'catalog-read'; add it to the routes file "
                                 "(known: catalog-reads, catalog-writes)")


def test_router_admin_reads_and_resets_counters(server: RouterServer, admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "monolith", count=3, ms=1.0, status=500)
    server.compared("catalog-reads", equal=2)
    counters = admin.counters()
    assert list(counters) == ["catalog-reads"]
    assert counters["catalog-reads"]["backends"]["monolith"]["requests"] == 3
    assert counters["catalog-reads"]["backends"]["monolith"]["errors"] == 3
    assert counters["catalog-reads"]["shadow"]["compared"] == 2
    admin.reset_counters()
    assert admin.counters() == {}  # the shadow figures too


def test_router_admin_windows(server: RouterServer, admin: RouterAdmin) -> None:
    server.feed("catalog-reads", "monolith", count=3, ms=1.0)
    window = admin.open_window()
    server.feed("catalog-reads", "monolith", count=2, ms=1.0)
    server.compared("catalog-reads", different=1)
    assert admin.counters(window)["catalog-reads"]["requests"] == 2
    assert admin.counters()["catalog-reads"]["requests"] == 5
    assert admin.parity(window)["routes"]["catalog-reads"]["different"] == 1
    admin.close_window(window)
    admin.close_window(window)  # gone already: fine
    with pytest.raises(WindowLost) as caught:
        admin.counters(window)
    assert str(caught.value) == (f"router admin API GET /counters: 404 no window {window} (the router restarted or "
                                 "it expired)")
    with pytest.raises(WindowLost):
        admin.parity(window)
    assert isinstance(caught.value, RouterUnavailable)


def test_router_admin_leases(server: RouterServer, admin: RouterAdmin) -> None:
    lease = admin.acquire_lease(["catalog-writes"], ["catalog-reads"], 5, "catalog cutover",
                                on_expiry={"catalog-writes": {"backend": "catalog"}})
    lease_id = lease["lease"]
    assert (lease["freeze"], lease["fence"], lease["drained"]) == (["catalog-writes"], ["catalog-reads"], True)
    shown = admin.lease(lease_id)
    assert shown is not None and shown["in_flight"] == {"catalog-writes": 0}
    with pytest.raises(RouterUnavailable) as conflict:
        admin.acquire_lease(["catalog-writes"], [], 5, "orders cutover")
    assert str(conflict.value).startswith(f"router admin API POST /leases: 409 route 'catalog-writes' is held by lease "
                                          f"{lease_id} (holder 'catalog cutover') until ")
    # Fenced changes: refused without the lease (RouterUnavailable), made with it.
    with pytest.raises(RouterUnavailable, match=r": 409 route 'catalog-reads' is held by lease .*send X-Router-Lease$"):
        admin.patch("catalog-reads", backend="catalog")
    admin.patch("catalog-reads", lease=lease_id, backend="catalog", canary=10)
    assert admin.route("catalog-reads")["canary"] == 10
    renewed = admin.renew_lease(lease_id, 7, on_expiry={"catalog-writes": {"backend": "catalog"},
                                                          "catalog-reads": {"canary": None}})
    assert renewed["seconds"] == 7 and set(renewed["on_expiry"]) == {"catalog-writes", "catalog-reads"}
    with pytest.raises(RouterUnavailable, match=r": 400 on_expiry: change refused"):
        admin.renew_lease(lease_id, 7, on_expiry={"catalog-writes": {"backend": "inventory"}})
    # A restarted executor takes its own lease over; the old id is then lost for good.
    taken = admin.acquire_lease(["catalog-writes"], ["catalog-reads"], 5, "catalog cutover", replaces=lease_id)
    with pytest.raises(LeaseLost, match=rf"^router admin API POST /leases/{lease_id}/renew: 409 lease {lease_id} "
                                        rf"was replaced by {taken['lease']} at "):
        admin.renew_lease(lease_id, 5)
    with pytest.raises(LeaseLost, match=r": 409 lease .* was replaced by .*: nothing is changed under it$"):
        admin.patch("catalog-reads", lease=lease_id, backend="monolith")
    assert admin.lease(lease_id) is None
    admin.release_lease(taken["lease"])
    admin.release_lease(taken["lease"])  # idempotent
    assert admin.lease(taken["lease"]) is None
    assert admin.route("catalog-writes")["backend"] == "monolith"  # released: on_expiry not applied
    with pytest.raises(LeaseLost):
        admin.renew_lease(taken["lease"], 5)
    with pytest.raises(LeaseLost, match=r": 409 no lease 0{16} \(unknown"):
        admin.renew_lease("0" * 16, 5)


def test_a_lease_that_lapses_applies_its_on_expiry(server: RouterServer, admin: RouterAdmin) -> None:
    lease = admin.acquire_lease(["catalog-writes"], [], 0.2, "catalog cutover",
                                on_expiry={"catalog-writes": {"backend": "catalog"}})
    time.sleep(0.35)
    assert admin.route("catalog-writes")["backend"] == "catalog"
    with pytest.raises(LeaseLost, match=r" expired at "):
        admin.renew_lease(lease["lease"], 5)
    # What the executor does when it finds its recorded lease gone: a 409, then a fresh lease.
    with pytest.raises(RouterUnavailable, match=r"^router admin API POST /leases: 409 replaces: lease "):
        admin.acquire_lease(["catalog-writes"], [], 5, "catalog cutover", replaces=lease["lease"])


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
        with pytest.raises(RouterUnavailable, match=rf"^router admin API at http://127\.0\.0\.1:{port}: "):
            admin.renew_lease("abc", 5)  # unreachable is not "lost": the lease may still live
    finally:
        admin.close()
