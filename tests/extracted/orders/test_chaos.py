"""Chaos: concurrent checkouts through the router while the orders service, the catalog service and the
monolith's event relay are each SIGKILLed and started again at random moments.

Six customers check out in a loop through the router (their API tokens; the router mints the identity token the
orders service verifies), each with an Idempotency-Key it keeps until it has a definitive answer: an ambiguous
one (no answer, 502/503, ``checkout_pending``) is asked again with the same key. Staff move some shipments on
(events the orders service follows). Meanwhile a killer picks one of the three processes every 1.5-3 s, kills it
with SIGKILL and starts it again. Afterwards everything settles (no workflow pending) and the outcome is held
against the ledger of what the customers were told, in every owner's database:

- every acknowledged order exists once, placed, with the lines its cart had, its stock taken once (each product's
  stock is its initial stock less the acknowledged orders' quantities), its reservation committed;
- every failed checkout left no order, no reservation held, and its cart as it was;
- no reservation is held at all;
- every ``orders.order.placed`` event was written once per order, and every shipment moved by staff moved its
  order (the event applied, once: the inbox's key).
"""

from __future__ import annotations

import json
import random
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from extracted.cart.models import cart_items, carts
from extracted.catalog.models import reservations
from extracted.orders.models import checkouts, inbox, orders
from strangler.processes import ManagedProcess
from tests.extracted.orders.conftest import NOW, SECRET, Stage
from tests.support.servers import ROOT, running_router

pytestmark = pytest.mark.slow

CUSTOMERS = [f"customer{n}@example.com" for n in range(2, 8)]   # user ids 3..8
CHAOS_SECONDS = 25.0
INITIAL_STOCK = 400   # enough for most checkouts to be placed; a few products run short anyway


@dataclass
class Outcome:
    user: int
    key: str
    cart: dict[int, int]
    status: int = 0                  # the definitive answer's status (201, 400, 409, 503 checkout_unavailable)
    order: dict[str, Any] | None = None
    asked: int = 0
    cart_after: dict[int, int] | None = None
    packed: bool = False             # staff packed its shipment (the order must follow: processing)


@dataclass
class Chaos:
    stage: Stage
    router: str
    relay: ManagedProcess
    kills: dict[str, int] = field(default_factory=lambda: {"orders": 0, "catalog": 0, "relay": 0})
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    def restart(self, name: str) -> None:
        process = {"orders": self.stage.process, "catalog": self.stage.catalog_process, "relay": self.relay}[name]
        assert process is not None and process.proc is not None
        process.proc.kill()
        process.proc.wait(10)
        self.kills[name] += 1
        time.sleep(random.uniform(0.2, 1.2))
        process.start()
        if name == "orders":
            process.wait_healthy(f"{self.stage.orders_url}/healthz", timeout=60)
        elif name == "catalog":
            process.wait_healthy(f"{self.stage.catalog_url}/healthz", timeout=60)

    def killer(self) -> None:
        """Rounds of the three in a random order, a random pause before each kill: each is killed, often."""
        while not self.stop.is_set():
            for name in random.sample(["orders", "catalog", "relay"], 3):
                if self.stop.wait(random.uniform(1.0, 2.5)):
                    return
                try:
                    self.restart(name)
                except Exception as exc:  # noqa: BLE001 - reported by the test
                    self.errors.append(f"killer: {exc}")


