"""The bodies of the cart's writes, validated as the monolith's serializers validate them.

:func:`validate_add_item` is the AddItemSerializer (``product``: an active product's id, DRF's
``PrimaryKeyRelatedField`` messages; ``quantity``: 1 to 1000, default 1), :func:`validate_quantity` the
SetQuantitySerializer; :func:`validate_merge` the body of the internal merge endpoint. Whether a product exists
and is on sale is the catalog's to say: :func:`product_id` finds the id to ask about, the caller asks, and hands
the answer in as ``active``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from extracted.cart.exceptions import ValidationFailed
from extracted.cart.fields import (
    MAX_ID,
    FieldError,
    Skip,
    collect,
    ensure_mapping,
    field_value,
    integer_field,
    related_field,
)

MAX_LINE_QUANTITY: Final = 1000  # the monolith's cart.services.MAX_LINE_QUANTITY
DEFAULT_QUANTITY: Final = 1


def product_id(raw: Any) -> int | None:
    """The id the body's ``product`` names when it is one that could exist (positive, at most 18 digits: what
    the catalog's batch read takes), else None: validation then refuses it without asking anyone."""
    try:
        data = ensure_mapping(raw)
        pk = related_field(field_value(data, "product", partial=False, required=True), exists=lambda _pk: True)
    except (ValidationFailed, FieldError, Skip):
        return None
    return pk if pk is not None and 0 < pk < 10**18 else None


def validate_add_item(raw: Any, active: Callable[[int], bool]) -> tuple[int, int]:
    """``(product id, quantity)``; ``active(id)``: whether that product exists and is on sale."""
    data = ensure_mapping(raw)
    values = collect([
        ("product", lambda: related_field(field_value(data, "product", partial=False, required=True),
                                          exists=active)),
        ("quantity", lambda: integer_field(field_value(data, "quantity", partial=False, required=False),
                                           required=False, min_value=1, max_value=MAX_LINE_QUANTITY)),
    ])
    return values["product"], values.get("quantity", DEFAULT_QUANTITY)


def validate_quantity(raw: Any) -> int:
    """The SetQuantitySerializer's ``quantity`` (PATCH and PUT alike: it is not partial)."""
    data = ensure_mapping(raw)
    values = collect([
        ("quantity", lambda: integer_field(field_value(data, "quantity", partial=False, required=True),
                                           min_value=1, max_value=MAX_LINE_QUANTITY)),
    ])
    return int(values["quantity"])


def validate_merge(raw: Any) -> tuple[int, int]:
    """The internal merge endpoint's ``{"cart": anonymous cart id, "user": user id}``."""
    data = ensure_mapping(raw)

    def an_id(name: str) -> Callable[[], int]:
        return lambda: integer_field(field_value(data, name, partial=False, required=True), min_value=1,
                                     max_value=MAX_ID)

    values = collect([("cart", an_id("cart")), ("user", an_id("user"))])
    return values["cart"], values["user"]
