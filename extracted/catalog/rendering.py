"""Responses, byte for byte as the monolith's DRF API renders them.

Fields: prices are strings with two decimals, datetimes are ISO 8601 in UTC with ``Z`` (microseconds only
when non-zero), fields in the monolith's order. JSON: DRF's JSONRenderer (compact unless the client's
``Accept`` asked for an indent), or Django's own JsonResponse for the answers Django gives before DRF.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import orjson
from starlette.responses import Response

from extracted.catalog.exceptions import ApiError
from extracted.catalog.models import MAX_STOCK

CENT: Final = Decimal("0.01")
IRI_SAFE: Final = "/#%[]=:;$&()+,!?*@'~"  # what Django's iri_to_uri leaves as it is

# The JSON indent DRF would render this request's answers with (its Accept header's ``indent``), set by
# :func:`extracted.catalog.resources.negotiate` for the request being handled.
INDENT: ContextVar[int | None] = ContextVar("catalog_json_indent", default=None)


def render_price(value: Any) -> str:
    """DRF's DecimalField(max_digits=10, decimal_places=2) output; SQLite hands back int or float."""
    if isinstance(value, Decimal):
        return f"{value.quantize(CENT):f}"
    if isinstance(value, int):
        return f"{value}.00"
    if isinstance(value, float):
        return f"{value:.2f}"  # exact: NUMERIC(10,2) has at most 10 significant digits
    return f"{Decimal(str(value).strip()).quantize(CENT):f}"


def render_datetime(value: Any) -> str | None:
    """DRF's DateTimeField output under USE_TZ/UTC: ``isoformat()`` with ``+00:00`` written ``Z``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    elif value.utcoffset():
        value = value.astimezone(UTC)
    text: str = value.isoformat()
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    return text


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


def dump(data: Any, indent: int | None = None) -> bytes:
    """DRF's JSONRenderer output: compact, UTF-8, U+2028/U+2029 escaped; indented when the client's Accept
    asked for it (``indent``: DRF's separators then, ``,`` and ``: ``)."""
    if indent is not None:
        text = json.dumps(data, indent=indent, ensure_ascii=False, separators=(",", ": "))
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
    body = orjson.dumps(data)
    if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
        body = body.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
    return body


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump(data, INDENT.get()), status_code=status, headers=headers, media_type="application/json")


def error_response(exc: ApiError) -> Response:
    if exc.django_rendered:  # Django's JsonResponse: json.dumps' separators
        return Response(json.dumps(exc.body()).encode(), status_code=exc.status, headers=exc.headers(),
                        media_type="application/json")
    return json_response(exc.body(), exc.status, exc.headers())


def iri_query(query_string: bytes) -> str:
    """The raw query string as Django puts it back into a URL it builds (``iri_to_uri``)."""
    return quote(query_string.decode("latin-1"), safe=IRI_SAFE)
