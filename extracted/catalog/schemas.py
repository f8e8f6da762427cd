"""Request validation and response rendering, byte for byte as the monolith's DRF API does them.

Rendering: prices are strings with two decimals, datetimes are ISO 8601 in UTC with ``Z`` (microseconds only
when non-zero), fields in the monolith's order.

Validation replicates the rules and messages of the monolith's serializers (DRF fields), of its product
filters (django-filter / Django form fields), its ordering filter and its pagination, including the order
in which errors are reported: errors of one body come as ``{field: [messages]}`` in field order.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, DecimalException, InvalidOperation
from typing import Any, Final
from urllib.parse import parse_qs, parse_qsl, urlencode

import orjson

from extracted.catalog.exceptions import BadRequest, ParseError, UnsupportedMediaType, ValidationFailed
from extracted.catalog.multipart import parse_header_parameters, parse_multipart
from extracted.catalog.negotiation import media_type_matches

# --- rendering ----------------------------------------------------------------------------------------------------

PRODUCT_FIELDS: Final = ("id", "sku", "name", "description", "price", "stock", "is_active", "category",
                         "created_at", "updated_at")
CATEGORY_FIELDS: Final = ("id", "name", "slug", "parent")
CENT: Final = Decimal("0.01")


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
    "stock": _meta("integer", "Stock", min_value=0, max_value=2_147_483_647),
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


# --- request bodies -----------------------------------------------------------------------------------------------

MAX_BODY: Final = 1024 * 1024  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE in the monolith
MAX_FIELDS: Final = 1000  # Django's DATA_UPLOAD_MAX_NUMBER_FIELDS


class FormData(dict[str, Any]):
    """A form body (``application/x-www-form-urlencoded`` or ``multipart/form-data``): DRF treats it as HTML
    input (see ``field_value``). Values are strings, or :class:`~extracted.catalog.multipart.UploadedFile`."""


PARSERS: Final = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
MAX_MEDIA_TYPE_LENGTH: Final = 256


def _strict_constant(name: str) -> Any:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


def content_length(raw: str | None) -> int:
    """What DRF makes of ``Content-Length``: a number, else 0 (no body at all)."""
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        return 0


def request_charset(content_type: str) -> str:
    """Django's ``request.encoding``: the ``charset`` parameter when Python knows it, else UTF-8."""
    try:
        _main, params = parse_header_parameters(content_type)
    except ValueError:
        return "utf-8"
    charset = params.get("charset")
    if charset:
        try:
            codecs.lookup(charset)
        except LookupError:
            return "utf-8"
        return charset
    return "utf-8"


def _is_form(content_type: str) -> bool:
    try:
        main, _params = parse_header_parameters(content_type)
    except ValueError:
        return False
    return main in ("application/x-www-form-urlencoded", "multipart/form-data")


def parse_body(body: bytes, content_type: str | None, *, length: int | None = None, too_big: bool = False) -> Any:
    """DRF's ``request.data`` with the monolith's parsers (JSON, form, multipart, in that order).

    ``length`` is the request's Content-Length as DRF reads it (0 when missing or not a number; default:
    the body's size): without one the body is not read at all, ``{}`` (``QueryDict()``, HTML input, for a
    form media type). A body without a ``Content-Type`` is a 415 (``Unsupported media type ""``). A body
    over :data:`MAX_BODY` (``too_big``) is a 400 ``Bad request.`` once a parser has taken it, as Django's
    ``request.body`` refuses it (415 comes first).
    """
    media_type = content_type or ""
    if length is None:
        length = len(body)
    if length == 0:
        return FormData() if media_type and _is_form(media_type) else {}
    parser = None
    if len(media_type) <= MAX_MEDIA_TYPE_LENGTH:
        parser = next((p for p in PARSERS if media_type_matches(p, media_type)), None)
    if parser is None:
        raise UnsupportedMediaType(media_type)
    if too_big:
        raise BadRequest()
    charset = request_charset(media_type)
    if parser == "application/json":
        try:
            text = codecs.getreader(charset)(io.BytesIO(body)).read()
            return json.loads(text, parse_constant=_strict_constant)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
    if parser == "application/x-www-form-urlencoded":
        # Django's QueryDict: the bytes in the request's charset (Latin-1 if they are not), %-escapes too.
        try:
            text = body.decode(charset)
        except UnicodeDecodeError:
            text = body.decode("iso-8859-1")
        try:
            pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, max_num_fields=MAX_FIELDS)
        except ValueError:
            raise BadRequest() from None
        return FormData(pairs)
    fields, files = parse_multipart(body, media_type, charset)
    return FormData({**fields, **files})