def _set_cart(stage: Stage, user: int, lines: dict[int, int]) -> None:
    with stage.cart.begin() as conn:
        cart_id = conn.execute(select(carts.c.id).where(carts.c.user_id == user)).scalar()
        if cart_id is None:
            cart_id = conn.execute(carts.insert().values(user_id=user, created_at=NOW, updated_at=NOW)
                                   ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(delete(cart_items).where(cart_items.c.cart_id == cart_id))
        for product, quantity in lines.items():
            conn.execute(cart_items.insert().values(cart_id=cart_id, product_id=product, quantity=quantity,
                                                    added_at=NOW))


def _ask(http: httpx.Client, outcome: Outcome, deadline: float, stop_asking: Callable[[], bool]) -> None:
    """Asks until a definitive answer (or the deadline): the same key every time."""
    while time.monotonic() < deadline:
        outcome.asked += 1
        try:
            answer = http.post("/api/orders/checkout/", json={"shipping_address": {
                "full_name": "Chaos", "line1": "1 Road", "city": "Oslo", "postal_code": "0150", "country": "no"}},
                headers={"Idempotency-Key": outcome.key})
        except httpx.HTTPError:
            time.sleep(0.3)
            continue
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        definitive = answer.status_code in (201, 400, 409, 422) or (
            answer.status_code == 503 and body.get("code") == "checkout_unavailable")
        if definitive:
            outcome.status = answer.status_code
            outcome.order = body if answer.status_code == 201 else None
            return
        if stop_asking():
            time.sleep(0.5)
        time.sleep(0.3)


def _customer(chaos: Chaos, email: str, products: list[int], ledger: list[Outcome], to_pack: list[Outcome]) -> None:
    stage = chaos.stage
    with httpx.Client(base_url=chaos.router, timeout=45) as http:
        login = http.post("/api/accounts/login/", json={"email": email, "password": "shop-demo-password"})
        assert login.status_code == 200, login.text
        http.headers["Authorization"] = f"Token {login.json()['token']}"
        user = int(http.get("/api/accounts/me/").json()["id"])
        rng = random.Random(email)
        while not chaos.stop.is_set():
            lines = {p: rng.randint(1, 3) for p in rng.sample(products, rng.randint(1, 2))}
            _set_cart(stage, user, lines)
            outcome = Outcome(user=user, key=f"chaos-{uuid.uuid4().hex}", cart=lines)
            ledger.append(outcome)
            _ask(http, outcome, time.monotonic() + 120, chaos.stop.is_set)
            if outcome.status and outcome.status != 201:
                outcome.cart_after = stage.cart_of(user)
            if outcome.order and rng.random() < 0.3:   # staff will pack it: the orders service follows
                to_pack.append(outcome)


def _packer(chaos: Chaos, to_pack: list[Outcome]) -> None:
    """Staff packing shipments in the monolith (its shipping services, as the staff API calls them: the shipment's
    order row is not in the monolith here, where no data split runs), a few at a time."""
    while not chaos.stop.wait(3.0):
        batch, to_pack[:] = to_pack[:5], to_pack[5:]
        if not batch:
            continue
        ids = [o.order["shipment"]["id"] for o in batch if o.order]
        code = ("from legacy_monolith.shipping.services import shipment_set_status\n"
                f"for pk in {ids!r}: shipment_set_status(pk, status='packed')")
        try:
            chaos.stage.shop.manage("shell", "-c", code)
        except RuntimeError as exc:
            chaos.errors.append(f"packer: {exc}")
            continue
        for outcome in batch:
            outcome.packed = True


def _settle(stage: Stage, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with stage.catalog.connect() as conn:
            held = conn.execute(select(reservations.c.id).where(reservations.c.state == "held")).all()
        if not held and stage.pending_workflows() == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"not settled: {stage.pending_workflows()} workflows pending, {len(held)} held")


def test_checkouts_through_the_router_survive_kills_of_orders_catalog_and_relay(stage: Stage) -> None:
    products = [stage.product(stock=INITIAL_STOCK, price=f"{n}.25") for n in (3, 5, 7, 11)]
    routes = textwrap.dedent(f"""\
        version: 1
        listen: "{{listen}}"
        admin: {{listen: "{{admin_listen}}"}}
        default: monolith
        backends:
          monolith: {{targets: ["{stage.shop.url}"], health: {{interval: 0}}}}
          orders: {{targets: ["{stage.orders_url}"], health: {{interval: 0}}, timeouts: {{connect: 1, read: 30}}}}
        routes:
          orders-reads: {{path: /api/orders/, methods: [GET, HEAD, OPTIONS], backend: orders}}
          orders-writes: {{path: /api/orders/, methods: [POST, PUT, PATCH, DELETE], backend: orders}}
        identity:
          resolve_url: "{stage.shop.url}/api/accounts/me/"
          cache_seconds: 5
          token_ttl: 60
        """)
    stage.start_orders()
    relay = ManagedProcess("relay", [sys.executable, "manage.py", "publish_events"], cwd=ROOT,
                           log_path=stage.folder / "relay.log", env=stage.shop.env)
    ledger: list[Outcome] = []
    (stage.folder / "router").mkdir(exist_ok=True)
    to_pack: list[Outcome] = []
    with running_router(stage.folder / "router", routes, env={"ROUTER_IDENTITY_SECRET": SECRET}) as (url, _, _), \
            relay:
        chaos = Chaos(stage, url, relay)
        threads = [threading.Thread(target=_customer, args=(chaos, email, products, ledger, to_pack), daemon=True)
                   for email in CUSTOMERS]
        helpers = [threading.Thread(target=chaos.killer, daemon=True),
                   threading.Thread(target=_packer, args=(chaos, to_pack), daemon=True)]
        for thread in [*threads, *helpers]:
            thread.start()
        time.sleep(CHAOS_SECONDS)
        chaos.stop.set()
        for thread in helpers:
            thread.join(90)
        for thread in threads:
            thread.join(150)
        assert not any(t.is_alive() for t in threads), "a customer is still asking"
        for name, process in (("orders", stage.process), ("catalog", stage.catalog_process), ("relay", relay)):
            assert process is not None and process.running, f"{name} is not running after the chaos"
        _settle(stage)
        time.sleep(3)   # the relay publishes, the orders service follows
        print(f"kills: {chaos.kills}; checkouts: {len(ledger)}; answers: {Counter(o.status for o in ledger)}; "
              f"asked again: {sum(o.asked - 1 for o in ledger)}; packed: {sum(o.packed for o in ledger)}")
        assert not chaos.errors, chaos.errors[:5]
        assert min(chaos.kills.values()) >= 1, chaos.kills
        _hold(stage, ledger, products)
    stage.stop_orders()


def _hold(stage: Stage, ledger: list[Outcome], products: list[int]) -> None:
    undecided = [o for o in ledger if not o.status]
    assert not undecided, f"{len(undecided)} checkouts never got a definitive answer"
    placed = [o for o in ledger if o.status == 201]
    failed = [o for o in ledger if o.status != 201]
    assert placed, "no checkout was placed at all"
    users = sorted({o.user for o in ledger})
    with stage.orders.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(orders).where(orders.c.user_id.in_(users)))}
        by_workflow = {r.idempotency_key: r.order_id for r in conn.execute(
            select(checkouts.c.idempotency_key, checkouts.c.order_id).where(checkouts.c.user_id.in_(users)))}
        follows = conn.execute(select(inbox.c.event_id)).scalars().all()
    # every acknowledged order exists once, placed (or moved on by its shipment), with its cart's lines
    acknowledged = {o.order["id"]: o for o in placed if o.order}
    assert sorted(rows) == sorted(acknowledged), "orders in the database are exactly the acknowledged ones"
    for order_id, outcome in acknowledged.items():
        assert rows[order_id].status in ("placed", "processing"), (order_id, rows[order_id].status)
        assert stage.lines_of(order_id) == outcome.cart, order_id
        assert by_workflow[outcome.key] == order_id
    # every failed checkout: no order, its cart as it was
    for outcome in failed:
        assert by_workflow.get(outcome.key) is None, outcome
        assert outcome.cart_after == outcome.cart, outcome
    # stock taken once per acknowledged order; nothing held
    for product in products:
        taken = sum(o.cart.get(product, 0) for o in placed)
        assert stage.stock(product) == INITIAL_STOCK - taken, product
    with stage.catalog.connect() as conn:
        states = dict(conn.execute(select(reservations.c.idempotency_key, reservations.c.state)).all())
    assert "held" not in states.values()
    for outcome in placed:
        assert states[_workflow(outcome)] == "committed", outcome
    for outcome in failed:
        assert states.get(_workflow(outcome)) in (None, "released", "expired"), outcome
    # events: one placed event per order; the shipments moved by staff moved their orders, each event once
    placed_events = [json.loads(e)["data"]["order"] for e in stage.events("orders.order.placed")]
    for order_id in acknowledged:
        assert placed_events.count(order_id) == 1, order_id
    assert len(follows) == len(set(follows))
    for outcome in placed:
        assert outcome.order is not None
        assert rows[outcome.order["id"]].status == ("processing" if outcome.packed else "placed"), outcome


def _workflow(outcome: Outcome) -> str:
    from extracted.orders.checkout.api import workflow_id

    return workflow_id(outcome.user, outcome.key)
