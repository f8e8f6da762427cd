"""The product list's query parameters, read as the monolith's django-filter FilterSet and DRF's
OrderingFilter read them, with the same messages and in the same order: the filters (every error at once),
then ``ordering``, then ``page_size``, each a 400.

The same filters apply to one product's URL (DRF's ``get_object()`` filters the list's queryset):
``/products/1/?search=zz`` is a 404, ``?min_price=abc`` a 400. :class:`ProductQuery` is what the reads
(:mod:`extracted.catalog.selectors`) take.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, DecimalException
from typing import Any, Final

from extracted.catalog.exceptions import ValidationFailed
from extracted.catalog.fields import INT_DECIMAL, MAX_ID, NUL_MESSAGE, FieldError, validated
from extracted.catalog.pagination import PAGE_SIZE, page_size

ORDERING_FIELDS: Final = ("id", "name", "price", "stock", "created_at")
ORDERING_ERROR: Final = ("Unknown ordering field. Use a comma-separated list of: " + ", ".join(ORDERING_FIELDS)
                         + " (prefix - for descending).")
MAX_SEARCH_LENGTH: Final = 200
_MAX_FILTER: Final = 1e50  # django-filter's NumberFilter adds MaxValueValidator(1e50)
_MAX_DIGITS: Final = 20  # the monolith's price filters: NumberFilter(min_value=0, max_digits=20)
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


def _filter_category(value: str) -> int | None:
    if value == "":
        return None
    try:
        number = int(INT_DECIMAL.sub("", value))
    except ValueError:
        raise FieldError(["Enter a whole number."]) from None
    return validated(number, [
        (number > MAX_ID, f"Ensure this value is less than or equal to {MAX_ID}."),
        (number < 1, "Ensure this value is greater than or equal to 1."),
        (number > _MAX_FILTER, "Ensure this value is less than or equal to 1e+50."),
    ])


def _filter_search(value: str) -> str | None:
    value = value.strip()
    return validated(value or None, [
        (len(value) > MAX_SEARCH_LENGTH,
         f"Ensure this value has at most {MAX_SEARCH_LENGTH} characters (it has {len(value)})."),
        ("\x00" in value, NUL_MESSAGE),
    ])


def _digits(number: Decimal) -> int:
    """The digits Django's DecimalValidator counts in ``number``."""
    _sign, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    if exponent >= 0:
        return len(digit_tuple) + (exponent if digit_tuple != (0,) else 0)
    if -exponent > len(digit_tuple):
        return -exponent
    return len(digit_tuple)


def _filter_price(value: str) -> Decimal | None:
    if value == "":
        return None
    try:
        number = Decimal(value)
    except DecimalException:
        raise FieldError(["Enter a number."]) from None
    if not number.is_finite():
        raise FieldError(["Enter a number."])
    return validated(number, [
        (number < 0, "Ensure this value is greater than or equal to 0."),
        (_digits(number) > _MAX_DIGITS, f"Ensure that there are no more than {_MAX_DIGITS} digits in total."),
        (number > _MAX_FILTER, "Ensure this value is less than or equal to 1e+50."),
    ])


def _filter_in_stock(value: str) -> bool | None:
    if value == "":
        return None
    try:
        return _STRICT_BOOLEANS[value.strip().lower()]
    except KeyError:
        raise FieldError(["Use true or false."]) from None


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


def _ordering(raw: str) -> tuple[str, ...]:
    """``?ordering=``: known fields only (400 otherwise); ties broken by id, so pages never overlap."""
    if not raw:
        return ("id",)
    terms = [term.strip() for term in raw.split(",") if term.strip()]
    if any((term[1:] if term.startswith("-") else term) not in ORDERING_FIELDS for term in terms):
        raise ValidationFailed({"ordering": [ORDERING_ERROR]})
    ordering = terms or ["id"]
    if not any(term.lstrip("-") == "id" for term in ordering):
        ordering.append("id")
    return tuple(ordering)


def product_query(params: Mapping[str, str]) -> ProductQuery:
    """Filters (all errors at once, 400), then ordering (400), then page size (400), as the monolith checks them."""
    values = _filters(params)
    return ProductQuery(
        **values,
        ordering=_ordering(params.get("ordering", "")),
        page_size=page_size(params.get("page_size", "")),
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