# --- DRF-style fields ---------------------------------------------------------------------------------------------


class _Empty:
    """A field absent from the body (DRF's ``empty``)."""


EMPTY: Final = _Empty()


class FieldError(Exception):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(messages)
        self.messages = messages


class Skip(Exception):
    pass


MAX_STRING_LENGTH: Final = 1000
_RE_INT_DECIMAL: Final = re.compile(r"\.0*\s*$")
_SLUG: Final = re.compile(r"^[-a-zA-Z0-9_]+$")
NUL_MESSAGE: Final = "Null characters are not allowed."
SLUG_MESSAGE: Final = 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'


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
    """DRF's CharField (SlugField when ``slug``: its own message for a value of the wrong type too)."""
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


def _to_int(data: Any, invalid: str) -> int:
    if isinstance(data, str) and len(data) > MAX_STRING_LENGTH:
        raise FieldError(["String value too large."])
    try:
        return int(_RE_INT_DECIMAL.sub("", str(data)))
    except (ValueError, TypeError):
        raise FieldError([invalid]) from None


def integer_field(data: Any, *, required: bool = True, partial: bool = False, min_value: int | None = None,
                  max_value: int | None = None) -> int:
    _empty_checks(data, required=required, allow_null=False, partial=partial)
    value = _to_int(data, "A valid integer is required.")
    errors = []
    if max_value is not None and value > max_value:
        errors.append(f"Ensure this value is less than or equal to {max_value}.")
    if min_value is not None and value < min_value:
        errors.append(f"Ensure this value is greater than or equal to {min_value}.")
    if errors:
        raise FieldError(errors)
    return value


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
        from decimal import Context

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
    except TypeError:
        pass
    raise FieldError(["Must be a valid boolean."])


MIN_ID: Final = -(2**63)
MAX_ID: Final = 2**63 - 1


def related_field(data: Any, *, exists: Callable[[int], bool], required: bool = True, allow_null: bool = False,
                  partial: bool = False) -> int | None:
    """DRF's PrimaryKeyRelatedField with an integer pk field (the monolith's ``IdRelatedField``)."""
    if isinstance(data, str) and data == "":
        data = None
    if _empty_checks(data, required=required, allow_null=allow_null, partial=partial):
        return None
    pk = _to_int(data, "A valid integer is required.")
    if not (MIN_ID <= pk <= MAX_ID) or not exists(pk):
        raise FieldError([f'Invalid pk "{pk}" - object does not exist.'])
    return pk


# --- bodies of the catalog's writes -------------------------------------------------------------------------------


class Lookups:
    """What validation needs from the database (unique values, existing rows); given by the service layer."""

    def sku_taken(self, sku: str) -> bool:
        raise NotImplementedError

    def slug_taken(self, slug: str) -> bool:
        raise NotImplementedError

    def category_exists(self, category_id: int) -> bool:
        raise NotImplementedError


def field_value(data: Mapping[str, Any], name: str, *, partial: bool, required: bool, allow_null: bool = False,
                allow_blank: bool = False, boolean: bool = False) -> Any:
    """DRF's ``Field.get_value``: HTML form input has its own rules for missing and blank fields."""
    if not isinstance(data, FormData):
        return data.get(name, EMPTY)
    if name not in data:
        if partial:
            return EMPTY
        return False if boolean else EMPTY
    value = data[name]
    if value == "" and allow_null:
        return "" if allow_blank else None
    if value == "" and not required:
        return "" if allow_blank else EMPTY
    return value


