"""Writes of the catalog (the styleguide's services): categories, products and stock, each in one
transaction (SQLAlchemy Core).

Validation that needs the database (unique sku and slug, existing categories) runs inside the write's
transaction through :class:`DbLookups`. Stock changes are one conditional UPDATE (``stock >= n``), so two
concurrent adjustments can never take the stock below zero.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from extracted.catalog.errors import OutOfStock, ProtectedObject
from extracted.catalog.events.outbox import record
from extracted.catalog.exceptions import ApiError, NotFound, ValidationFailed
from extracted.catalog.models import categories, outbox, products
from extracted.catalog.rendering import category_dict, product_dict, render_price
from extracted.catalog.validation import (
    Lookups,
    validate_category,
    validate_product,
    validate_stock_adjustment,
    validate_stock_items,
)

PRODUCT_404 = "No Product matches the given query."
CATEGORY_404 = "No Category matches the given query."
PRODUCT_COLUMNS = (products.c.id, products.c.sku, products.c.name, products.c.description, products.c.price,
                   products.c.stock, products.c.is_active, products.c.category_id, products.c.created_at,
                   products.c.updated_at)
CATEGORY_COLUMNS = (categories.c.id, categories.c.name, categories.c.slug, categories.c.parent_id)


class DbLookups(Lookups):
    def __init__(self, conn: Connection, *, product_id: int | None = None, category_id: int | None = None) -> None:
        self.conn = conn
        self.product_id = product_id
        self.category_id = category_id

    def sku_taken(self, sku: str) -> bool:
        condition = products.c.sku == sku
        if self.product_id is not None:
            condition = and_(condition, products.c.id != self.product_id)
        return bool(self.conn.execute(select(exists().where(condition))).scalar())

    def slug_taken(self, slug: str) -> bool:
        condition = categories.c.slug == slug
        if self.category_id is not None:
            condition = and_(condition, categories.c.id != self.category_id)
        return bool(self.conn.execute(select(exists().where(condition))).scalar())

    def category_exists(self, category_id: int) -> bool:
        return bool(self.conn.execute(select(exists().where(categories.c.id == category_id))).scalar())


def now_in(conn: Connection) -> datetime:
    now = datetime.now(UTC)
    # MariaDB's DATETIME has no zone: UTC wall time, like Django writes it.
    return now.replace(tzinfo=None) if conn.dialect.name in ("mysql", "mariadb") else now


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def descendant_ids(conn: Connection, category_id: int) -> set[int]:
    """The category and everything under it (one query, a walk in memory, like the monolith)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in conn.execute(select(categories.c.id, categories.c.parent_id)):
        children.setdefault(parent_id, []).append(pk)
    found: set[int] = set()
    stack = [category_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.add(current)
        stack.extend(children.get(current, ()))
    return found


def _write_checked(conn: Connection, statement: Any, revalidate: Callable[[], object]) -> Any:
    """A write in a savepoint; when a unique constraint refuses it (a concurrent writer took the sku or the
    slug after the validation looked), the validation runs again and names the field; else the error stands."""
    try:
        with conn.begin_nested():
            return conn.execute(statement)
    except IntegrityError:
        revalidate()
        raise


def _inserted_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


# --- look-ups (404 with the monolith's message) --------------------------------------------------------------------


def _row(conn: Connection, columns: Any, key: Any, value: int, missing: str) -> Any:
    """The row whose ``key`` is ``value`` (its ``columns``), or NotFound with the monolith's message."""
    row = conn.execute(select(*columns).where(key == value)).first()
    if row is None:
        raise NotFound(missing)
    return row


def _product_row(conn: Connection, product_id: int) -> Any:
    return _row(conn, PRODUCT_COLUMNS, products.c.id, product_id, PRODUCT_404)


def _category_row(conn: Connection, category_id: int) -> Any:
    return _row(conn, CATEGORY_COLUMNS, categories.c.id, category_id, CATEGORY_404)


# --- products -------------------------------------------------------------------------------------------------------


def product_create(engine: Engine, load: Callable[[], Any]) -> dict[str, Any]:
    body = load()
    with engine.begin() as conn:
        values = validate_product(body, DbLookups(conn), partial=False)
        now = now_in(conn)
        row = {"description": "", "stock": 0, "is_active": True, **values, "created_at": now, "updated_at": now}
        product_id = _inserted_id(_write_checked(conn, insert(products).values(**row),
                                                 lambda: validate_product(body, DbLookups(conn), partial=False)))
    return _render_product(product_id, row)


def _render_product(product_id: int, row: dict[str, Any]) -> dict[str, Any]:
    return product_dict((product_id, row["sku"], row["name"], row["description"], row["price"], row["stock"],
                         row["is_active"], row["category_id"], _aware(row["created_at"]),
                         _aware(row["updated_at"])))


def product_update(engine: Engine, product_id: int, load: Callable[[], Any], *, partial: bool) -> dict[str, Any]:
    """Sets the columns the request sent (and ``updated_at``), no other: the stock in particular is only ever
    changed by increments (:func:`stock_adjust`, reserve, release), which an edit must not undo by writing
    back a value read before them."""
    with engine.begin() as conn:
        _product_row(conn, product_id)
        body = load()
        values = validate_product(body, DbLookups(conn, product_id=product_id), partial=partial)
        values["updated_at"] = now_in(conn)
        result = _write_checked(conn, update(products).where(products.c.id == product_id).values(**values),
                                lambda: validate_product(body, DbLookups(conn, product_id=product_id), partial=partial))
        if not result.rowcount:
            raise NotFound(PRODUCT_404)  # deleted between the look-up and the update
        # Read back in the same transaction: the answer is the row as written, with the current stock.
        return product_dict(_product_row(conn, product_id))


def product_delete(engine: Engine, product_id: int) -> None:
    with engine.begin() as conn:
        _product_row(conn, product_id)
        conn.execute(delete(products).where(products.c.id == product_id))


def stock_adjust(engine: Engine, product_id: int, load: Callable[[], Any]) -> dict[str, Any]:
    """Adds ``delta`` (may be negative) to the stock; refuses to go below zero (409 ``out_of_stock``)."""
    with engine.begin() as conn:
        _product_row(conn, product_id)  # 404 before the body is looked at, as in the monolith
        delta, _reason = validate_stock_adjustment(load())
        condition = products.c.id == product_id
        if delta < 0:
            condition = and_(condition, products.c.stock >= -delta)
        now = now_in(conn)
        result = conn.execute(update(products).where(condition)
                              .values(stock=products.c.stock + delta, updated_at=now))
        row = _product_row(conn, product_id)
        if not result.rowcount:
            raise OutOfStock(f"Stock of {row.sku} is {row.stock}; it cannot go down by {-delta}.",
                             available=row.stock)
        stock_changed(conn, {product_id: delta}, now, "adjusted")
    return product_dict(row)


# --- reserve / release (internal: the monolith's checkout and cancel, X-Service-Token) -------------------------------

SNAPSHOT_COLUMNS = (products.c.id, products.c.sku, products.c.name, products.c.price, products.c.stock)


class Shortage(Exception):
    def __init__(self, product_id: int) -> None:
        super().__init__(product_id)
        self.product_id = product_id


STOCK_CHANGED = "catalog.stock.changed"


def stock_changed(conn: Connection, deltas: dict[int, int], now: datetime, reason: str, **context: str) -> None:
    """One ``catalog.stock.changed`` event per product whose stock moved (``{"product", "stock", "delta",
    "reason", ...}``, ``stock`` as it is after the change), in the change's own transaction. Products gone
    meanwhile get none."""
    rows = conn.execute(select(products.c.id, products.c.stock).where(products.c.id.in_(list(deltas)))
                        .order_by(products.c.id))
    for row in rows:
        record(conn, outbox, STOCK_CHANGED, {"product": row.id, "stock": row.stock, "delta": deltas[row.id],
                                             "reason": reason, **context}, source="catalog", at=now)


def take_stock(conn: Connection, quantities: dict[int, int], now: datetime, reason: str = "reserved",
               **context: str) -> None:
    """One conditional UPDATE per product (active, ``stock >= n``) in id order (``quantities`` is sorted): the
    row locks are taken in one global order (no deadlocks between reservations) and two buyers of the last
    unit cannot both succeed at any isolation level. :class:`Shortage` names the first product short."""
    for product_id, quantity in quantities.items():
        condition = and_(products.c.id == product_id, products.c.is_active, products.c.stock >= quantity)
        result = conn.execute(update(products).where(condition)
                              .values(stock=products.c.stock - quantity, updated_at=now))
        if not result.rowcount:
            raise Shortage(product_id)
    stock_changed(conn, {pid: -n for pid, n in quantities.items()}, now, reason, **context)


def return_stock(conn: Connection, quantities: dict[int, int], now: datetime, reason: str = "released",
                 **context: str) -> None:
    """Adds the quantities back (products that no longer exist are skipped, as in the monolith)."""
    for product_id, quantity in quantities.items():
        conn.execute(update(products).where(products.c.id == product_id)
                     .values(stock=products.c.stock + quantity, updated_at=now))
    stock_changed(conn, quantities, now, reason, **context)


def snapshots(conn: Connection, product_ids: list[int]) -> dict[str, Any]:
    rows = conn.execute(select(*SNAPSHOT_COLUMNS).where(products.c.id.in_(product_ids)).order_by(products.c.id))
    return {"items": [{"product": row.id, "sku": row.sku, "name": row.name, "price": render_price(row.price),
                       "stock": row.stock} for row in rows]}


def stock_reserve(engine: Engine, load: Callable[[], Any]) -> dict[str, Any]:
    """Takes ``{"items": [{"product", "quantity"}...]}`` out of stock, all or nothing, in one transaction
    (:func:`take_stock`). A shortage rolls everything back and answers the monolith's 409 ``out_of_stock``."""
    quantities = validate_stock_items(load())  # sorted by id
    try:
        with engine.begin() as conn:
            take_stock(conn, quantities, now_in(conn))
            return snapshots(conn, list(quantities))
    except Shortage as short:
        raise shortage_error(engine, quantities, short.product_id) from None


def shortage_error(engine: Engine, quantities: dict[int, int], failed: int) -> ApiError:
    with engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(
            select(products.c.id, products.c.sku, products.c.stock, products.c.is_active)
            .where(products.c.id.in_(list(quantities))).order_by(products.c.id))}
    missing = [pid for pid in quantities if pid not in rows]
    if missing:
        return ValidationFailed({"items": [f'Invalid pk "{pid}" - object does not exist.' for pid in missing]})
    short = []
    for pid, wanted in quantities.items():
        row = rows[pid]
        available = row.stock if row.is_active else 0
        # The product whose update failed is reported even when a concurrent release has refilled it since.
        if wanted > available or pid == failed:
            short.append({"product": pid, "sku": row.sku, "requested": wanted, "available": available})
    names = ", ".join(f"{s['sku']} (requested {s['requested']}, available {s['available']})" for s in short)
    return OutOfStock(f"Not enough stock for: {names}.", items=short)


