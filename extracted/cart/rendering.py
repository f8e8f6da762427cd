"""Responses, byte for byte as the monolith's DRF API renders them.

The cart is the monolith's CartSerializer: ``{"id", "items": [{"id", "product": {"id", "sku", "name",
"price"}, "quantity", "line_total"}], "item_count", "total"}``, money as strings with two decimals (DRF's
DecimalField: ``price`` of 10 digits, ``line_total`` and ``total`` of 12: a larger amount is the monolith's
500 too). JSON: DRF's JSONRenderer (compact unless the client's ``Accept`` asked for an indent), or Django's own
JsonResponse for the answers Django gives before DRF.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal
from typing import Any, Final

from extracted.cart.catalog import Product
from extracted.cart.responses import INDENT as INDENT
from extracted.cart.responses import dump as dump
from extracted.cart.responses import error_response as error_response
from extracted.cart.responses import iri_query as iri_query
from extracted.cart.responses import json_response as json_response

CENT: Final = Decimal("0.01")
PARSES: Final = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]

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

