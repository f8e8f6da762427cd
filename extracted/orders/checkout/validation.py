"""What a checkout request asks, validated as the monolith's ``CheckoutSerializer`` validates it (its fields,
rules, messages and their order), and the hash that tells a retry from another request under the same key.

The body: ``address`` (a saved address id: the user's address book is the monolith's, asked over its internal
API) or ``shipping_address`` (inline: full_name, line1, line2, city, postal_code, country), exactly one, and
``carrier`` (default ``postal``). The country is kept in capitals, as the monolith keeps it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from extracted.orders.exceptions import ValidationFailed
from extracted.orders.fields import (
    EMPTY,
    FieldError,
    Skip,
    char_field,
    collect,
    ensure_mapping,
    field_value,
    integer_field,
)
from extracted.orders.parsers import FormData

CARRIERS: Final = ("postal", "dhl", "ups", "fedex")
MAX_ID: Final = 2**63 - 1
COUNTRY: Final = re.compile(r"^[A-Za-z]{2}$")
COUNTRY_MESSAGE: Final = "Use a two-letter country code (ISO 3166-1)."
EITHER: Final = "Give either address (a saved address id) or shipping_address."
NO_ADDRESS: Final = "No such address in your address book."
ADDRESS_FIELDS: Final = ("full_name", "line1", "line2", "city", "postal_code", "country")


def _country(data: Any) -> str:
    errors: list[str] = []
    try:
        value = char_field(data, max_length=2)
    except FieldError as exc:
        if data is EMPTY or data is None or (isinstance(data, str) and not data.strip()):
            raise
        errors, value = list(exc.messages), str(data).strip()
    if not COUNTRY.search(value):
        errors.append(COUNTRY_MESSAGE)
    if errors:
        raise FieldError(errors)
    return value


def _optional(run: Any, default: str) -> Any:
    def field() -> Any:
        try:
            return run()
        except Skip:
            return default
    return field


def shipping_address(data: Any) -> dict[str, str]:
    """The nested ShippingAddressSerializer: a FieldError carries its ``{field: [messages]}`` as one message."""
    if data is None:
        raise FieldError(["This field may not be null."])
    if not isinstance(data, Mapping):
        raise NestedError({"non_field_errors": [f"Invalid data. Expected a dictionary, but got "
                                                f"{type(data).__name__}."]})

    def get(name: str, **kw: Any) -> Any:
        return field_value(data, name, partial=False, required=kw.pop("required", True), **kw)

    try:
        return collect([
            ("full_name", lambda: char_field(get("full_name"), max_length=120)),
            ("line1", lambda: char_field(get("line1"), max_length=200)),
            ("line2", _optional(lambda: char_field(get("line2", required=False, allow_blank=True), required=False,
                                                   max_length=200, allow_blank=True), "")),
            ("city", lambda: char_field(get("city"), max_length=100)),
            ("postal_code", lambda: char_field(get("postal_code"), max_length=20)),
            ("country", lambda: _country(get("country"))),
        ])
    except ValidationFailed as failed:
        raise NestedError(failed.errors) from None


class NestedError(Exception):
    def __init__(self, detail: Any) -> None:
        super().__init__(detail)
        self.detail = detail


def _carrier(data: Any) -> str:
    if data is EMPTY:
        raise Skip()
    if data is None:
        raise FieldError(["This field may not be null."])
    if str(data) not in CARRIERS:
        raise FieldError([f'"{data}" is not a valid choice.'])
    return str(data)


def _nested_form(data: FormData, prefix: str) -> Any:
    """DRF's ``parse_html_dict``: form fields ``shipping_address.full_name`` etc.; absent when there are none."""
    found = {key[len(prefix) + 1:]: data[key] for key in data if key.startswith(prefix + ".")}
    return found if found else EMPTY


def validate(body: Any) -> tuple[int | None, dict[str, str] | None, str]:
    """``(saved address id, inline address, carrier)``, exactly one of the first two; else ValidationFailed."""
    data = ensure_mapping(body)
    nested_errors: dict[str, Any] = {}

    def nested() -> Any:
        raw = _nested_form(data, "shipping_address") if isinstance(data, FormData) else data.get(
            "shipping_address", EMPTY)
        if raw is EMPTY:
            raise Skip()
        try:
            return shipping_address(raw)
        except NestedError as exc:
            nested_errors["shipping_address"] = exc.detail
            raise Skip() from None

    try:
        values = collect([
            ("address", lambda: integer_field(field_value(data, "address", partial=False, required=False),
                                              required=False, min_value=1, max_value=MAX_ID)),
            ("shipping_address", nested),
            ("carrier", lambda: _carrier(field_value(data, "carrier", partial=False, required=False))),
        ])
    except ValidationFailed as failed:
        errors: dict[str, Any] = dict(failed.errors)
        errors.update(nested_errors)
        raise ValidationFailed({name: errors[name] for name in ("address", "shipping_address", "carrier")
                                if name in errors}) from None
    if nested_errors:
        raise ValidationFailed(nested_errors)
    if ("address" in values) == ("shipping_address" in values):
        raise ValidationFailed({"non_field_errors": [EITHER]})
    inline = values.get("shipping_address")
    if inline is not None:
        inline = {**inline, "country": inline["country"].upper()}
    return values.get("address"), inline, values.get("carrier", "postal")


def internal_user(body: Any) -> int:
    """The ``user`` an internal checkout is for (the monolith's signed-in user): 1 to 2**63-1."""
    data = ensure_mapping(body)
    values = collect([("user", lambda: integer_field(field_value(data, "user", partial=False, required=True),
                                                     min_value=1, max_value=MAX_ID))])
    return int(values["user"])


def saved_address(found: Mapping[str, Any] | None) -> dict[str, str]:
    if found is None or not all(isinstance(found.get(name), str) for name in ADDRESS_FIELDS):
        raise ValidationFailed({"address": [NO_ADDRESS]})
    return {name: str(found[name]) for name in ADDRESS_FIELDS} | {"country": str(found["country"]).upper()}


def request_hash(shipping: Mapping[str, str], carrier: str, address: int | None) -> str:
    """What makes two requests under one key the same request: what they asked, not how it was spelled."""
    asked = {"address": address, "shipping_address": dict(shipping) if address is None else None, "carrier": carrier}
    return hashlib.sha256(json.dumps(asked, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
