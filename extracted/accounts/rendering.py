"""Responses, as the monolith's DRF API renders accounts: ``UserSerializer`` (the caller, ``/me/``),
``AddressSerializer`` (the address book) and the internal look-up's fields; datetimes ISO 8601 in UTC with ``Z``.
And the OPTIONS metadata DRF's SimpleMetadata gives the address book's views (``actions``: the serializer's
fields for a POST on the list, for a PUT on an address the caller has)."""

from __future__ import annotations

from typing import Any, Final

from .responses import json_response as json_response
from .responses import render_datetime

ME_DESCRIPTION: Final = ("Who is calling. The router's identity bridge resolves sessions and tokens through this "
                         "endpoint.")
INTERNAL_FIELDS: Final = ("full_name", "line1", "line2", "city", "postal_code", "country")


def user_dict(row: Any) -> dict[str, Any]:
    """A users row (``id, email, first_name, last_name, is_staff, date_joined, ...``) as UserSerializer has it."""
    return {"id": row[0], "email": row[1], "first_name": row[2], "last_name": row[3], "is_staff": bool(row[4]),
            "date_joined": render_datetime(row[5])}


def address_dict(row: Any) -> dict[str, Any]:
    """An addresses row (``id, user_id, full_name, line1, line2, city, postal_code, country, phone, is_default,
    created_at``) as AddressSerializer renders it (the user is not shown)."""
    return {"id": row[0], "full_name": row[2], "line1": row[3], "line2": row[4], "city": row[5],
            "postal_code": row[6], "country": row[7], "phone": row[8], "is_default": bool(row[9]),
            "created_at": render_datetime(row[10])}


def internal_address_dict(row: Any) -> dict[str, Any]:
    """What the internal look-up answers: the fields an order copies."""
    rendered = address_dict(row)
    return {name: rendered[name] for name in INTERNAL_FIELDS}


# --- OPTIONS: DRF's SimpleMetadata of AddressSerializer ------------------------------------------------------------

def _meta(kind: str, label: str, *, required: bool = False, read_only: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "required": required, "read_only": read_only, "label": label, **extra}


ADDRESS_FIELDS: Final = {
    "id": _meta("integer", "ID", read_only=True),
    "full_name": _meta("string", "Full name", required=True, max_length=120),
    "line1": _meta("string", "Line1", required=True, max_length=200),
    "line2": _meta("string", "Line2", max_length=200),
    "city": _meta("string", "City", required=True, max_length=100),
    "postal_code": _meta("string", "Postal code", required=True, max_length=20),
    "country": _meta("regex", "Country", required=True, max_length=2),
    "phone": _meta("string", "Phone", max_length=30),
    "is_default": _meta("boolean", "Is default"),
    "created_at": _meta("datetime", "Created at", read_only=True),
}


def address_fields(dialect: str) -> dict[str, Any]:
    """The same on every kind of database (no integer ranges among these fields)."""
    return ADDRESS_FIELDS
