"""Responses, as the monolith's DRF API renders shipments (its ``ShipmentSerializer``): fields in its order,
datetimes ISO 8601 in UTC with ``Z``, the shipment's events oldest first; and the OPTIONS metadata DRF gives the
status action."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from .responses import json_response as json_response
from .responses import render_datetime

STATUSES: Final = ("pending", "packed", "shipped", "in_transit", "delivered", "cancelled")
CARRIERS: Final = ("postal", "dhl", "ups", "fedex")


def event_dict(row: Any) -> dict[str, Any]:
    """A shipment_events row (``id, shipment_id, status, note, created_at``) as ShipmentEventSerializer has it."""
    return {"status": row[2], "note": row[3], "created_at": render_datetime(row[4])}


def shipment_dict(row: Any, events: Iterable[Any]) -> dict[str, Any]:
    """A shipments row (``id, order_id, user_id, carrier, tracking_number, status, created_at, updated_at``) with
    its events (id order), as ShipmentSerializer renders it (the customer is not shown, as in the monolith)."""
    return {"id": row[0], "order": row[1], "carrier": row[3], "tracking_number": row[4], "status": row[5],
            "created_at": render_datetime(row[6]), "updated_at": render_datetime(row[7]),
            "events": [event_dict(event) for event in events]}


def internal_dict(row: Any) -> dict[str, Any]:
    """What the internal shipment API answers (the monolith's ``shipment_answer``)."""
    return {"id": row[0], "order": row[1], "carrier": row[3], "tracking_number": row[4], "status": row[5]}


# --- OPTIONS: DRF's SimpleMetadata for the status action (it describes the viewset's ShipmentSerializer) ----------

def _meta(kind: str, label: str, *, required: bool = False, read_only: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "required": required, "read_only": read_only, "label": label, **extra}


def _choices(values: Iterable[str]) -> list[dict[str, str]]:
    # Django's TextChoices label: the value's words, capitalised ("in_transit" -> "In Transit").
    return [{"value": value, "display_name": value.replace("_", " ").title()} for value in values]


STATUS_ACTION_FIELDS: Final = {
    "id": _meta("integer", "ID", read_only=True),
    "order": _meta("field", "Order", required=True),
    "carrier": _meta("choice", "Carrier", choices=_choices(CARRIERS)),
    "tracking_number": _meta("string", "Tracking number", max_length=64),
    "status": _meta("choice", "Status", choices=_choices(STATUSES)),
    "created_at": _meta("datetime", "Created at"),
    "updated_at": _meta("datetime", "Updated at"),
    "events": _meta("field", "Events", read_only=True, child={
        "type": "nested object", "required": False, "read_only": True, "children": {
            "status": _meta("choice", "Status", required=True, choices=_choices(STATUSES)),
            "note": _meta("string", "Note", max_length=500),
            "created_at": _meta("datetime", "Created at"),
        }}),
}


def status_action_fields(dialect: str) -> dict[str, Any]:
    """The same on every kind of database (no integer ranges among these fields)."""
    return STATUS_ACTION_FIELDS
