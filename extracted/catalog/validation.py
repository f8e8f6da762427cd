"""The bodies of the catalog's writes, validated as the monolith's serializers validate them.

:func:`validate_product` and :func:`validate_category` are the ProductSerializer and CategorySerializer
(unique sku and slug, existing categories: asked of :class:`Lookups`, which the write gives from inside its
transaction); :func:`validate_stock_adjustment` is the stock action's body; :func:`validate_stock_items` the
body of the internal reserve and release endpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from extracted.catalog.exceptions import ValidationFailed
from extracted.catalog.fields import (
    EMPTY,
    MAX_ID,
    FieldError,
    boolean_field,
    char_field,
    collect,
    decimal_field,
    ensure_mapping,
    field_value,
    integer_field,
    related_field,
)
from extracted.catalog.models import MAX_STOCK
from extracted.catalog.parsers import FormData

MAX_STOCK_ITEMS: Final = 100
MAX_ITEM_QUANTITY: Final = 1000
MAX_STOCK_DELTA: Final = 1_000_000


class Lookups:
    """What validation needs from the database (unique values, existing rows); given by the service layer."""

    def sku_taken(self, sku: str) -> bool:
        raise NotImplementedError

    def slug_taken(self, slug: str) -> bool:
        raise NotImplementedError

    def category_exists(self, category_id: int) -> bool:
        raise NotImplementedError


def validate_product(raw: Any, lookups: Lookups, *, partial: bool) -> dict[str, Any]:
    """The ProductSerializer's validated data: keys among sku, name, description, price, stock, is_active,
    category_id."""
    data = ensure_mapping(raw)

    def get(name: str, **kw: Any) -> Any:
        return field_value(data, name, partial=partial, **kw)

    def sku_taken(value: str) -> bool:
        """product with this sku already exists."""
        return lookups.sku_taken(value)

    values = collect([
        ("sku", lambda: char_field(get("sku", required=True), partial=partial, max_length=32, taken=sku_taken)),
        ("name", lambda: char_field(get("name", required=True), partial=partial, max_length=200)),
        ("description", lambda: char_field(get("description", required=False, allow_blank=True), required=False,
                                           partial=partial, allow_blank=True)),
        ("price", lambda: decimal_field(get("price", required=True), partial=partial,
                                        min_value=Decimal("0.00"))),
        ("stock", lambda: integer_field(get("stock", required=False), required=False, partial=partial,
                                        min_value=0, max_value=MAX_STOCK)),
        ("is_active", lambda: boolean_field(get("is_active", required=False, boolean=True), partial=partial)),
        ("category", lambda: related_field(get("category", required=True), exists=lookups.category_exists,
                                           partial=partial)),
    ])
    if "category" in values:
        values["category_id"] = values.pop("category")
    return values


def validate_category(raw: Any, lookups: Lookups, *, partial: bool) -> dict[str, Any]:
    """The CategorySerializer's validated data: keys among name, slug, parent_id."""
    data = ensure_mapping(raw)

    def slug_taken(value: str) -> bool:
        """category with this slug already exists."""
        return lookups.slug_taken(value)

    values = collect([
        ("name", lambda: char_field(field_value(data, "name", partial=partial, required=True), partial=partial,
                                    max_length=120)),
        ("slug", lambda: char_field(field_value(data, "slug", partial=partial, required=True), partial=partial,
                                    max_length=140, slug=True, taken=slug_taken)),
        ("parent", lambda: related_field(field_value(data, "parent", partial=partial, required=False,
                                                     allow_null=True),
                                         exists=lookups.category_exists, required=False, allow_null=True,
                                         partial=partial)),
    ])
    if "parent" in values:
        values["parent_id"] = values.pop("parent")
    return values


def validate_stock_adjustment(raw: Any) -> tuple[int, str | None]:
    """The stock action's ``{delta, reason?}``."""
    data = ensure_mapping(raw)

    def delta() -> int:
        value = integer_field(field_value(data, "delta", partial=False, required=True), min_value=-MAX_STOCK_DELTA,
                              max_value=MAX_STOCK_DELTA)
        if value == 0:
            raise FieldError(["A stock adjustment of 0 changes nothing."])
        return value

    values = collect([
        ("delta", delta),
        ("reason", lambda: char_field(field_value(data, "reason", partial=False, required=False, allow_blank=True),
                                      required=False, max_length=200, allow_blank=True)),
    ])
    return values["delta"], values.get("reason")


def _stock_item(raw: Any) -> tuple[int, int]:
    if not isinstance(raw, Mapping) or isinstance(raw, FormData):
        kind = "str" if isinstance(raw, str) else type(raw).__name__
        raise ValidationFailed({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]})
    values = collect([
        ("product", lambda: integer_field(raw.get("product", EMPTY), min_value=1, max_value=MAX_ID)),
        ("quantity", lambda: integer_field(raw.get("quantity", EMPTY), min_value=1, max_value=MAX_ITEM_QUANTITY)),
    ])
    return values["product"], values["quantity"]


def validate_stock_items(raw: Any) -> dict[int, int]:
    """The body ``{"items": [{"product": id, "quantity": n}, ...]}`` of reserve and release, as
    ``{product_id: quantity}`` in id order, duplicates summed. Errors come DRF's way: ``{"items": [...]}``
    with one dict per item (empty for the valid ones)."""
    data = ensure_mapping(raw)
    if isinstance(data, FormData):
        raise ValidationFailed({"items": ["Send the items as JSON."]})
    items = data.get("items", EMPTY)
    if items is EMPTY:
        raise ValidationFailed({"items": ["This field is required."]})
    if items is None:
        raise ValidationFailed({"items": ["This field may not be null."]})
    if not isinstance(items, list):
        raise ValidationFailed({"items": [f'Expected a list of items but got type "{type(items).__name__}".']})
    if not items:
        raise ValidationFailed({"items": ["This list may not be empty."]})
    if len(items) > MAX_STOCK_ITEMS:
        raise ValidationFailed({"items": [f"Ensure this field has no more than {MAX_STOCK_ITEMS} elements."]})
    quantities: dict[int, int] = {}
    errors: list[dict[str, list[Any]]] = []
    for raw_item in items:
        try:
            product_id, quantity = _stock_item(raw_item)
        except ValidationFailed as exc:
            errors.append(exc.errors)
            continue
        errors.append({})
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    if any(errors):
        raise ValidationFailed({"items": errors})
    return dict(sorted(quantities.items()))
