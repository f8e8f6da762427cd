"""DRF's serializer fields, as the monolith's cart serializers use them: their rules, their messages, their order.
(Cut from the catalog service's ``fields.py``: the integer and related fields, and what runs a whole body.)

Each field function takes the raw value (:data:`EMPTY` when the body lacks it) and returns the validated
value, raises :class:`FieldError` with every message of that field (DRF runs all validators of a field), or
:class:`Skip` when the field is to be left out (absent in a partial update). :func:`collect` runs the fields
of one body and raises all their errors at once, ``{field: [messages]}`` in field order, as DRF does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from extracted.cart.exceptions import ValidationFailed
from extracted.cart.parsers import FormData

T = TypeVar("T")


class _Empty:
    """A field absent from the body (DRF's ``empty``)."""


EMPTY: Final = _Empty()


class FieldError(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(messages)
        self.messages = messages


class Skip(Exception):
    pass


MAX_STRING_LENGTH: Final = 1000  # DRF refuses longer strings before converting them to numbers
INT_DECIMAL: Final = re.compile(r"\.0*\s*$")  # "3.0" is the integer 3 to DRF and to Django's forms
MIN_ID: Final = -(2**63)
MAX_ID: Final = 2**63 - 1


def validated(value: T, checks: Iterable[tuple[bool, str]]) -> T:
    """``value``, or :class:`FieldError` with the message of every check that failed, in order."""
    errors = [message for failed, message in checks if failed]
    if errors:
        raise FieldError(errors)
    return value


def _empty_checks(data: Any, *, required: bool, allow_null: bool, partial: bool) -> bool:
    """DRF's ``validate_empty_values``: True when the field is to be left out (raises for missing/null)."""
    if data is EMPTY:
        if partial or not required:
            raise Skip()
        raise FieldError(["This field is required."])
    if data is None:
        if not allow_null:
            raise FieldError(["This field may not be null."])
        return True
    return False


def to_int(data: Any, invalid: str) -> int:
    if isinstance(data, str) and len(data) > MAX_STRING_LENGTH:
        raise FieldError(["String value too large."])
    try:
        return int(INT_DECIMAL.sub("", str(data)))
    except (ValueError, TypeError):
        raise FieldError([invalid]) from None


def integer_field(data: Any, *, required: bool = True, partial: bool = False, min_value: int | None = None,
                  max_value: int | None = None) -> int:
    _empty_checks(data, required=required, allow_null=False, partial=partial)
    value = to_int(data, "A valid integer is required.")
    return validated(value, [
        (max_value is not None and value > max_value, f"Ensure this value is less than or equal to {max_value}."),
        (min_value is not None and value < min_value, f"Ensure this value is greater than or equal to {min_value}."),
    ])


def related_field(data: Any, *, exists: Callable[[int], bool], required: bool = True, allow_null: bool = False,
                  partial: bool = False) -> int | None:
    """DRF's PrimaryKeyRelatedField with an integer pk field (the monolith's ``IdRelatedField``)."""
    if isinstance(data, str) and data == "":
        data = None
    if _empty_checks(data, required=required, allow_null=allow_null, partial=partial):
        return None
    pk = to_int(data, "A valid integer is required.")
    if not (MIN_ID <= pk <= MAX_ID) or not exists(pk):
        raise FieldError([f'Invalid pk "{pk}" - object does not exist.'])
    return pk


# --- a whole body ---------------------------------------------------------------------------------------------------


def field_value(data: Mapping[str, Any], name: str, *, partial: bool, required: bool, allow_null: bool = False,
                allow_blank: bool = False, boolean: bool = False) -> Any:
    """DRF's ``Field.get_value``: HTML form input has its own rules for missing and blank fields."""
    if not isinstance(data, FormData):
        return data.get(name, EMPTY)
    if name not in data:
        if partial:
            return EMPTY
        return False if boolean else EMPTY  # an unticked HTML checkbox is not sent at all
    value = data[name]
    if value == "" and allow_null:
        return "" if allow_blank else None
    if value == "" and not required:
        return "" if allow_blank else EMPTY
    return value


def ensure_mapping(data: Any) -> Mapping[str, Any]:
    """The body must be an object: DRF's ``non_field_errors`` otherwise."""
    if data is None:
        raise ValidationFailed({"non_field_errors": ["No data provided"]})
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
    return data


def collect(fields: list[tuple[str, Callable[[], Any]]]) -> dict[str, Any]:
    """Runs each field in order; their values, or a ValidationFailed with the errors of all that failed."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, run in fields:
        try:
            values[name] = run()
        except Skip:
            continue
        except FieldError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationFailed(errors)
    return values
