"""Writes of the cart (the styleguide's services), each in one transaction (SQLAlchemy Core), with the
monolith's rules (``legacy_monolith/cart/services.py``): quantities are checked against the product's current
stock (the catalog's, read before the write), a line holds at most 1000, another cart's line is simply not
found (404, never a 403 that confirms it exists), prices are never stored here.

Every write that changes a quantity writes first and reads after, in its transaction (``UPDATE ... SET
quantity = quantity + n`` then the result): the row is locked (PostgreSQL, MariaDB) or the database is
(SQLite) before anything is computed from it, so two adds to one line in two tabs add up, and a check that
fails rolls the write back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from extracted.cart.catalog import Product
from extracted.cart.errors import OutOfStock
from extracted.cart.exceptions import NotFound, ValidationFailed
from extracted.cart.models import cart_items, carts
from extracted.cart.validation import MAX_LINE_QUANTITY

NO_SUCH_ITEM = "No such item in your cart."  # the monolith's


def now_in(conn: Connection) -> datetime:
    now = datetime.now(UTC)
    # MariaDB's DATETIME has no zone: UTC wall time, like Django writes it.
    return now.replace(tzinfo=None) if conn.dialect.name in ("mysql", "mariadb") else now


def check_stock(product: Product, quantity: int) -> None:
    """The monolith's ``_check_stock``: more than the current stock is a 409 ``out_of_stock``."""
    if quantity > product.stock:
        raise OutOfStock(f"Only {product.stock} of {product.sku} in stock.",
                         items=[{"product": product.id, "sku": product.sku, "requested": quantity,
                                 "available": product.stock}])


def _touch(conn: Connection, cart_id: int, now: datetime) -> None:
    conn.execute(update(carts).where(carts.c.id == cart_id).values(updated_at=now))


def _new_cart(conn: Connection, user_id: int | None, now: datetime) -> int:
    key = conn.execute(insert(carts).values(user_id=user_id, created_at=now, updated_at=now)).inserted_primary_key
    assert key is not None
    return int(key[0])


# --- carts ----------------------------------------------------------------------------------------------------------


def cart_create(engine: Engine) -> int:
    """A new anonymous visitor's cart (its id goes into the visitor's session)."""
    with engine.begin() as conn:
        return _new_cart(conn, None, now_in(conn))


def _user_cart(conn: Connection, user_id: int) -> int:
    """The user's cart, made if there is none (Django's ``get_or_create``: a concurrent maker wins, its cart is
    taken)."""
    found = conn.execute(select(carts.c.id).where(carts.c.user_id == user_id)).scalar()
    if found is not None:
        return int(found)
    try:
        with conn.begin_nested():
            return _new_cart(conn, user_id, now_in(conn))
    except IntegrityError:
        found = conn.execute(select(carts.c.id).where(carts.c.user_id == user_id)).scalar()
        if found is None:
            raise
        return int(found)


def user_cart_get_or_create(engine: Engine, user_id: int) -> int:
    with engine.begin() as conn:
        return _user_cart(conn, user_id)


# --- lines ----------------------------------------------------------------------------------------------------------


def _add_to_line(conn: Connection, cart_id: int, product_id: int, quantity: int) -> int | None:
    """Adds ``quantity`` to the cart's line of the product; its quantity before, or None when there is none."""
    where = (cart_items.c.cart_id == cart_id, cart_items.c.product_id == product_id)
    if conn.execute(update(cart_items).where(*where).values(quantity=cart_items.c.quantity + quantity)).rowcount:
        total = conn.execute(select(cart_items.c.quantity).where(*where)).scalar_one()
        return int(total) - quantity
    return None


def cart_add(engine: Engine, cart_id: int, product: Product, quantity: int) -> None:
    """The monolith's ``cart_add``: a new line, or ``quantity`` more on the product's line (at most 1000 a line,
    400 with its message), within the product's current stock (409)."""
    with engine.begin() as conn:
        now = now_in(conn)
        had = _add_to_line(conn, cart_id, product.id, quantity)
        if had is None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(cart_items).values(cart_id=cart_id, product_id=product.id, quantity=quantity,
                                                           added_at=now))
            except IntegrityError:  # another request made the line meanwhile: add to it
                had = _add_to_line(conn, cart_id, product.id, quantity)
                if had is None:
                    raise
        if had is not None and had + quantity > MAX_LINE_QUANTITY:
            raise ValidationFailed({"quantity": [
                f"A cart line holds at most {MAX_LINE_QUANTITY}; this one has {had} already."]})
        check_stock(product, quantity if had is None else had + quantity)
        _touch(conn, cart_id, now)


