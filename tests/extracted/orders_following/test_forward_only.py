"""The orders service's shipment consumer moves an order forward only. The events it postponed while the monolith
owned the orders come again after the cutover, when the copy already holds what the monolith made of them and of
what came after: a late "pending" must not place a cancelled order again. Found by the orders plan's run under
traffic (tests/e2e/test_orders_migration.py): a cancel the monolith acknowledged before the cutover was undone at
the service by the shipment's first event, and the order was placed again after the rollback (its stock returned).

(Here rather than in tests/extracted/orders/, which holds the consumer's tests through real processes.)"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from extracted.orders.db import make_engine
from extracted.orders.events.inbox import Event
from extracted.orders.following import apply
from extracted.orders.migrate import upgrade_head
from extracted.orders.models import followed_shipments, orders

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(f"sqlite:///{tmp_path / 'orders.sqlite3'}")
    upgrade_head(made)
    return made


def order(engine: Engine, status: str) -> int:
    with engine.begin() as conn:
        return int(conn.execute(insert(orders).values(
            user_id=7, status=status, total=Decimal("10.00"), ship_full_name="A", ship_line1="1 Way", ship_line2="",
            ship_city="Town", ship_postal_code="1", ship_country="SE", created_at=NOW, updated_at=NOW)
        ).inserted_primary_key[0])  # type: ignore[index]


def shipment_changed(engine: Engine, order_id: int, version: int, status: str) -> None:
    event = Event(id=f"e-{order_id}-{version}", subject="shipping.shipment.changed", source="shipping", at="",
                  data={"shipment": order_id + 1000, "order": order_id, "version": version, "status": status})
    with engine.begin() as conn:
        apply(conn, event)


def status_of(engine: Engine, order_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(orders.c.status).where(orders.c.id == order_id)).scalar_one())


@pytest.mark.parametrize(("now", "late"), [("cancelled", "pending"), ("cancelled", "packed"),
                                           ("shipped", "packed"), ("delivered", "in_transit"),
                                           ("processing", "pending")])
def test_a_late_event_never_moves_an_order_back(engine: Engine, now: str, late: str) -> None:
    order_id = order(engine, now)
    shipment_changed(engine, order_id, 1, late)
    assert status_of(engine, order_id) == now
    with engine.connect() as conn:   # still recorded as followed: the newer events are held to it
        assert conn.execute(select(followed_shipments.c.version)).scalar_one() == 1


def test_forward_moves_are_applied(engine: Engine) -> None:
    order_id = order(engine, "placed")
    for version, status, expected in ((1, "pending", "placed"), (2, "packed", "processing"),
                                      (3, "shipped", "shipped"), (4, "in_transit", "shipped"),
                                      (5, "delivered", "delivered")):
        shipment_changed(engine, order_id, version, status)
        assert status_of(engine, order_id) == expected
    cancelled = order(engine, "processing")
    shipment_changed(engine, cancelled, 1, "cancelled")
    assert status_of(engine, cancelled) == "cancelled"
    pending = order(engine, "pending")   # its checkout places it
    shipment_changed(engine, pending, 1, "cancelled")
    assert status_of(engine, pending) == "pending"
