"""The orders plan, then the shipping plan, end to end, as real processes under concurrent traffic: monolith
(gunicorn), router, the catalog, cart, orders and shipping services, the monolith's and the shipping service's event
relays, the four plans' sync followers, and `manage.py strangler run|rollback` driving them.

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

Then the shipments (the shipping plan requires the orders': it could not begin before), under the orders ledger
(whose checkouts and cancels now ask the shipments' owner through the router, across its cutover and rollback) and
the shipments ledger (scripts/ledger/shipments.py: shipments asked for as the saga asks, moved along by staff, read
by their customers): out to the shipping service, back, out for good. Held to: no failed request apart from the
write-freeze 503s; every acknowledged move in its shipment's history exactly once and in order, at the owner;
every acknowledged checkout's order with exactly one shipment, cancelled exactly when its cancel was acknowledged;
a customer never shown another's shipment; the orders service following the shipments the service moves.

SQLite only (scripts/test.sh leaves it out of the PostgreSQL pass: it runs four plans, several minutes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import jwt
import pytest
import yaml
from sqlalchemy import create_engine, text

from scripts.ledger.carts import CartLedger
from scripts.ledger.orders import OrdersLedger
from scripts.ledger.shipments import ShipmentsLedger, shipments_by_order
from scripts.stack import Ports, Stack
from scripts.traffic import Traffic
from tests.support.plans import smaller_gates

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("orders-migration")
    running = Stack(base / "var", ports=Ports.free())
    try:
        running.setup_monolith("--products", "60", "--users", "14", "--orders", "20")
        running.start_monolith()
        running.start_router()
        running.start_relay()
        yield running
    finally:
        running.stop()


def run(stack: Stack, *args: str) -> dict:
    done = stack.manage("strangler", *args, "--json", check=False)
    assert done.returncode == 0, f"strangler {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result: dict = json.loads(done.stdout)
    return result


def gateway_mode(stack: Stack, name: str) -> str:
    mode: str = json.loads(stack.manage(f"{name}_gateway", "status", "--json").stdout)["mode"]
    return mode


def run_to(stack: Stack, traffic: Traffic, plan: str, name: str, steps: tuple[str, ...]) -> None:
    for step in steps:
        traffic.step = f"{name} {step}"
        outcome = run(stack, "run", plan, "--to", step, "--yes")
        assert outcome["ok"] and outcome["at"] == step, outcome
        print(f"{name} {step}: {[(s['step'], s['seconds']) for s in outcome['steps']]}")


def held_reservations(stack: Stack) -> int:
    engine = create_engine(str(stack.catalog_url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM stock_reservations WHERE state = 'held'")).scalar_one())
    finally:
        engine.dispose()


def settle(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "did not settle"
        time.sleep(0.5)


def assert_ledger(ledger: OrdersLedger, base: str | None = None, *, identity_secret: str | None = None) -> None:
    report = ledger.check(base, identity_secret=identity_secret)
    print(f"orders ledger at {base or 'the router'}: checkouts {report.counts}, cancels {report.cancels}, "
          f"{report.orders} acknowledged orders found; answers {report.answers}")
    assert report.ok, report.problems[:10]


def data_and_cutover_only(path: Path) -> None:
    """The catalog's and the cart's plans are this test's prerequisites, not its subject (their own e2e tests run
    their gates): their copies keep the data steps and the cutover, not the contract, shadow and canary gates."""
    plan = yaml.safe_load(path.read_text())
    kept = {"provision", "capture", "copy", "sync", "verify", "cutover", "decommission"}
    plan["steps"] = [step for step in plan["steps"]
                     if (step if isinstance(step, str) else next(iter(step))) in kept]
    path.write_text(yaml.safe_dump(plan, sort_keys=False))


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
        ledger = OrdersLedger(stack.router_url, products=4,
                              readers=["customer8@example.com", "customer9@example.com", "customer14@example.com"],
                              customers=[f"customer{n}@example.com" for n in (10, 11, 12, 13)])
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

        # Then the shipments, under both ledgers.
        move_the_shipments(stack, traffic, ledger)
    finally:
        if ledger is not None:
            ledger.stop()
        readers.stop()
        traffic.stop()

    print(f"traffic: {dict(traffic.tally.by_step)}; order reads by status: {dict(ledger.reads)}")
    assert traffic.tally.total("failed") == 0, traffic.tally.failures[:10]
    assert set(ledger.reads) == {"200", "anonymous 401"}, ledger.reads
    settle(lambda: held_reservations(stack) == 0)
    assert_ledger(ledger)
    assert_ledger(ledger, stack.orders_http, identity_secret=stack.secrets["ROUTER_IDENTITY_SECRET"])
    report = ledger.check()
    assert report.counts["acknowledged"] > 40, report.counts
    assert report.counts["ambiguous"] == 0, report.answers
    # Refused: only by the write freezes.
    assert all(answer.endswith("503 write_freeze") for answer in report.answers if "then" not in answer), \
        report.answers
    assert report.cancels.get("acknowledged", 0) > 3, report.cancels


def assert_shipments(shipments: ShipmentsLedger, base: str | None = None, **kw: dict[str, str]) -> None:
    report = shipments.check(base, **kw)
    print(f"shipments ledger at {base or 'the router'}: writes {report.counts}, {report.shipments} shipments and "
          f"{report.moves} acknowledged moves found; answers {report.answers}; reads {report.reads}")
    assert report.ok, report.problems[:10]


def one_shipment_each(stack: Stack, ledger: OrdersLedger) -> None:
    """Every acknowledged checkout's order has exactly one shipment at shipping's owner (the saga asked for it
    through the router, whichever side owned the shipments then), cancelled exactly when its cancel was."""
    staff = {"Authorization": f"Token {ledger_staff_token(stack)}"}
    problems = []
    # The orders ledger goes on checking out: what was placed before the reading began is what is checked (an
    # order is acknowledged only after its shipment was asked for).
    placed_before = {customer.email: list(customer.placed) for customer in ledger.customers}
    with httpx.Client(base_url=stack.router_url, timeout=30, headers=staff) as http:
        by_order = shipments_by_order(http)
    for customer in ledger.customers:
        for placed in placed_before[customer.email]:
            found = by_order.get(placed.id, [])
            if len(found) != 1:
                problems.append(f"order {placed.id}: {len(found)} shipments")
            elif placed.cancelled is not None and (found[0]["status"] == "cancelled") != placed.cancelled:
                problems.append(f"order {placed.id}: shipment {found[0]['status']}, cancel acknowledged: "
                                f"{placed.cancelled}")
    assert not problems, problems[:10]


def ledger_staff_token(stack: Stack) -> str:
    with httpx.Client(base_url=stack.router_url, timeout=30) as http:
        response = http.post("/api/accounts/login/", json={"email": "staff@example.com",
                                                            "password": "shop-demo-password"})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token


def orders_follow_the_service(stack: Stack, ledger: OrdersLedger) -> None:
    """A shipment staff move at the shipping service moves its order at the orders service (the service's
    outbox, its relay, the bus, the orders' follower): pack an acknowledged order's shipment, see it processing."""
    staff = {"Authorization": f"Token {ledger_staff_token(stack)}"}
    with httpx.Client(base_url=stack.router_url, timeout=30, headers=staff) as http:
        for customer in ledger.customers:
            for placed in reversed(customer.placed):
                shipment = http.get("/api/shipping/shipments/", params={"order": placed.id}).json()["results"]
                if not shipment or shipment[0]["status"] != "pending":
                    continue
                moved = http.post(f"/api/shipping/shipments/{shipment[0]['id']}/status/", json={"status": "packed"})
                if moved.status_code != 200:  # cancelled meanwhile by its customer: another one
                    continue
                order_url, client = f"/api/orders/{placed.id}/", customer.client
                settle(lambda: client.get(order_url).json()["status"] == "processing", 30)  # noqa: B023 - called now
                return
    raise AssertionError("no pending shipment of an acknowledged order to move")


def lighter_gates(path: Path) -> None:
    """The shipping plan's copy without its contract gate (tests/extracted/shipping/test_contract.py holds the
    service to the monolith request by request) and its second canary (the first, then the cutover, already send
    the service its share, then all): this test's CI minutes go to the moves under traffic."""
    plan = yaml.safe_load(path.read_text())
    canaries = [step for step in plan["steps"] if isinstance(step, dict) and "canary" in step]
    plan["steps"] = [step for step in plan["steps"]
                     if not (isinstance(step, dict) and ("contract" in step or step in canaries[1:]))]
    path.write_text(yaml.safe_dump(plan, sort_keys=False))


