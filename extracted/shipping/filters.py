"""The shipment list's query parameters, read as the monolith's django-filter ``ShipmentFilter`` reads them
(``order``: a whole id from 1; ``status``: one of the statuses), with its messages, every error at once (a 400).

DRF's ``get_object()`` filters the list's queryset, so the same filters apply to one shipment's URL and to its
status action: ``/shipments/1/?status=packed`` is a 404 when shipment 1 is not packed, ``?order=x`` a 400.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from .exceptions import ValidationFailed
from .fields import INT_DECIMAL, MAX_ID, FieldError, validated
from .rendering import STATUSES

_MAX_FILTER: Final = 1e50  # django-filter's NumberFilter adds MaxValueValidator(1e50)


@dataclass(frozen=True)
class ShipmentFilter:
    order: int | None = None
    status: str | None = None


def _order(value: str) -> int | None:
    """``IdFilter``: Django's IntegerField (``3.0`` and `` 3 `` are 3, any Unicode digits; a blank is not a
    number), then its bounds."""
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


def _status(value: str) -> str | None:
    """``ChoiceFilter``: empty is no filter; anything but a status (exactly) is refused."""
    if value == "":
        return None
    if value not in STATUSES:
        raise FieldError([f"Select a valid choice. {value} is not one of the available choices."])
    return value


def shipment_filter(params: Mapping[str, str]) -> ShipmentFilter:
    """The filters of a request's query (its last value of each name, as Django's QueryDict gives them)."""
    values: dict[str, int | str | None] = {}
    errors: dict[str, list[str]] = {}
    for name, read in (("order", _order), ("status", _status)):
        try:
            values[name] = read(params.get(name, ""))
        except FieldError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationFailed(errors)
    order, status = values["order"], values["status"]
    return ShipmentFilter(order=order if isinstance(order, int) else None,
                          status=status if isinstance(status, str) else None)