def _ensure_mapping(data: Any) -> Mapping[str, Any]:
    if data is None:
        raise ValidationFailed({"non_field_errors": ["No data provided"]})
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
    return data


def _collect(fields: list[tuple[str, Callable[[], Any]]]) -> dict[str, Any]:
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


def validate_product(raw: Any, lookups: Lookups, *, partial: bool) -> dict[str, Any]:
    """The ProductSerializer's validated data: keys among sku, name, description, price, stock, is_active,
    category_id."""
    data = _ensure_mapping(raw)

    def get(name: str, **kw: Any) -> Any:
        return field_value(data, name, partial=partial, **kw)

    def sku_taken(value: str) -> bool:
        """product with this sku already exists."""
        return lookups.sku_taken(value)

    values = _collect([
        ("sku", lambda: char_field(get("sku", required=True), partial=partial, max_length=32, taken=sku_taken)),
        ("name", lambda: char_field(get("name", required=True), partial=partial, max_length=200)),
        ("description", lambda: char_field(get("description", required=False, allow_blank=True), required=False,
                                           partial=partial, allow_blank=True)),
        ("price", lambda: decimal_field(get("price", required=True), partial=partial,
                                        min_value=Decimal("0.00"))),
        ("stock", lambda: integer_field(get("stock", required=False), required=False, partial=partial,
                                        min_value=0, max_value=2_147_483_647)),
        ("is_active", lambda: boolean_field(get("is_active", required=False, boolean=True), partial=partial)),
        ("category", lambda: related_field(get("category", required=True), exists=lookups.category_exists,
                                           partial=partial)),
    ])
    if "category" in values:
        values["category_id"] = values.pop("category")
    return values


def validate_category(raw: Any, lookups: Lookups, *, partial: bool) -> dict[str, Any]:
    """The CategorySerializer's validated data: keys among name, slug, parent_id."""
    data = _ensure_mapping(raw)

    def slug_taken(value: str) -> bool:
        """category with this slug already exists."""
        return lookups.slug_taken(value)

    values = _collect([
        ("name", lambda: char_field(field_value(data, "name", partial=partial, required=True), partial=partial,
                                    max_length=120)),
        ("slug", lambda: char_field(field_value(data, "slug", partial=partial, required=True), partial=partial,
                                    max_length=140, slug=True, taken=slug_taken)),
        ("parent", lambda: related_field(field_value(data, "parent", partial=partial, required=False,
                                                     allow_null=True),
                                         exists=lookups.category_exists, required=False, allow_null=True,
                                         partial=partial)),
    ])
    if "parent" in values:
        values["parent_id"] = values.pop("parent")
    return values


def validate_stock_adjustment(raw: Any) -> tuple[int, str | None]:
    data = _ensure_mapping(raw)

    def delta() -> int:
        value = integer_field(field_value(data, "delta", partial=False, required=True), min_value=-1_000_000,
                              max_value=1_000_000)
        if value == 0:
            raise FieldError(["A stock adjustment of 0 changes nothing."])
        return value

    values = _collect([
        ("delta", delta),
        ("reason", lambda: char_field(field_value(data, "reason", partial=False, required=False, allow_blank=True),
                                      required=False, max_length=200, allow_blank=True)),
    ])
    return values["delta"], values.get("reason")


# --- the internal stock endpoints (reserve / release) -------------------------------------------------------------

MAX_STOCK_ITEMS: Final = 100
MAX_ITEM_QUANTITY: Final = 1000


def _stock_item(raw: Any) -> tuple[int, int]:
    if not isinstance(raw, Mapping) or isinstance(raw, FormData):
        kind = "str" if isinstance(raw, str) else type(raw).__name__
        raise ValidationFailed({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]})
    values = _collect([
        ("product", lambda: integer_field(raw.get("product", EMPTY), min_value=1, max_value=MAX_ID)),
        ("quantity", lambda: integer_field(raw.get("quantity", EMPTY), min_value=1, max_value=MAX_ITEM_QUANTITY)),
    ])
    return values["product"], values["quantity"]


