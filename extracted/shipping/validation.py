"""The bodies the shipping API takes, validated as the monolith's DRF serializers validate them (their
messages, every field's errors at once, in field order):

- the status action's ``StatusChangeSerializer``: ``status`` (any status but ``cancelled``: cancelling belongs to
  the order), ``note`` (up to 500 characters), ``tracking_number`` (4-64 letters, digits or dashes), ``carrier``;
- the internal shipment request (``order``, ``user``, ``carrier``) and cancel (``order``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from .fields import EMPTY, MAX_ID, FieldError, Skip, char_field, collect, ensure_mapping, field_value, integer_field
from .rendering import CARRIERS, STATUSES

TRACKING: Final = re.compile(r"^[A-Za-z0-9-]{4,64}$")
TRACKING_MESSAGE: Final = "4-64 letters, digits or dashes."
STAFF_STATUSES: Final = tuple(s for s in STATUSES if s != "cancelled")


@dataclass(frozen=True)
class StatusChange:
    status: str
    note: str = ""
    tracking_number: str = ""
    carrier: str = ""


def choice(data: Any, choices: tuple[str, ...], *, required: bool = True) -> str:
    """DRF's ChoiceField (no blank allowed): the value's text must be one of ``choices`` exactly."""
    if data is EMPTY:
        if required:
            raise FieldError(["This field is required."])
        raise Skip()
    if data is None:
        raise FieldError(["This field may not be null."])
    if str(data) not in choices:
        raise FieldError([f'"{data}" is not a valid choice.'])
    return str(data)


def _tracking_number(data: Any) -> str:
    """``RegexField(required=False, default="")``: DRF's CharField, then the pattern on the trimmed text."""
    if data is EMPTY:
        raise Skip()
    if data is not None and (isinstance(data, bool) or not isinstance(data, str | int | float)):
        # The field's error_messages={"invalid": ...} is also the key CharField fails a value of the wrong type with.
        raise FieldError([TRACKING_MESSAGE])
    errors: list[str] = []
    try:
        value = char_field(data, required=False)
    except FieldError as exc:
        if data is None or isinstance(data, bool) or not isinstance(data, str | int | float) or not str(data).strip():
            raise  # null, blank or not text: DRF stops before the validators
        errors, value = list(exc.messages), str(data).strip()  # every validator runs: the pattern's message too
    if not TRACKING.search(value):
        errors.append(TRACKING_MESSAGE)
    if errors:
        raise FieldError(errors)
    return value


def status_change(data: Any) -> StatusChange:
    body = ensure_mapping(data)

    def get(name: str, **kw: Any) -> Any:
        return field_value(body, name, partial=False, **kw)

    def note() -> str:
        raw = get("note", required=False, allow_blank=True)
        if raw is EMPTY:
            raise Skip()
        return char_field(raw, required=False, max_length=500, allow_blank=True)

    values = collect([
        ("status", lambda: choice(get("status", required=True), STAFF_STATUSES)),
        ("note", note),
        ("tracking_number", lambda: _tracking_number(get("tracking_number", required=False))),
        ("carrier", lambda: choice(get("carrier", required=False), CARRIERS, required=False)),
    ])
    return StatusChange(**values)


def _id(data: Any) -> int:
    return integer_field(data, min_value=1, max_value=MAX_ID)


def shipment_request(data: Any) -> tuple[int, int, str]:
    """``(order, user, carrier)``; carrier ``postal`` when absent (checkout's default)."""
    body = ensure_mapping(data)

    def get(name: str, required: bool = True) -> Any:
        return field_value(body, name, partial=False, required=required)

    values = collect([
        ("order", lambda: _id(get("order"))),
        ("user", lambda: _id(get("user"))),
        ("carrier", lambda: choice(get("carrier", required=False), CARRIERS, required=False)),
    ])
    return values["order"], values["user"], values.get("carrier", "postal")


def shipment_cancel(data: Any) -> int:
    body = ensure_mapping(data)
    return int(collect([("order", lambda: _id(field_value(body, "order", partial=False, required=True)))])["order"])
