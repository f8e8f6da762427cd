"""Writes of shipping (the styleguide's services): a status change by staff, and the checkout saga's shipment
request and cancel; each one transaction (SQLAlchemy Core) with its history row and its event.

Every status change is one conditional UPDATE (the shipment moves only from a status that allows the new one),
so two changes racing each other cannot both pass the check, on any engine and without holding a read lock
first; when it matches nothing, the row is read to say why (missing, not allowed, no tracking number) in the
monolith's order. The change's history row and its ``shipping.shipment.changed`` event (the outbox: the relay
publishes it once committed) are written in the same transaction; the event's ``version`` is the history row's
id, which keeps growing across the cutover (the copied ids come first), so a consumer keeps the newest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Connection, Engine, Table, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from .errors import IdempotencyConflict, InvalidTransition
from .events.outbox import record
from .exceptions import NotFound, ValidationFailed
from .models import Shipment, ShipmentEvent, outbox
from .validation import StatusChange

shipments = cast(Table, Shipment.__table__)
shipment_events = cast(Table, ShipmentEvent.__table__)

SHIPMENT_CHANGED: Final = "shipping.shipment.changed"
SHIPMENT_404: Final = "No Shipment matches the given query."
# What staff may do through the API (the monolith's STAFF_TRANSITIONS). Cancelling belongs to the order.
STAFF_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "pending": frozenset({"packed"}), "packed": frozenset({"shipped"}),
    "shipped": frozenset({"in_transit", "delivered"}), "in_transit": frozenset({"delivered"}),
    "delivered": frozenset(), "cancelled": frozenset(),
}
CANCELLABLE: Final = ("pending", "packed")
COLUMNS: Final = (shipments.c.id, shipments.c.order_id, shipments.c.user_id, shipments.c.carrier,
                  shipments.c.tracking_number, shipments.c.status, shipments.c.created_at, shipments.c.updated_at)


def now_in(conn: Connection) -> datetime:
    now = datetime.now(UTC)
    # MariaDB's DATETIME has no zone: UTC wall time, like Django writes it.
    return now.replace(tzinfo=None) if conn.dialect.name in ("mysql", "mariadb") else now


def _moves_to(status: str) -> list[str]:
    return [source for source, targets in STAFF_TRANSITIONS.items() if status in targets]


def _row(conn: Connection, *conditions: Any) -> Any:
    return conn.execute(select(*COLUMNS).where(*conditions)).first()


def _changed(conn: Connection, row: Any, note: str, at: datetime) -> None:
    """The change's history row and its event, in the change's transaction."""
    key = conn.execute(insert(shipment_events).values(shipment_id=row[0], status=row[5], note=note,
                                                      created_at=at)).inserted_primary_key
    assert key is not None
    version = key[0]
    record(conn, outbox, SHIPMENT_CHANGED, {"shipment": row[0], "order": row[1], "status": row[5],
                                            "carrier": row[3], "tracking_number": row[4], "version": version},
           source="shipping")


def set_status(engine: Engine, shipment_id: int, change: StatusChange) -> None:
    """Moves the shipment as staff asked: 404 when it is gone, 409 ``invalid_transition`` (with ``current``) when
    its status does not allow the new one, 400 when shipping it has no tracking number."""
    with engine.begin() as conn:
        at = now_in(conn)
        values: dict[str, Any] = {"status": change.status, "updated_at": at}
        if change.carrier:
            values["carrier"] = change.carrier
        if change.tracking_number:
            values["tracking_number"] = change.tracking_number
        conditions = [shipments.c.id == shipment_id, shipments.c.status.in_(_moves_to(change.status))]
        if change.status == "shipped" and not change.tracking_number:
            conditions.append(shipments.c.tracking_number != "")
        if conn.execute(update(shipments).where(and_(*conditions)).values(**values)).rowcount != 1:
            _refuse(conn, shipment_id, change)
        _changed(conn, _row(conn, shipments.c.id == shipment_id), change.note, at)


def _refuse(conn: Connection, shipment_id: int, change: StatusChange) -> None:
    row = _row(conn, shipments.c.id == shipment_id)
    if row is None:
        raise NotFound(SHIPMENT_404)
    current = row[5]
    if change.status not in STAFF_TRANSITIONS[current]:
        allowed = ", ".join(sorted(STAFF_TRANSITIONS[current])) or "none"
        raise InvalidTransition(f"Cannot move shipment {shipment_id} from {current} to {change.status} "
                                f"(allowed: {allowed}).", current=current)
    raise ValidationFailed({"tracking_number": ["A tracking number is required to ship."]})


def request_shipment(engine: Engine, order_id: int, user_id: int, carrier: str) -> tuple[Any, bool]:
    """The order's shipment and whether it was made now: made ``pending`` (with its history and event) the first
    time, the same one answered after; another carrier or customer for it is 409 ``idempotency_conflict``."""
    with engine.connect() as conn:
        row = _row(conn, shipments.c.order_id == order_id)
    created = False
    if row is None:
        try:
            with engine.begin() as conn:
                at = now_in(conn)
                conn.execute(insert(shipments).values(order_id=order_id, user_id=user_id, carrier=carrier,
                                                      tracking_number="", status="pending", created_at=at,
                                                      updated_at=at))
                row = _row(conn, shipments.c.order_id == order_id)
                _changed(conn, row, "Order placed", at)
                created = True
        except IntegrityError:  # the same request at the same moment: its shipment is the answer
            with engine.connect() as conn:
                row = _row(conn, shipments.c.order_id == order_id)
            if row is None:
                raise
    if row[3] != carrier or row[2] != user_id:
        raise IdempotencyConflict(f"Order {order_id} has a shipment by {row[3]} for user {row[2]} already, not by "
                                  f"{carrier} for user {user_id}.")
    return row, created


def cancel_shipment(engine: Engine, order_id: int) -> Any | None:
    """The order's shipment, cancelled (a checkout's compensation, or the order's cancel); None when the order has
    none. Cancelled already: answered as it is. On its way (past ``packed``): 409 ``invalid_transition``."""
    with engine.begin() as conn:
        at = now_in(conn)
        moved = conn.execute(update(shipments).where(and_(shipments.c.order_id == order_id,
                                                          shipments.c.status.in_(CANCELLABLE)))
                             .values(status="cancelled", updated_at=at)).rowcount
        row = _row(conn, shipments.c.order_id == order_id)
        if moved:
            _changed(conn, row, "Checkout failed", at)
            return row
    if row is None or row[5] == "cancelled":
        return row
    raise InvalidTransition(f"Shipment {row[0]} is already {row[5]}.", current=row[5])
