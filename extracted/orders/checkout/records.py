"""The checkout's own writes in the orders database, each safe to run again (a saga step is at least once):

- :func:`take_on` records a checkout the first time its key is seen (the key, the hash of what it asked),
  and tells a repeat from a reuse of the key for another body;
- :func:`create_order` writes the order (status ``pending``: the API shows it to nobody yet) and its lines
  once per checkout; run again, it finds the order its first run made;
- :func:`place_order` moves it to ``placed`` and records ``orders.order.placed`` in the same transaction;
- :func:`drop_order` is the compensation: the pending order and its lines go, as if never made.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from extracted.orders.events.outbox import record
from extracted.orders.models import checkouts, order_lines, orders, outbox

PENDING: Final = "pending"   # made by a checkout still running: neither listed nor found by the API
PLACED: Final = "placed"
ORDER_PLACED: Final = "orders.order.placed"
SHIPPING_FIELDS: Final = ("full_name", "line1", "line2", "city", "postal_code", "country")


def now() -> datetime:
    return datetime.now(timezone.utc)


def take_on(engine: Engine, workflow_id: str, user_id: int, key: str, request_hash: str) -> str | None:
    """Records the checkout; None when it is new or a repeat of the same request, else the stored hash (the key
    reused for another body)."""
    for _ in range(2):
        with engine.connect() as conn:
            found = conn.execute(select(checkouts.c.request_hash).where(
                checkouts.c.workflow_id == workflow_id)).scalar_one_or_none()
        if found is not None:
            return None if found == request_hash else str(found)
        try:
            with engine.begin() as conn:
                conn.execute(insert(checkouts).values(workflow_id=workflow_id, user_id=user_id, idempotency_key=key,
                                                      request_hash=request_hash, created_at=now()))
            return None
        except IntegrityError:
            continue   # the same key at the same moment: the other request's row is read on the next round
    raise RuntimeError(f"checkout {workflow_id}: neither recorded nor found")


def create_order(engine: Engine, workflow_id: str, user_id: int, shipping: dict[str, str],
                 quantities: dict[int, int], products: dict[int, dict[str, Any]]) -> int:
    """The pending order of this checkout, made once: lines in product id order, each with the product's sku,
    name and price as the catalog answered them (the snapshot the order keeps)."""
    with engine.begin() as conn:
        made = conn.execute(select(checkouts.c.order_id).where(checkouts.c.workflow_id == workflow_id)
                            .with_for_update()).scalar_one_or_none()
        if made is not None:
            return int(made)
        at = now()
        total = sum((Decimal(products[pid]["price"]) * n for pid, n in quantities.items()), Decimal("0.00"))
        made_key = conn.execute(insert(orders).values(
            user_id=user_id, status=PENDING, total=total, created_at=at, updated_at=at,
            **{f"ship_{name}": shipping.get(name, "") for name in SHIPPING_FIELDS})).inserted_primary_key
        assert made_key is not None
        order_id = made_key[0]
        conn.execute(insert(order_lines), [
            {"order_id": order_id, "product_id": pid, "sku": products[pid]["sku"], "name": products[pid]["name"],
             "unit_price": Decimal(products[pid]["price"]), "quantity": n}
            for pid, n in sorted(quantities.items())])
        conn.execute(update(checkouts).where(checkouts.c.workflow_id == workflow_id).values(order_id=order_id))
        return int(order_id)


def place_order(engine: Engine, order_id: int, shipment: dict[str, Any]) -> None:
    """pending -> placed, and the event saying so, in one transaction; a repeat changes nothing."""
    with engine.begin() as conn:
        row = conn.execute(select(orders.c.user_id, orders.c.total).where(
            and_(orders.c.id == order_id, orders.c.status == PENDING))).first()
        if row is None:
            return
        at = now()
        conn.execute(update(orders).where(orders.c.id == order_id).values(status=PLACED, updated_at=at))
        lines = conn.execute(select(order_lines.c.product_id, order_lines.c.quantity).where(
            order_lines.c.order_id == order_id).order_by(order_lines.c.id))
        record(conn, outbox, ORDER_PLACED, {
            "order": order_id, "user": row.user_id, "total": str(row.total), "shipment": shipment.get("id"),
            "lines": [{"product": line.product_id, "quantity": line.quantity} for line in lines]},
            source="orders", at=at)


def drop_order(engine: Engine, workflow_id: str) -> None:
    """The compensation of :func:`create_order`: the checkout's pending order and its lines are deleted (a
    failed checkout leaves no order); a repeat, or a checkout that made none, changes nothing."""
    with engine.begin() as conn:
        order_id = conn.execute(select(checkouts.c.order_id).where(checkouts.c.workflow_id == workflow_id)
                                .with_for_update()).scalar_one_or_none()
        if order_id is None:
            return
        if conn.execute(delete(orders).where(and_(orders.c.id == order_id, orders.c.status == PENDING))).rowcount:
            conn.execute(delete(order_lines).where(order_lines.c.order_id == order_id))
        conn.execute(update(checkouts).where(checkouts.c.workflow_id == workflow_id).values(order_id=None))


CANCELLABLE: Final = ("placed", "processing")
CANCELLED: Final = "cancelled"
ORDER_CANCELLED: Final = "orders.order.cancelled"


def order_lines_of(engine: Engine, order_id: int) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(order_lines.c.product_id, order_lines.c.quantity).where(
            order_lines.c.order_id == order_id).order_by(order_lines.c.id))
        out: dict[int, int] = {}
        for row in rows:
            out[row.product_id] = out.get(row.product_id, 0) + row.quantity
        return out


def mark_cancelled(engine: Engine, order_id: int) -> None:
    """placed/processing -> cancelled, and the event saying so, in one transaction; a repeat changes nothing."""
    with engine.begin() as conn:
        at = now()
        moved = conn.execute(update(orders).where(and_(orders.c.id == order_id, orders.c.status.in_(CANCELLABLE)))
                             .values(status=CANCELLED, updated_at=at)).rowcount
        if moved:
            lines = conn.execute(select(order_lines.c.product_id, order_lines.c.quantity).where(
                order_lines.c.order_id == order_id).order_by(order_lines.c.id))
            record(conn, outbox, ORDER_CANCELLED, {
                "order": order_id, "lines": [{"product": r.product_id, "quantity": r.quantity} for r in lines]},
                source="orders", at=at)
