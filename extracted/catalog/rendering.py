"""Responses, byte for byte as the monolith's DRF API renders them.

Fields: prices are strings with two decimals, datetimes are ISO 8601 in UTC with ``Z`` (microseconds only
when non-zero), fields in the monolith's order. JSON: DRF's JSONRenderer (compact unless the client's
``Accept`` asked for an indent), or Django's own JsonResponse for the answers Django gives before DRF.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from extracted.catalog.models import MAX_STOCK
from extracted.catalog.responses import INDENT as INDENT
from extracted.catalog.responses import dump as dump
from extracted.catalog.responses import error_response as error_response
from extracted.catalog.responses import iri_query as iri_query
from extracted.catalog.responses import json_response as json_response
from extracted.catalog.responses import render_datetime as render_datetime

CENT: Final = Decimal("0.01")

def render_price(value: Any) -> str:
    """DRF's DecimalField(max_digits=10, decimal_places=2) output; SQLite hands back int or float."""
    if isinstance(value, Decimal):
        return f"{value.quantize(CENT):f}"
    if isinstance(value, int):
        return f"{value}.00"
    if isinstance(value, float):
        return f"{value:.2f}"  # exact: NUMERIC(10,2) has at most 10 significant digits
    return f"{Decimal(str(value).strip()).quantize(CENT):f}"

def product_dict(row: tuple[Any, ...] | Any) -> dict[str, Any]:
    """A products row (``id, sku, name, description, price, stock, is_active, category_id, created_at,
    updated_at``) as the monolith's ProductSerializer renders it."""
    return {
        "id": row[0],
        "sku": row[1],
        "name": row[2],
        "description": row[3],
        "price": render_price(row[4]),
        "stock": row[5],
        "is_active": bool(row[6]),
        "category": row[7],
        "created_at": render_datetime(row[8]),
        "updated_at": render_datetime(row[9]),
    }

def internal_product_dict(row: tuple[Any, ...] | Any) -> dict[str, Any]:
    """A row of :meth:`~extracted.catalog.selectors.Reader.products_by_ids` as the monolith's internal batch read
    renders it (its InternalProductSerializer)."""
    return {"id": row[0], "sku": row[1], "name": row[2], "price": render_price(row[3]), "stock": row[4],
            "is_active": bool(row[5])}

def category_dict(row: tuple[Any, ...] | Any) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "slug": row[2], "parent": row[3]}

def _meta(kind: str, label: str, *, required: bool = False, read_only: bool = False, **extra: Any
          ) -> dict[str, Any]:
    return {"type": kind, "required": required, "read_only": read_only, "label": label, **extra}

# DRF's SimpleMetadata for the serializers (OPTIONS ``actions``, shown to callers who may write).
PRODUCT_ACTION_FIELDS: Final = {
    "id": _meta("integer", "ID", read_only=True),
    "sku": _meta("string", "Sku", required=True, max_length=32),
    "name": _meta("string", "Name", required=True, max_length=200),
    "description": _meta("string", "Description"),
    "price": _meta("decimal", "Price", required=True, min_value=0.0, max_digits=10, decimal_places=2),
    "stock": _meta("integer", "Stock", min_value=0, max_value=MAX_STOCK),
    "is_active": _meta("boolean", "Is active"),
    "category": _meta("field", "Category", required=True),
    "created_at": _meta("datetime", "Created at", read_only=True),
    "updated_at": _meta("datetime", "Updated at", read_only=True),
}
CATEGORY_ACTION_FIELDS: Final = {
    "id": _meta("integer", "ID", read_only=True),
    "name": _meta("string", "Name", required=True, max_length=120),
    "slug": _meta("slug", "Slug", required=True, max_length=140),
    "parent": _meta("field", "Parent"),
}