def stock_release(engine: Engine, load: Callable[[], Any]) -> dict[str, Any]:
    """Adds the items back to stock (a cancelled order, a checkout that failed after its reservation).
    Products that no longer exist are skipped, as in the monolith."""
    quantities = validate_stock_items(load())
    with engine.begin() as conn:
        return_stock(conn, quantities, now_in(conn))
        return snapshots(conn, list(quantities))


# --- categories -----------------------------------------------------------------------------------------------------


def category_create(engine: Engine, load: Callable[[], Any]) -> dict[str, Any]:
    body = load()
    with engine.begin() as conn:
        values = validate_category(body, DbLookups(conn), partial=False)
        values.setdefault("parent_id", None)
        category_id = _inserted_id(_write_checked(conn, insert(categories).values(**values),
                                                  lambda: validate_category(body, DbLookups(conn), partial=False)))
    return category_dict((category_id, values["name"], values["slug"], values["parent_id"]))


def _lock_the_tree(conn: Connection, category_id: int) -> None:
    """Before the tree is read for a move: two moves at once (A under B, B under A), each checked against the
    tree as it was, would hang the two categories from each other. Every category row is locked in id order
    (PostgreSQL, MariaDB; one order, so no deadlock); SQLite takes its write lock with a write that changes
    nothing, before anything is read inside the transaction."""
    if conn.dialect.name == "sqlite":
        conn.execute(update(categories).where(categories.c.id == category_id)
                     .values(parent_id=categories.c.parent_id))
    else:
        conn.execute(select(categories.c.id).order_by(categories.c.id).with_for_update())


