"""Responses, byte for byte as the monolith's DRF API renders them.

Fields: decimals are strings with two decimals, datetimes ISO 8601 in UTC with ``Z`` (microseconds only when
non-zero), fields in the monolith's order (its ``OrderSerializer``). JSON: DRF's JSONRenderer (compact unless the
client's ``Accept`` asked for an indent), or Django's own JsonResponse for the answers Django gives before DRF.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

from extracted.orders.responses import INDENT as INDENT
from extracted.orders.responses import dump as dump
from extracted.orders.responses import error_response as error_response
from extracted.orders.responses import iri_query as iri_query
from extracted.orders.responses import json_response as json_response
from extracted.orders.responses import render_datetime as render_datetime

CENT: Final = Decimal("0.01")
SHIPPING_FIELDS: Final = ("full_name", "line1", "line2", "city", "postal_code", "country")

def to_decimal(value: Any) -> Decimal:
    """A NUMERIC column's value as a Decimal (SQLite hands back int or float; NUMERIC(12,2) has at most 12
    significant digits, which a float's shortest repr keeps exactly)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value).strip())

def render_decimal(value: Any) -> str:
    """DRF's DecimalField(decimal_places=2) output: a string with exactly two decimals."""
    return f"{to_decimal(value).quantize(CENT):f}"

def order_number(order_id: int) -> str:
    """The monolith's ``Order.number``: ``ORD-%08d`` (more digits once the id has more)."""
    return f"ORD-{order_id:08d}"

def line_dict(row: Any) -> dict[str, Any]:
    """An order_lines row (``id, order_id, product_id, sku, name, unit_price, quantity``) as the monolith's
    OrderLineSerializer renders it; ``line_total`` is ``unit_price * quantity``, two decimals."""
    unit_price = to_decimal(row[5])
    return {"id": row[0], "product": row[2], "sku": row[3], "name": row[4], "unit_price": render_decimal(unit_price),
            "quantity": row[6], "line_total": render_decimal(unit_price * row[6])}

def shipment_dict(row: Any | None) -> dict[str, Any] | None:
    """An order_shipments row (``id, order_id, carrier, tracking_number, status``) as the monolith's
    OrderShipmentSerializer renders it; None (``null``) for an order without a shipment."""
    if row is None:
        return None
    return {"id": row[0], "carrier": row[2], "tracking_number": row[3], "status": row[4]}

def order_dict(row: Any, lines: Iterable[Any], shipment: Any | None) -> dict[str, Any]:
    """An orders row (``id, user_id, status, total, ship_full_name, ship_line1, ship_line2, ship_city,
    ship_postal_code, ship_country, created_at, updated_at``) with its lines (in id order) and its shipment, as
    the monolith's OrderSerializer renders it."""
    return {
        "id": row[0],
        "number": order_number(row[0]),
        "status": row[2],
        "total": render_decimal(row[3]),
        "lines": [line_dict(line) for line in lines],
        "shipping_address": dict(zip(SHIPPING_FIELDS, row[4:10], strict=True)),
        "shipment": shipment_dict(shipment),
        "created_at": render_datetime(row[10]),
        "updated_at": render_datetime(row[11]),
    }

# --- OPTIONS: DRF's SimpleMetadata for the monolith's views -----------------------------------------------------------

def _meta(kind: str, label: str, *, required: bool = False, read_only: bool = False, **extra: Any
          ) -> dict[str, Any]:
    return {"type": kind, "required": required, "read_only": read_only, "label": label, **extra}

def _choices(*values: tuple[str, str]) -> list[dict[str, str]]:
    return [{"value": value, "display_name": name} for value, name in values]

ORDER_STATUSES: Final = _choices(("placed", "Placed"), ("processing", "Processing"), ("shipped", "Shipped"),
                                 ("delivered", "Delivered"), ("cancelled", "Cancelled"))
CARRIERS: Final = _choices(("postal", "Postal"), ("dhl", "Dhl"), ("ups", "Ups"), ("fedex", "Fedex"))
SHIPMENT_STATUSES: Final = _choices(("pending", "Pending"), ("packed", "Packed"), ("shipped", "Shipped"),
                                    ("in_transit", "In Transit"), ("delivered", "Delivered"),
                                    ("cancelled", "Cancelled"))
# Django's PositiveIntegerField range on each kind of database (``connection.ops.integer_field_range``), which DRF
# copies into the field's metadata: the monolith's answer depends on its database's kind. The service answers
# for a database of its own kind (the same as the monolith's in a deployment that moves data between them).
POSITIVE_INTEGER_MAX: Final = {"sqlite": 9223372036854775807, "postgresql": 2147483647, "mysql": 4294967295,
                               "mariadb": 4294967295}
_SHIPMENT_FIELDS: Final = {
    "id": _meta("integer", "ID", read_only=True),
    "carrier": _meta("choice", "Carrier", choices=CARRIERS),
    "tracking_number": _meta("string", "Tracking number", max_length=64),
    "status": _meta("choice", "Status", choices=SHIPMENT_STATUSES),
}

def order_action_fields(dialect: str) -> dict[str, Any]:
    """The OrderSerializer's fields as DRF's OPTIONS describes them for the checkout and cancel actions (DRF
    describes the viewset's serializer, not the CheckoutSerializer the action reads), on a database of the kind
    ``dialect`` names (SQLAlchemy's name)."""
    line_fields = {
        "id": _meta("integer", "ID", read_only=True),
        "product": _meta("field", "Product", required=True),
        "sku": _meta("string", "Sku", required=True, max_length=32),
        "name": _meta("string", "Name", required=True, max_length=200),
        "unit_price": _meta("decimal", "Unit price", required=True, max_digits=10, decimal_places=2),
        "quantity": _meta("integer", "Quantity", required=True, min_value=0,
                          max_value=POSITIVE_INTEGER_MAX.get(dialect, POSITIVE_INTEGER_MAX["postgresql"])),
        "line_total": _meta("decimal", "Line total", read_only=True, max_digits=12, decimal_places=2),
    }
    return {
        "id": _meta("integer", "ID", read_only=True),
        "number": _meta("string", "Number", read_only=True),
        "status": _meta("choice", "Status", choices=ORDER_STATUSES),
        "total": _meta("decimal", "Total", required=True, max_digits=12, decimal_places=2),
        "lines": _meta("field", "Lines", read_only=True,
                       child={"type": "nested object", "required": False, "read_only": True, "children": line_fields}),
        "shipping_address": _meta("field", "Shipping address", read_only=True),
        "shipment": _meta("nested object", "Shipment", read_only=True, children=_SHIPMENT_FIELDS),
        "created_at": _meta("datetime", "Created at"),
        "updated_at": _meta("datetime", "Updated at"),
    }

# The monolith's ProductReferencesView describes itself by its docstring (DRF's get_view_description).
PRODUCT_REFERENCES_DESCRIPTION: Final = (
    "``GET /api/orders/product-references/{product_id}/``: how many order lines reference a product.\n\n"
    "Internal, for the catalog service once it owns the catalog: the monolith refuses to delete an ordered\n"
    "product (order lines hold it with a PROTECT foreign key: 409 ``protected``), and the service, which has no\n"
    "orders, asks here before it deletes one. Staff (the caller's own credential, passed on by the service) or\n"
    "the catalog's service token (``X-Service-Token`` = ``CATALOG_SERVICE_TOKEN``) may ask. Not in the API's\n"
    "schema: not for shoppers."
)
