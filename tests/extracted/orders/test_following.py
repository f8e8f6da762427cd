"""The order follows its shipment by event: shipping (the monolith) moves a shipment, records
``shipping.shipment.changed`` in the same transaction, its relay publishes it on the bus, and the orders service's
consumer moves the order, once per event and in the shipment's own order."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from extracted.orders.events.inbox import Event
from extracted.orders.following import apply
from extracted.orders.models import followed_shipments, orders
from tests.extracted.catalog.events.conftest import NATS_URL, nats_answers
from tests.extracted.orders.conftest import REPO, Stage


def _move(stage: Stage, shipment: int, *moves: tuple[str, str]) -> None:
    code = "; ".join(f"shipment_set_status({shipment}, status={status!r}, tracking_number={tracking!r})"
                     for status, tracking in moves)
    stage.shop.manage("shell", "-c", f"from legacy_monolith.shipping.services import shipment_set_status; {code}")


async def _forget_shipment_events() -> None:
    import nats

    from extracted.orders.events.jetstream import PREFIX, STREAM

    connection = await nats.connect(NATS_URL)
    try:
        js = connection.jetstream()
        try:
            await js.purge_stream(STREAM, subject=f"{PREFIX}shipping.shipment.changed")
        except nats.js.errors.NotFoundError:
            pass   # no stream yet: nothing to forget
    finally:
        await connection.close()


def _publish(stage: Stage, env: dict[str, str]) -> None:
    """The monolith's relay, once, to the bus the test uses."""
    done = subprocess.run([sys.executable, "manage.py", "publish_events", "--once"], cwd=REPO, timeout=120,  # noqa: S603
                          env={**stage.shop.env, **{k: v for k, v in env.items() if k == "EVENTS_URL"}},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def _status_becomes(stage: Stage, user: int, status: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while [o["status"] for o in stage.orders_of(user)] != [status]:
        assert time.monotonic() < deadline, (stage.orders_of(user), stage.process.log_tail() if stage.process else "")
        time.sleep(0.1)


@pytest.mark.parametrize("bus", ["embedded", "jetstream"])
def test_the_order_follows_its_shipment_by_event(stage: Stage, bus: str) -> None:
    env = {}
    if bus == "jetstream":
        if not nats_answers():
            pytest.skip(f"no NATS server answers at {NATS_URL}")
        # This test's own cursor on the shared server, and none of the earlier runs' shipment events: their
        # shipment ids are this run's too (small integers from a fresh monolith), with newer versions.
        env = {"EVENTS_URL": NATS_URL, "ORDERS_FOLLOW_DURABLE": f"orders-follow-{uuid.uuid4().hex[:10]}"}
        asyncio.run(_forget_shipment_events())
    running = stage
    running.start_orders(**env)
    knife = running.product(stock=5)
    user = running.new_user()
    running.fill_cart(user, {knife: 1})
    order = running.checkout(user).json()
    shipment = order["shipment"]["id"]
    _move(running, shipment, ("packed", ""))
    _publish(running, env)
    _status_becomes(running, user, "processing")
    _move(running, shipment, ("shipped", "TRACK-1"), ("delivered", ""))
    _publish(running, env)
    _status_becomes(running, user, "delivered")
    running.stop_orders()
    with running.orders.connect() as conn:
        row = conn.execute(select(followed_shipments).where(followed_shipments.c.shipment_id == shipment)).one()
    assert (row.order_id, row.status) == (order["id"], "delivered")


def _event(shipment: int, order: int, version: int, status: str) -> Event:
    return Event(str(uuid.uuid4()), "shipping.shipment.changed", "shipping", "now",
                 {"shipment": shipment, "order": order, "version": version, "status": status, "carrier": "postal",
                  "tracking_number": ""})


@pytest.fixture
def order_engine(tmp_path):  # type: ignore[no-untyped-def]
    from extracted.orders.db import make_engine
    from extracted.orders.migrate import upgrade_head

    engine = make_engine(f"sqlite:///{tmp_path / 'orders.sqlite3'}")
    upgrade_head(engine)
    at = datetime(2026, 12, 5, tzinfo=UTC)
    with engine.begin() as conn:
        for order_id, status in ((1, "placed"), (2, "pending")):
            conn.execute(orders.insert().values(
                id=order_id, user_id=7, status=status, total=1, ship_full_name="A", ship_line1="B", ship_line2="",
                ship_city="C", ship_postal_code="D", ship_country="SE", created_at=at, updated_at=at))
    yield engine
    engine.dispose()


def _status(engine, order_id: int) -> str:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return str(conn.execute(select(orders.c.status).where(orders.c.id == order_id)).scalar_one())


def test_a_late_older_event_does_not_undo_a_newer_one(order_engine) -> None:  # type: ignore[no-untyped-def]
    with order_engine.begin() as conn:
        apply(conn, _event(10, 1, 3, "shipped"))
        apply(conn, _event(10, 1, 2, "packed"))   # delivered by the bus after the newer one
    assert _status(order_engine, 1) == "shipped"
    with order_engine.begin() as conn:
        apply(conn, _event(10, 1, 4, "delivered"))
    assert _status(order_engine, 1) == "delivered"


def test_a_pending_order_is_left_to_its_checkout_and_a_malformed_event_to_the_log(order_engine, caplog) -> None:  # type: ignore[no-untyped-def]
    with order_engine.begin() as conn:
        apply(conn, _event(11, 2, 1, "pending"))
        apply(conn, Event("x", "shipping.shipment.changed", "shipping", "now", {"shipment": "eleven"}))
    assert _status(order_engine, 2) == "pending"
    assert "missing or of the wrong kind" in caplog.text
    assert json.dumps  # noqa: B018 - imported for the payloads above
