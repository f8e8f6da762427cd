"""Reads of the cart (the styleguide's selectors): finding a cart and its lines. Products are not here: they are
the catalog's (``catalog.py``)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from extracted.cart.models import cart_items, carts


def user_cart(engine: Engine, user_id: int) -> int | None:
    """The id of the user's cart (one per user), or None."""
    with engine.connect() as conn:
        found = conn.execute(select(carts.c.id).where(carts.c.user_id == user_id)).scalar()
    return None if found is None else int(found)


def anonymous_cart(engine: Engine, cart_id: int) -> int | None:
    """``cart_id`` when it is an anonymous visitor's cart that exists (the monolith's ``user__isnull=True``)."""
    with engine.connect() as conn:
        found = conn.execute(select(carts.c.id).where(carts.c.id == cart_id, carts.c.user_id.is_(None))).scalar()
    return None if found is None else int(found)


def cart_lines(engine: Engine, cart_id: int | None) -> list[tuple[int, int, int]]:
    """``(line id, product id, quantity)`` of the cart's lines in id order (none for no cart)."""
    if cart_id is None:
        return []
    with engine.connect() as conn:
        rows = conn.execute(select(cart_items.c.id, cart_items.c.product_id, cart_items.c.quantity)
                            .where(cart_items.c.cart_id == cart_id).order_by(cart_items.c.id))
        return [(int(a), int(b), int(c)) for a, b, c in rows]


def line_product(engine: Engine, cart_id: int | None, item_id: int) -> int | None:
    """The product of the cart's line ``item_id``; None when the cart has no such line (another cart's is not
    found either)."""
    if cart_id is None:
        return None
    with engine.connect() as conn:
        found = conn.execute(select(cart_items.c.product_id)
                             .where(cart_items.c.id == item_id, cart_items.c.cart_id == cart_id)).scalar()
    return None if found is None else int(found)