def move_the_shipments(stack: Stack, traffic: Traffic, ledger: OrdersLedger) -> ShipmentsLedger:
    plan = str(stack.shipping_plan_path)
    lighter_gates(stack.shipping_plan_path)
    smaller_gates(stack.shipping_plan_path)
    run(stack, "run", plan, "--to", "verify", "--yes")
    stack.start_shipping_service()
    stack.start_shipping_relay()
    stack.start_follower(stack.shipping_plan_path, "shipping-follower")
    shipments = ShipmentsLedger(stack.router_url, service_token=stack.secrets["ORDERS_SERVICE_TOKEN"],
                                customers=["customer3@example.com", "customer4@example.com"],
                                readers=["customer6@example.com", "customer7@example.com"])
    shipments.start()
    try:
        run_to(stack, traffic, plan, "shipping", ("shadow", "canary-10", "cutover"))
        traffic.step = "shipping after-cutover"
        status = run(stack, "status", plan)
        verify = status["figures"]["cutover"]["verify"]
        assert verify["ok"] and {t["target"] for t in verify["tables"]} == {"shipments", "shipment_events"}, verify
        live = status["live"]["routes"]
        assert live["shipping-reads"]["backend"] == live["shipping-writes"]["backend"] == "shipping"
        made = len(shipments.made)
        settle(lambda: len(shipments.made) >= made + 3, 120)

        traffic.step = "shipping rollback"
        outcome = run(stack, "rollback", plan, "--to", "verify")
        assert outcome["ok"] and outcome["at"] == "verify", outcome
        traffic.step = "shipping after-rollback"
        made = len(shipments.made)
        settle(lambda: len(shipments.made) >= made + 3, 120)
        shipments.stop()
        assert_shipments(shipments)
        assert_shipments(shipments, stack.monolith_http)
        shipments.start()

        run_to(stack, traffic, plan, "shipping", ("shadow", "canary-10", "cutover", "decommission"))
        traffic.step = "shipping after-decommission"
        made = len(shipments.made)
        settle(lambda: len(shipments.made) >= made + 3, 120)
        orders_follow_the_service(stack, ledger)
    finally:
        shipments.stop()
    ledger.stop()   # its cancels must not race the reading of the shipments they cancel
    assert_shipments(shipments)
    assert_shipments(shipments, stack.shipping_http, headers={"X-Identity-Token": staff_identity(stack)})
    report = shipments.check()
    assert report.moves > 20 and report.counts.get("ambiguous", 0) == 0, report
    assert set(report.reads) <= {"200", "200 other 404", "anonymous 401", "no other's yet"}, report.reads
    one_shipment_each(stack, ledger)
    return shipments


def staff_identity(stack: Stack) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "1", "staff": True, "iat": now, "exp": now + 600, "iss": "strangler-router",
                       "aud": "strangler-services"}, stack.secrets["ROUTER_IDENTITY_SECRET"], algorithm="HS256")
