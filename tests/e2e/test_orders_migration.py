"""The orders plan end to end, as real processes under concurrent traffic: monolith (gunicorn), router, the catalog,
cart and orders services, the monolith's event relay, the three plans' sync followers, and `manage.py strangler
run|rollback` driving them.

What must come first (the orders plan's header) is done for real: the catalog's plan and the cart's run to their
cutovers (catalog and cart gateways remote), under the shop's traffic. Then, under that traffic and the orders
ledger (scripts/ledger/orders.py: customers who fill their carts and check out through the router with an
Idempotency-Key, some cancelling, each recording what it was told), the orders plan runs to its cutover (orders
verified equal, orders routes on the orders service, orders gateway remote), is rolled back (gateway local, routes
on the monolith), and runs again to its decommission. Held to: no failed request apart from the bounded
write-freeze 503s; every acknowledged checkout exactly once with its lines and the status its cancels were told,
through the router and at the owner (the monolith after the rollback, the orders service after the decommission);
every refused one left its cart; the ledger products' stock at the catalog service is the initial stock minus
what the orders found hold; no stock reservation held once things settle.

The shipments, whose plan requires this one, move in tests/e2e/test_shipping_migration.py (a module of its own, so
that pytest-xdist can run it beside this one).

SQLite only (scripts/test.sh leaves it out of the PostgreSQL pass: it runs three plans, several minutes).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts.ledger.carts import CartLedger
from scripts.ledger.orders import OrdersLedger
from scripts.stack import Stack
from scripts.traffic import Traffic
from tests.e2e.plan_runs import (
    assert_ledger,
    assert_the_orders_held,
    data_and_cutover_only,
    gateway_mode,
    held_reservations,
    orders_ledger,
    run,
    run_to,
    settle,
    shop_stack,
)
from tests.support.plans import smaller_gates

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with shop_stack(tmp_path_factory.mktemp("orders-migration")) as running:
        yield running


def test_the_orders_move_under_traffic_come_back_and_move_for_good(stack: Stack) -> None:
    data_and_cutover_only(stack.plan_path)
    data_and_cutover_only(stack.cart_plan_path)
    smaller_gates(stack.orders_plan_path)
    traffic = Traffic(stack.router_url, workers=3)
    traffic.start()
    readers = CartLedger(stack.router_url, users=[], api_anonymous=0, pages=0, products=traffic.products[:3],
                         readers=["customer6@example.com", "customer7@example.com"], pause=0.05)
    ledger: OrdersLedger | None = None
    try:
        # What must come first: the catalog's and the cart's cutovers.
        run(stack, "run", str(stack.plan_path), "--to", "verify", "--yes")
        stack.start_service()
        stack.start_follower(stack.plan_path, "catalog-follower")
        run_to(stack, traffic, str(stack.plan_path), "catalog", ("cutover",))
        readers.start()
        run(stack, "run", str(stack.cart_plan_path), "--to", "verify", "--yes")
        stack.start_cart_service()
        stack.start_follower(stack.cart_plan_path, "cart-follower")
        run_to(stack, traffic, str(stack.cart_plan_path), "cart", ("cutover",))
        readers.stop()
        assert gateway_mode(stack, "catalog") == gateway_mode(stack, "cart") == "remote"

        # The orders, under the ledger.
        plan = str(stack.orders_plan_path)
        run(stack, "run", plan, "--to", "verify", "--yes")
        stack.start_orders_service()
        stack.start_follower(stack.orders_plan_path, "orders-follower")
        ledger = orders_ledger(stack)
        ledger.start()
        run_to(stack, traffic, plan, "orders", ("shadow", "canary-10", "canary-50", "cutover"))
        traffic.step = "orders after-cutover"
        status = run(stack, "status", plan)
        print("cutover figures:", {k: v for k, v in status["figures"]["cutover"].items() if k != "verify"})
        verify = status["figures"]["cutover"]["verify"]
        assert verify["ok"] and {t["target"] for t in verify["tables"]} == {"orders", "order_lines"}, verify
        live = status["live"]["routes"]
        assert live["orders-reads"]["backend"] == live["orders-writes"]["backend"] == "orders"
        assert gateway_mode(stack, "orders") == "remote"
        placed = ledger.counts["acknowledged"]
        settle(lambda: ledger is not None and ledger.counts["acknowledged"] >= placed + 10, 120)

        # Back to the monolith, with what was ordered at the service.
        traffic.step = "orders rollback"
        outcome = run(stack, "rollback", plan, "--to", "verify")
        assert outcome["ok"] and outcome["at"] == "verify", outcome
        traffic.step = "orders after-rollback"
        assert gateway_mode(stack, "orders") == "local"
        live = run(stack, "status", plan)["live"]["routes"]
        assert live["orders-reads"]["backend"] == live["orders-writes"]["backend"] == "monolith"
        placed = ledger.counts["acknowledged"]
        settle(lambda: ledger is not None and ledger.counts["acknowledged"] >= placed + 10, 120)
        ledger.stop()
        settle(lambda: held_reservations(stack) == 0)
        assert_ledger(ledger)
        assert_ledger(ledger, stack.monolith_http)
        ledger.start()

        # And out again, for good.
        run_to(stack, traffic, plan, "orders", ("shadow", "canary-10", "canary-50", "cutover", "decommission"))
        traffic.step = "orders after-decommission"
        assert gateway_mode(stack, "orders") == "remote"
        placed = ledger.counts["acknowledged"]
        settle(lambda: ledger is not None and ledger.counts["acknowledged"] >= placed + 10, 120)
    finally:
        if ledger is not None:
            ledger.stop()
        readers.stop()
        traffic.stop()

    assert ledger is not None
    assert_the_orders_held(stack, traffic, ledger)
