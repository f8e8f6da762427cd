"""Stock reservations: stock taken for a checkout that is not finished, which comes back by itself if it never is.

``reserve`` takes the items out of stock (all or nothing, as ``stock_reserve``) and records a reservation that
expires after ``ttl_seconds``; ``commit`` keeps the stock taken for good (the order exists); ``release`` gives
it back (the checkout failed); a reservation neither committed nor released by its expiry is expired by the
sweeper (``expire_due``, run by the service every few seconds, and by ``commit`` when it finds one late).

Every state change is one conditional UPDATE from ``held`` (``... WHERE state = 'held'``), and stock moves only
when that UPDATE changed a row: a commit racing an expiry, a release sent twice, two sweepers, each moves the
stock once or not at all. ``reserve`` is idempotent by the caller's key: the same key with the same items
answers the same reservation (200, nothing taken again; two at once: one wins, the other finds it), the same
key with other items is a 409 ``idempotency_conflict``. ``give_back`` returns stock for good (a cancelled
order's, taken long ago), once per key likewise: a reservation recorded ``returned`` from the start.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from extracted.catalog.errors import IdempotencyConflict, ReservationConflict
from extracted.catalog.exceptions import NotFound, ValidationFailed
from extracted.catalog.models import reservation_items, reservations
from extracted.catalog.services import Shortage, now_in, return_stock, shortage_error, snapshots, take_stock
from extracted.catalog.validation import validate_stock_items

log = logging.getLogger("extracted.catalog.reservations")
DEFAULT_TTL = 900.0
MAX_TTL = 3600.0
MAX_KEY = 200
NOT_FOUND = "No reservation matches the given query."


def _ttl(body: Any) -> float:
    value = body.get("ttl_seconds", DEFAULT_TTL) if isinstance(body, dict) else DEFAULT_TTL
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= MAX_TTL:
        raise ValidationFailed({"ttl_seconds": [f"Ensure this value is a number from 1 to {MAX_TTL:g}."]})
    return float(value)


def _check_key(key: str | None) -> str:
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise ValidationFailed({"idempotency_key": [f"Send an Idempotency-Key header of 1 to {MAX_KEY} printable "
                                                    "characters: the same key for every retry of one checkout."]})
    return key


def _view(conn: Connection, row: Any) -> dict[str, Any]:
    items = {r.product_id: r.quantity for r in conn.execute(
        select(reservation_items.c.product_id, reservation_items.c.quantity)
        .where(reservation_items.c.reservation_id == row.id).order_by(reservation_items.c.product_id))}
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)  # naive: UTC
    return {"id": row.id, "state": row.state, "expires_at": expires.isoformat().replace("+00:00", "Z"),
            "items": [{"product": pid, "quantity": n} for pid, n in items.items()]}


def _row(conn: Connection, reservation_id: str) -> Any:
    row = conn.execute(select(reservations).where(reservations.c.id == reservation_id)).first()
    if row is None:
        raise NotFound(NOT_FOUND)
    return row


def reserve(engine: Engine, load: Callable[[], Any], key: str | None) -> tuple[dict[str, Any], bool]:
    """(the reservation, made now?): made now is 201, the same key's reservation again is 200."""
    body = load()
    quantities = validate_stock_items(body)
    ttl = _ttl(body)
    return _keyed(engine, _check_key(key), quantities, "held", ttl)


def give_back(engine: Engine, load: Callable[[], Any], key: str | None) -> tuple[dict[str, Any], bool]:
    """Stock given back for good (a cancelled order's), once per key: recorded as a reservation ``returned`` at
    once, so a repeat of the call (a cancel's step run again) finds it and gives nothing more."""
    return _keyed(engine, _check_key(key), validate_stock_items(load()), "returned", 0.0)


def _keyed(engine: Engine, key: str, quantities: dict[int, int], state: str, ttl: float
           ) -> tuple[dict[str, Any], bool]:
    """The reservation of ``key`` (``held``: stock taken; ``returned``: stock given back), made once."""
    asked: list[Any] = sorted(quantities.items()) if state == "held" else [state, *sorted(quantities.items())]
    digest = hashlib.sha256(json.dumps(asked).encode()).hexdigest()
    for _ in range(2):   # a concurrent call with the same key: the second round finds its reservation
        with engine.connect() as conn:
            found = conn.execute(select(reservations).where(reservations.c.idempotency_key == key)).first()
            if found is not None:
                if found.request_hash != digest:
                    raise IdempotencyConflict("This Idempotency-Key was used for other items.", reservation=found.id)
                view = _view(conn, found)   # a caller asking again (a retried step) needs the products as well
                view["products"] = snapshots(conn, list(quantities))["items"]
                return view, False
        try:
            with engine.begin() as conn:
                now = now_in(conn)
                reservation_id = str(uuid.uuid4())
                conn.execute(insert(reservations).values(
                    id=reservation_id, idempotency_key=key, request_hash=digest, state=state,
                    expires_at=now + timedelta(seconds=ttl), created_at=now, updated_at=now))
                if state == "held":
                    take_stock(conn, quantities, now, "reserved", reservation=reservation_id)
                else:
                    return_stock(conn, quantities, now, "returned", reservation=reservation_id)
                conn.execute(insert(reservation_items), [
                    {"reservation_id": reservation_id, "product_id": pid, "quantity": n}
                    for pid, n in quantities.items()])
                view = _view(conn, _row(conn, reservation_id))
                view["products"] = snapshots(conn, list(quantities))["items"]
                return view, True
        except Shortage as short:
            raise shortage_error(engine, quantities, short.product_id) from None
        except IntegrityError:
            continue   # the key was taken between the look-up and the insert: nothing of ours was written
    raise ReservationConflict("This Idempotency-Key is being used by another request; retry.")