def category_update(engine: Engine, category_id: int, load: Callable[[], Any], *, partial: bool) -> dict[str, Any]:
    with engine.begin() as conn:
        _category_row(conn, category_id)
        _lock_the_tree(conn, category_id)
        current = _category_row(conn, category_id)   # as it is now that no move can run beside this one
        body = load()
        values = validate_category(body, DbLookups(conn, category_id=category_id), partial=partial)
        parent_id = values.get("parent_id", current.parent_id)
        if parent_id is not None and parent_id in descendant_ids(conn, category_id):
            raise ValidationFailed({"parent": ["A category cannot be placed under itself or one of its children."]})
        # Only the columns the request sent: writing back the others as read above would undo a concurrent
        # edit of them.
        if values:
            _write_checked(conn, update(categories).where(categories.c.id == category_id).values(**values),
                           lambda: validate_category(body, DbLookups(conn, category_id=category_id), partial=partial))
        return category_dict(_category_row(conn, category_id))


def category_delete(engine: Engine, category_id: int) -> None:
    protected = ProtectedObject("This category still has products or subcategories.")
    with engine.begin() as conn:
        _category_row(conn, category_id)
        in_use = conn.execute(select(
            or_(exists().where(products.c.category_id == category_id),
                exists().where(categories.c.parent_id == category_id))
        )).scalar()
        if in_use:
            raise protected
        try:
            with conn.begin_nested():
                conn.execute(delete(categories).where(categories.c.id == category_id))
        except IntegrityError:
            raise protected from None
