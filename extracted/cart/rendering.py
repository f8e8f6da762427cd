"""Responses, byte for byte as the monolith's DRF API renders them.

The cart is the monolith's CartSerializer: ``{"id", "items": [{"id", "product": {"id", "sku", "name",
"price"}, "quantity", "line_total"}], "item_count", "total"}``, money as strings with two decimals (DRF's
DecimalField: ``price`` of 10 digits, ``line_total`` and ``total`` of 12: a larger amount is the monolith's
500 too). JSON: DRF's JSONRenderer (compact unless the client's ``Accept`` asked for an indent), or Django's own
JsonResponse for the answers Django gives before DRF.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextvars import ContextVar
from decimal import Context, Decimal
from typing import Any, Final
from urllib.parse import quote

import orjson
from starlette.responses import Response

from extracted.cart.catalog import Product
from extracted.cart.exceptions import ApiError

CENT: Final = Decimal("0.01")
IRI_SAFE: Final = "/#%[]=:;$&()+,!?*@'~"  # what Django's iri_to_uri leaves as it is
PARSES: Final = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]

# The JSON indent DRF would render this request's answers with (its Accept header's ``indent``), set by
# :func:`extracted.cart.resources.negotiate` for the request being handled.
INDENT: ContextVar[int | None] = ContextVar("cart_json_indent", default=None)


def money(value: Decimal | int, max_digits: int) -> str:
    """DRF's DecimalField(max_digits, decimal_places=2) output: quantized under a precision of ``max_digits``
    (a value that does not fit raises ``decimal.InvalidOperation``, as DRF's does: an unhandled error)."""
    return f"{Decimal(value).quantize(CENT, context=Context(prec=max_digits)):f}"


def cart_dict(cart_id: int | None, lines: Sequence[tuple[int, int, int]], products: dict[int, Product | None]
              ) -> dict[str, Any]:
    """The CartSerializer's answer for the cart ``cart_id`` (None: the caller has none) with its ``lines``
    ``(id, product id, quantity)`` in id order, priced at the products' current prices. A line whose product
    the catalog no longer has is not shown (the monolith deletes such lines with their product)."""
    items: list[dict[str, Any]] = []
    count = 0
    total = Decimal(0)
    for line_id, product_id, quantity in lines:
        product = products.get(product_id)
        if product is None:
            continue
        line_total = product.price * quantity
        items.append({"id": line_id,
                      "product": {"id": product.id, "sku": product.sku, "name": product.name,
                                  "price": money(product.price, 10)},
                      "quantity": quantity, "line_total": money(line_total, 12)})
        count += quantity
        total += line_total
    return {"id": cart_id, "items": items, "item_count": count, "total": money(total, 12)}


def options_body(name: str) -> dict[str, Any]:
    """DRF's SimpleMetadata for an APIView without a serializer (the monolith's cart views): no ``actions``."""
    return {"name": name, "description": "", "renders": ["application/json"], "parses": list(PARSES)}


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
