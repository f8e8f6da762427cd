"""The order follows its shipment, by event (no longer by the monolith's signal): shipping records
``shipping.shipment.changed`` (``{shipment, order, status, carrier, tracking_number, version}``) in the
transaction of each change, its relay publishes it, and this consumer (durable ``orders-follow-shipments``, or
``ORDERS_FOLLOW_DURABLE``: deployments sharing one bus keep their own cursors)
moves the order's status as the monolith's receiver did:

    pending -> placed, packed -> processing, shipped/in_transit -> shipped, delivered -> delivered,
    cancelled -> cancelled

Applied once per event (the inbox), and in the shipment's own order whatever order the bus delivers in: the
newest applied ``version`` of each shipment is kept (``followed_shipments``), an older event is skipped. An
order still ``pending`` (its checkout is running: the saga places it) is left alone, and an order only ever moves
forward (placed, processing, shipped, delivered; cancelled from placed or processing, as its shipment can): the
events postponed while the monolith owned the orders come again after the cutover, when the copy already holds
what the monolith's receiver made of them and of later changes (a cancel), and a late "pending" must not place a
cancelled order again (found by the orders plan's run under traffic: a cancel acknowledged by the monolith before
the cutover, undone at the service by its shipment's first event, the order placed again after the rollback).

Until the orders are cut over the monolith owns them: this service's copy refuses the write (read-only), and the
event is postponed (:class:`~.events.exceptions.Postpone`), to be applied once the service owns the orders; the
monolith's receiver follows the shipment meanwhile. The consumer runs inside the service (:func:`follow`),
started and stopped with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any, Final

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import DBAPIError

from extracted.orders.db import refused_as_read_only, var_dir
from extracted.orders.events.bus import connect, events_url
from extracted.orders.events.exceptions import EventsError, Postpone
from extracted.orders.events.inbox import Consumer, Event
from extracted.orders.models import followed_shipments, inbox, orders

DURABLE_ENV: Final = "ORDERS_FOLLOW_DURABLE"
DURABLE: Final = "orders-follow-shipments"   # the default: one cursor per deployment sharing a bus
SUBJECT: Final = "shipping.shipment.changed"
ORDER_STATUS_FOR_SHIPMENT: Final = {"pending": "placed", "packed": "processing", "shipped": "shipped",
                                    "in_transit": "shipped", "delivered": "delivered", "cancelled": "cancelled"}
# The statuses an order may move to each status from (never back: a shipment only moves forward).
MOVES_FROM: Final = {"placed": (), "processing": ("placed",), "shipped": ("placed", "processing"),
                     "delivered": ("placed", "processing", "shipped"), "cancelled": ("placed", "processing")}

log = logging.getLogger("extracted.orders.following")


def _fields(event: Event) -> tuple[int, int, int, str] | None:
    data: dict[str, Any] = event.data
    shipment, order, version, status = (data.get(name) for name in ("shipment", "order", "version", "status"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (shipment, order, version)) \
            or status not in ORDER_STATUS_FOR_SHIPMENT:
        return None
    return shipment, order, version, str(status)  # type: ignore[return-value]


def apply(conn: Connection, event: Event) -> None:
    """One event, in the consumer's transaction."""
    fields = _fields(event)
    if fields is None:   # never applicable: logged, and recorded as seen so that it does not come back
        log.error("%s %s: shipment, order, version or status missing or of the wrong kind: %s", event.subject,
                  event.id, str(event.data)[:300])
        return
    shipment, order_id, version, status = fields
    try:
        known = conn.execute(select(followed_shipments.c.version).where(
            followed_shipments.c.shipment_id == shipment)).scalar_one_or_none()
        if known is not None and known >= version:
            return   # an older (or the same) change, arriving late: the newer one stands
        wanted = ORDER_STATUS_FOR_SHIPMENT[status]
        if MOVES_FROM[wanted]:
            conn.execute(update(orders).where(and_(orders.c.id == order_id, orders.c.status.in_(MOVES_FROM[wanted])))
                         .values(status=wanted, updated_at=datetime.now(timezone.utc)))
        if known is None:
            conn.execute(insert(followed_shipments).values(shipment_id=shipment, order_id=order_id, version=version,
                                                          status=status))
        else:
            conn.execute(update(followed_shipments).where(followed_shipments.c.shipment_id == shipment)
                         .values(version=version, status=status))
    except DBAPIError as exc:
        if refused_as_read_only(exc):
            raise Postpone("the orders are the monolith's until the cutover") from None
        raise


@contextlib.asynccontextmanager
async def follow(engine: Engine) -> AsyncIterator[Consumer | None]:
    """Runs the consumer in the background while the body runs (None: the bus could not be opened; the service
    serves anyway and says so in its log)."""
    try:
        transport = await connect(events_url(var_dir()))
    except EventsError as exc:
        log.error("not following shipments: %s", exc)
        yield None
        return
    durable = os.environ.get(DURABLE_ENV, "").strip() or DURABLE
    consumer = Consumer(engine, inbox, transport, name=durable, subject_filter=SUBJECT, handler=apply)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield consumer
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 5)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - shutting down: what is not applied comes again
            task.cancel()
        await transport.close()
