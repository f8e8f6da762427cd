"""DRF's serializer fields, as the monolith's serializers use them: their rules, their messages, their order.

Each field function takes the raw value (:data:`EMPTY` when the body lacks it) and returns the validated
value, raises :class:`FieldError` with every message of that field (DRF runs all validators of a field), or
:class:`Skip` when the field is to be left out (absent in a partial update). :func:`collect` runs the fields
of one body and raises all their errors at once, ``{field: [messages]}`` in field order, as DRF does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Context, Decimal, DecimalException, InvalidOperation
from typing import Any, Final, TypeVar

from .exceptions import ValidationFailed
from .parsers import FormData

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
_SLUG: Final = re.compile(r"^[-a-zA-Z0-9_]+$")
NUL_MESSAGE: Final = "Null characters are not allowed."
SLUG_MESSAGE: Final = 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'
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


def char_field(data: Any, *, required: bool = True, partial: bool = False, max_length: int | None = None,
               allow_blank: bool = False, slug: bool = False,
               taken: Callable[[str], bool] | None = None) -> str:
    """DRF's CharField (SlugField when ``slug``: its own message for a value of the wrong type too);
    ``taken``: the unique check, its docstring the message."""
    if data is not EMPTY and (data == "" or str(data).strip() == ""):
        if not allow_blank:
            raise FieldError(["This field may not be blank."])
        return ""
    _empty_checks(data, required=required, allow_null=False, partial=partial)
    if isinstance(data, bool) or not isinstance(data, str | int | float):
        raise FieldError([SLUG_MESSAGE if slug else "Not a valid string."])
    value = str(data).strip()
    errors: list[str] = []
    nul = "\x00" in value
    surrogate = next((ch for ch in value if 0xD800 <= ord(ch) <= 0xDFFF), None)
    if taken is not None and not nul and surrogate is None and taken(value):
        errors.append(taken.__doc__ or "This field must be unique.")
    if max_length is not None and len(value) > max_length:
        errors.append(f"Ensure this field has no more than {max_length} characters.")
    if nul:
        errors.append(NUL_MESSAGE)
    if surrogate is not None:
        errors.append(f"Surrogate characters are not allowed: U+{ord(surrogate):X}.")
    if slug and not _SLUG.search(value):
        errors.append(SLUG_MESSAGE)
    if errors:
        raise FieldError(errors)
    return value


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


def decimal_field(data: Any, *, required: bool = True, partial: bool = False, max_digits: int = 10,
                  decimal_places: int = 2, min_value: Decimal | None = None) -> Decimal:
    _empty_checks(data, required=required, allow_null=False, partial=partial)
    text = _smart_str(data).strip()
    if len(text) > MAX_STRING_LENGTH:
        raise FieldError(["String value too large."])
    try:
        value = Decimal(text)
    except DecimalException:
        raise FieldError(["A valid number is required."]) from None
    if value.is_nan() or value.is_infinite():
        raise FieldError(["A valid number is required."])
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0:
        total, whole, places = len(digits) + exponent, len(digits) + exponent, 0
    elif len(digits) > -exponent:
        total, whole, places = len(digits), len(digits) + exponent, -exponent
    else:
        total, whole, places = -exponent, 0, -exponent
    if total > max_digits:
        raise FieldError([f"Ensure that there are no more than {max_digits} digits in total."])
    if places > decimal_places:
        raise FieldError([f"Ensure that there are no more than {decimal_places} decimal places."])
    if whole > max_digits - decimal_places:
        raise FieldError([f"Ensure that there are no more than {max_digits - decimal_places} digits before the "
                          "decimal point."])
    try:
        value = value.quantize(Decimal(1).scaleb(-decimal_places), context=Context(prec=max_digits))
    except InvalidOperation:  # pragma: no cover - excluded by the precision checks above
        raise FieldError(["A valid number is required."]) from None
    if min_value is not None and value < min_value:
        raise FieldError([f"Ensure this value is greater than or equal to {min_value}."])
    return value


def _smart_str(data: Any) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="strict")
    return str(data)


_TRUE: Final = frozenset({"t", "y", "yes", "true", "on", "1", 1})  # 1 == True == 1.0
_FALSE: Final = frozenset({"f", "n", "no", "false", "off", "0", 0})  # 0 == False == 0.0


def boolean_field(data: Any, *, partial: bool = False) -> bool:
    _empty_checks(data, required=False, allow_null=False, partial=partial)
    probe = data.lower() if isinstance(data, str) else data
    try:
        if probe in _TRUE:
            return True
        if probe in _FALSE:
            return False
    except TypeError:  # an unhashable value (a list, a dict) is not a boolean either
        pass
    raise FieldError(["Must be a valid boolean."])


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