def _leave_held(conn: Connection, reservation_id: str, state: str, now: datetime, *, back: bool) -> bool:
    """held -> ``state`` if it is still held; the stock goes back when ``back``. True when this call moved it."""
    moved = conn.execute(update(reservations).where(and_(reservations.c.id == reservation_id,
                                                         reservations.c.state == "held"))
                         .values(state=state, updated_at=now)).rowcount
    if moved and back:
        items = conn.execute(select(reservation_items.c.product_id, reservation_items.c.quantity)
                             .where(reservation_items.c.reservation_id == reservation_id)
                             .order_by(reservation_items.c.product_id))
        return_stock(conn, {r.product_id: r.quantity for r in items}, now, state, reservation=reservation_id)
    return bool(moved)


def commit(engine: Engine, reservation_id: str) -> dict[str, Any]:
    with engine.begin() as conn:
        row, now = _row(conn, reservation_id), now_in(conn)
        if row.state == "held" and _aware(row.expires_at, now) <= now:
            _leave_held(conn, reservation_id, "expired", now, back=True)   # found late: kept, then refused
        elif row.state == "held":
            _leave_held(conn, reservation_id, "committed", now, back=False)
        view = _view(conn, _row(conn, reservation_id))
    if view["state"] != "committed":   # refused after the transaction: an expiry found here stands
        raise ReservationConflict(f"This reservation is {view['state']}: its stock is back; reserve again.",
                                  state=view["state"])
    return view


def release(engine: Engine, reservation_id: str) -> dict[str, Any]:
    with engine.begin() as conn:
        _row(conn, reservation_id)
        _leave_held(conn, reservation_id, "released", now_in(conn), back=True)
        view = _view(conn, _row(conn, reservation_id))
    if view["state"] == "committed":
        raise ReservationConflict("This reservation is committed: its stock belongs to the order now.",
                                  state=view["state"])
    return view


def release_key(engine: Engine, key: str | None) -> dict[str, Any]:
    """Releases the reservation made with the Idempotency-Key ``key``, if there is one: a caller whose reserve got
    no answer (it may or may not have been made) gives the stock back without knowing the id. ``{"id": null}``
    when no reservation has that key; a committed one is a 409, as :func:`release`."""
    key = _check_key(key)
    with engine.connect() as conn:
        found = conn.execute(select(reservations.c.id).where(reservations.c.idempotency_key == key)).scalar()
    if found is None:
        return {"id": None, "state": None, "items": []}
    return release(engine, str(found))


def read(engine: Engine, reservation_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return _view(conn, _row(conn, reservation_id))


def expire_due(engine: Engine, limit: int = 500) -> int:
    """Expires the held reservations past their time (their stock goes back); how many this call expired."""
    with engine.connect() as conn:
        now = now_in(conn)
        due = [r.id for r in conn.execute(select(reservations.c.id).where(and_(
            reservations.c.state == "held", reservations.c.expires_at <= now)).limit(limit))]
    expired = 0
    for reservation_id in due:
        with engine.begin() as conn:
            expired += _leave_held(conn, reservation_id, "expired", now_in(conn), back=True)
    return expired


def _aware(value: datetime, now: datetime) -> datetime:
    """MariaDB and SQLite give naive UTC wall time back; compare it with ``now`` as ``now`` is."""
    if (value.tzinfo is None) == (now.tzinfo is None):
        return value
    return value.replace(tzinfo=now.tzinfo) if value.tzinfo is None else value.replace(tzinfo=None)


SWEEP_SECONDS = 2.0


async def sweeper(engine: Engine, interval: float = SWEEP_SECONDS) -> None:
    """Runs until cancelled: expires the reservations past their time, every ``interval`` seconds (several
    workers may sweep at once: each reservation is expired, and its stock returned, once)."""
    while True:
        try:
            expired = await run_in_threadpool(expire_due, engine)
            if expired:
                log.info("reservations expired", extra={"expired": expired})
        except Exception as exc:  # noqa: BLE001 - a busy or read-only database: try again later, never die
            log.info("reservation sweep postponed: %s", exc)
        await asyncio.sleep(interval)