def validate_stock_items(raw: Any) -> dict[int, int]:
    """The body ``{"items": [{"product": id, "quantity": n}, ...]}`` of reserve and release, as
    ``{product_id: quantity}`` in id order, duplicates summed. Errors come DRF's way: ``{"items": [...]}``
    with one dict per item (empty for the valid ones)."""
    data = _ensure_mapping(raw)
    if isinstance(data, FormData):
        raise ValidationFailed({"items": ["Send the items as JSON."]})
    items = data.get("items", EMPTY)
    if items is EMPTY:
        raise ValidationFailed({"items": ["This field is required."]})
    if items is None:
        raise ValidationFailed({"items": ["This field may not be null."]})
    if not isinstance(items, list):
        raise ValidationFailed({"items": [f'Expected a list of items but got type "{type(items).__name__}".']})
    if not items:
        raise ValidationFailed({"items": ["This list may not be empty."]})
    if len(items) > MAX_STOCK_ITEMS:
        raise ValidationFailed({"items": [f"Ensure this field has no more than {MAX_STOCK_ITEMS} elements."]})
    quantities: dict[int, int] = {}
    errors: list[dict[str, list[Any]]] = []
    for raw_item in items:
        try:
            product_id, quantity = _stock_item(raw_item)
        except ValidationFailed as exc:
            errors.append(exc.errors)
            continue
        errors.append({})
        quantities[product_id] = quantities.get(product_id, 0) + quantity
    if any(errors):
        raise ValidationFailed({"items": errors})
    return dict(sorted(quantities.items()))


# --- the product list's query parameters --------------------------------------------------------------------------

ORDERING_FIELDS: Final = ("id", "name", "price", "stock", "created_at")
ORDERING_ERROR: Final = ("Unknown ordering field. Use a comma-separated list of: " + ", ".join(ORDERING_FIELDS)
                         + " (prefix - for descending).")
PAGE_SIZE: Final = 20
MAX_PAGE_SIZE: Final = 100
_MAX_FILTER: Final = 1e50  # django-filter's NumberFilter adds MaxValueValidator(1e50)
_STRICT_BOOLEANS: Final = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class ProductQuery:
    category: int | None = None
    search: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    ordering: tuple[str, ...] = ("id",)
    page_size: int = PAGE_SIZE
    page: str = "1"


def parse_query(query_string: bytes) -> list[tuple[str, str]]:
    """Django's QueryDict parsing: UTF-8 (Latin-1 if that fails), ``&`` only, blanks kept, at most 1000 fields."""
    try:
        text = query_string.decode("utf-8")
    except UnicodeDecodeError:
        text = query_string.decode("iso-8859-1")
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise BadRequest() from None


def _filter_category(value: str) -> int | None:
    if value == "":
        return None
    try:
        number = int(_RE_INT_DECIMAL.sub("", value))
    except ValueError:
        raise FieldError(["Enter a whole number."]) from None
    errors = []
    if number > MAX_ID:
        errors.append(f"Ensure this value is less than or equal to {MAX_ID}.")
    if number < 1:
        errors.append("Ensure this value is greater than or equal to 1.")
    if number > _MAX_FILTER:
        errors.append("Ensure this value is less than or equal to 1e+50.")
    if errors:
        raise FieldError(errors)
    return number


def _filter_search(value: str) -> str | None:
    value = value.strip()
    errors = []
    if len(value) > 200:
        errors.append(f"Ensure this value has at most 200 characters (it has {len(value)}).")
    if "\x00" in value:
        errors.append(NUL_MESSAGE)
    if errors:
        raise FieldError(errors)
    return value or None