def cart_set_quantity(engine: Engine, cart_id: int, item_id: int, product: Product, quantity: int) -> None:
    """The monolith's ``cart_set_quantity`` (the line was found, ``product`` is its product): stock first (409),
    then the write (404 if the line went meanwhile)."""
    check_stock(product, quantity)
    with engine.begin() as conn:
        changed = conn.execute(update(cart_items).where(cart_items.c.id == item_id, cart_items.c.cart_id == cart_id)
                               .values(quantity=quantity)).rowcount
        if not changed:
            raise NotFound(NO_SUCH_ITEM)
        _touch(conn, cart_id, now_in(conn))


def cart_remove(engine: Engine, cart_id: int | None, item_id: int) -> None:
    if cart_id is None:
        raise NotFound(NO_SUCH_ITEM)
    with engine.begin() as conn:
        removed = conn.execute(delete(cart_items).where(cart_items.c.id == item_id,
                                                        cart_items.c.cart_id == cart_id)).rowcount
        if not removed:
            raise NotFound(NO_SUCH_ITEM)
        _touch(conn, cart_id, now_in(conn))


def cart_clear(engine: Engine, cart_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(cart_items).where(cart_items.c.cart_id == cart_id))
        _touch(conn, cart_id, now_in(conn))


# --- merging an anonymous cart into the user's, on login ------------------------------------------------------------


class StaleProducts(Exception):
    """The anonymous cart holds products the caller did not read from the catalog (it changed meanwhile)."""

    def __init__(self, missing: set[int]) -> None:
        super().__init__(f"products not read: {sorted(missing)}")
        self.missing = missing


@dataclass(frozen=True)
class Merged:
    cart: int | None  # the user's cart (None: the user has none, and nothing was merged)
    merged: bool      # whether an anonymous cart was found and merged (False: nothing changed)
    lines: int        # lines of the anonymous cart moved or added up


def cart_merge(engine: Engine, source_id: int, user_id: int, products: Mapping[int, Product | None]) -> Merged:
    """The monolith's login merge (its ``merge_anonymous_cart`` receiver and ``cart_merge``): the anonymous cart
    ``source_id``'s lines go into the user's cart (made if needed). A product the user's cart has already adds
    up, capped by the product's current stock and 1000, never below what the user had; one it has not comes
    with its quantity as it is. The anonymous cart is deleted, in the same transaction.

    ``products``: the source's products as the catalog has them (None: no such product any more; its line is
    dropped with the cart). Idempotent: a cart already merged (or not anonymous) is not found, and nothing
    changes. :class:`StaleProducts` when the source holds products that ``products`` lacks."""
    with engine.begin() as conn:
        # The write first: it locks the anonymous cart (PostgreSQL, MariaDB) or the database (SQLite), so that a
        # concurrent merge of the same cart waits here, then finds it gone.
        found = conn.execute(update(carts).where(carts.c.id == source_id, carts.c.user_id.is_(None))
                             .values(updated_at=carts.c.updated_at)).rowcount
        if not found:
            existing = conn.execute(select(carts.c.id).where(carts.c.user_id == user_id)).scalar()
            return Merged(cart=None if existing is None else int(existing), merged=False, lines=0)
        lines = conn.execute(select(cart_items.c.product_id, cart_items.c.quantity)
                             .where(cart_items.c.cart_id == source_id).order_by(cart_items.c.id)).all()
        missing = {int(p) for p, _q in lines} - set(products)
        if missing:
            raise StaleProducts(missing)
        target = _user_cart(conn, user_id)
        now = now_in(conn)
        moved = 0
        for product_id, quantity in lines:
            product = products[int(product_id)]
            if product is None:
                continue
            had = _add_to_line(conn, target, product.id, 0)
            if had is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(cart_items).values(cart_id=target, product_id=product.id,
                                                               quantity=quantity, added_at=now))
                    moved += 1
                    continue
                except IntegrityError:
                    had = _add_to_line(conn, target, product.id, 0)
                    if had is None:
                        raise
            merged = min(had + quantity, product.stock, MAX_LINE_QUANTITY)
            conn.execute(update(cart_items).where(cart_items.c.cart_id == target, cart_items.c.product_id == product.id)
                         .values(quantity=max(had, merged)))
            moved += 1
        conn.execute(delete(cart_items).where(cart_items.c.cart_id == source_id))
        conn.execute(delete(carts).where(carts.c.id == source_id))
        _touch(conn, target, now)
        return Merged(cart=target, merged=True, lines=moved)