def _filter_price(value: str) -> Decimal | None:
    if value == "":
        return None
    try:
        number = Decimal(value)
    except DecimalException:
        raise FieldError(["Enter a number."]) from None
    if not number.is_finite():
        raise FieldError(["Enter a number."])
    errors = []
    if number < 0:
        errors.append("Ensure this value is greater than or equal to 0.")
    _sign, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0:
        digits = len(digit_tuple) + (exponent if digit_tuple != (0,) else 0)
    elif -exponent > len(digit_tuple):
        digits = -exponent
    else:
        digits = len(digit_tuple)
    if digits > 20:
        errors.append("Ensure that there are no more than 20 digits in total.")
    if number > _MAX_FILTER:
        errors.append("Ensure this value is less than or equal to 1e+50.")
    if errors:
        raise FieldError(errors)
    return number


def _filter_in_stock(value: str) -> bool | None:
    if value == "":
        return None
    try:
        return _STRICT_BOOLEANS[value.strip().lower()]
    except KeyError:
        raise FieldError(["Use true or false."]) from None


def _ordering(raw: str) -> tuple[str, ...]:
    if not raw:
        return ("id",)
    terms = [term.strip() for term in raw.split(",") if term.strip()]
    if any((term[1:] if term.startswith("-") else term) not in ORDERING_FIELDS for term in terms):
        raise ValidationFailed({"ordering": [ORDERING_ERROR]})
    ordering = terms or ["id"]
    if not any(term.lstrip("-") == "id" for term in ordering):
        ordering.append("id")
    return tuple(ordering)


def _page_size(raw: str) -> int:
    if raw == "":
        return PAGE_SIZE
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        raise ValidationFailed({"page_size": ["Enter a whole number from 1 up."]})
    if len(digits) > len(str(MAX_PAGE_SIZE)):
        return MAX_PAGE_SIZE
    return min(int(digits), MAX_PAGE_SIZE)


_FILTERS: Final[tuple[tuple[str, Callable[[str], Any]], ...]] = (
    ("category", _filter_category),
    ("search", _filter_search),
    ("min_price", _filter_price),
    ("max_price", _filter_price),
    ("in_stock", _filter_in_stock),
)


def _filters(params: Mapping[str, str]) -> dict[str, Any]:
    """The product filters (django-filter's FilterSet): every error at once, 400."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, parse in _FILTERS:
        raw = params.get(name)
        if raw is None:
            continue
        try:
            values[name] = parse(raw)
        except FieldError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationFailed(errors)
    return values


def product_query(params: Mapping[str, str]) -> ProductQuery:
    """Filters (all errors at once, 400), then ordering (400), then page size (400), as the monolith checks them."""
    values = _filters(params)
    return ProductQuery(
        **values,
        ordering=_ordering(params.get("ordering", "")),
        page_size=_page_size(params.get("page_size", "")),
        page=params.get("page") or "1",
    )


def detail_query(params: Mapping[str, str]) -> ProductQuery | None:
    """The list's filters applied to one product's URL (DRF's ``get_object()`` filters the queryset too): the
    same 400s for bad filters and ordering (pagination plays no part); None when no filter narrows anything."""
    values = _filters(params)
    _ordering(params.get("ordering", ""))
    if not any(value is not None for value in values.values()):
        return None
    return ProductQuery(**values)


def page_number(raw: str, count: int, page_size: int) -> int | None:
    """Django's Paginator: the page number, or None for DRF's 404 ``Invalid page.``."""
    pages = max(1, -(-count // page_size)) if count else 1
    if raw == "last":
        return pages
    try:
        number = int(raw)
    except ValueError:
        return None
    if number < 1 or number > pages:
        return None
    return number


def page_link(base: str, query_string: str, page: int | None) -> str:
    """DRF's replace_query_param / remove_query_param on the request's absolute URI (keys sorted)."""
    params = parse_qs(query_string, keep_blank_values=True)
    if page is None:
        params.pop("page", None)
    else:
        params["page"] = [str(page)]
    query = urlencode(sorted(params.items()), doseq=True)
    return f"{base}?{query}" if query else base


def page_number_hint(raw: str) -> int | None:
    """What Django's Paginator decides before counting: -1 for ``last``, the number, or None (404)."""
    if raw == "last":
        return -1
    try:
        number = int(raw)
    except ValueError:
        return None
    return number if number >= 1 else None
