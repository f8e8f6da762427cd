"""The bodies the accounts API takes, validated as the monolith's DRF serializers validate them (their messages,
every field's errors at once, in field order):

- ``UserSerializer`` for ``PATCH /api/accounts/me/``: ``first_name`` and ``last_name`` (up to 150 characters,
  blank allowed); ``id``, ``email``, ``is_staff`` and ``date_joined`` are read-only, ignored when sent; partial;
- ``AddressSerializer`` (create, PUT, PATCH): ``full_name`` (120), ``line1`` (200), ``line2`` (200, optional,
  blank allowed), ``city`` (100), ``postal_code`` (20), ``country`` (a ``RegexField`` of two letters, with the
  monolith's own message, uppercased), ``phone`` (30, optional, blank allowed), ``is_default`` (DRF's
  ``BooleanField``); ``id`` and ``created_at`` are read-only;
- the internal address look-up of the orders service's checkout (``user``, ``address``);
- ``RegisterSerializer``: ``email`` (an ``EmailField(max_length=150)``: Django's ``EmailValidator``, :mod:`.emails`),
  ``password`` (128, spaces kept), ``first_name`` and ``last_name`` (optional, 150, blank allowed, default ``""``);
- ``LoginSerializer``: ``email`` (a ``CharField(max_length=254)``: any text), ``password`` (128, spaces kept).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial as bind
from typing import Any, Final

from .emails import MESSAGE as EMAIL_MESSAGE
from .emails import valid_email
from .fields import (
    EMPTY,
    MAX_ID,
    FieldError,
    boolean_field,
    char_field,
    collect,
    ensure_mapping,
    field_value,
    integer_field,
)

COUNTRY: Final = re.compile(r"^[A-Za-z]{2}$")
COUNTRY_MESSAGE: Final = "Use a two-letter country code (ISO 3166-1)."
NAME_MAX_LENGTH: Final = 150
# (field, max_length, required): the address's text fields in the serializer's order (country comes between).
_BEFORE_COUNTRY: Final = (("full_name", 120, True), ("line1", 200, True), ("line2", 200, False),
                          ("city", 100, True), ("postal_code", 20, True))


def profile(data: Any) -> dict[str, str]:
    """``UserSerializer(user, data, partial=True)``'s validated data: the names sent, nothing else."""
    body = ensure_mapping(data)

    def name(field: str) -> str:
        raw = field_value(body, field, partial=True, required=False, allow_blank=True)
        return char_field(raw, required=False, partial=True, max_length=NAME_MAX_LENGTH, allow_blank=True)

    return collect([(field, bind(name, field)) for field in ("first_name", "last_name")])


def _text(body: Mapping[str, Any], field: str, max_length: int, required: bool, partial: bool) -> str:
    """A model CharField as ModelSerializer maps it: required unless the model field has ``blank=True`` (then
    optional, blank allowed)."""
    raw = field_value(body, field, partial=partial, required=required, allow_blank=not required)
    return char_field(raw, required=required, partial=partial, max_length=max_length, allow_blank=not required)


def _country(data: Any, partial: bool) -> str:
    """``RegexField(r"^[A-Za-z]{2}$", max_length=2, error_messages={"invalid": ...})``, then ``validate_country``
    (uppercased). DRF's CharField fails a value of the wrong type with the field's ``invalid`` message (the
    monolith's own); otherwise every validator runs: the length's message, then the pattern's."""
    if data is EMPTY or data is None or data == "" or str(data).strip() == "":
        return char_field(data, required=True, partial=partial, max_length=2)  # required, null, blank: DRF stops
    if isinstance(data, bool) or not isinstance(data, str | int | float):
        raise FieldError([COUNTRY_MESSAGE])
    errors: list[str] = []
    try:
        value = char_field(data, required=True, partial=partial, max_length=2)
    except FieldError as exc:
        errors, value = list(exc.messages), str(data).strip()
    if not COUNTRY.search(value):
        errors.append(COUNTRY_MESSAGE)
    if errors:
        raise FieldError(errors)
    return value.upper()


def address(data: Any, *, partial: bool) -> dict[str, Any]:
    """``AddressSerializer``'s validated data: the fields sent (all the required ones unless ``partial``), in the
    serializer's order; a form's missing ``is_default`` is False unless ``partial`` (an unticked checkbox)."""
    body = ensure_mapping(data)

    def get(field: str, *, required: bool, boolean: bool = False) -> Any:
        return field_value(body, field, partial=partial, required=required, boolean=boolean)

    fields: list[tuple[str, Callable[[], Any]]] = [
        (field, bind(_text, body, field, length, required, partial)) for field, length, required in _BEFORE_COUNTRY]
    fields += [
        ("country", lambda: _country(get("country", required=True), partial)),
        ("phone", lambda: _text(body, "phone", 30, False, partial)),
        ("is_default", lambda: boolean_field(get("is_default", required=False, boolean=True), partial=partial)),
    ]
    return collect(fields)


def _id(data: Any) -> int:
    return integer_field(data, min_value=1, max_value=MAX_ID)


def address_lookup(data: Any) -> tuple[int, int]:
    """``(user, address)`` of the internal look-up (``AddressLookupSerializer``)."""
    body = ensure_mapping(data)
    def read(name: str) -> int:
        return _id(field_value(body, name, partial=False, required=True))

    values = collect([(name, bind(read, name)) for name in ("user", "address")])
    return values["user"], values["address"]


# --- registration and login -----------------------------------------------------------------------------------------

EMAIL_MAX_LENGTH: Final = 150  # the RegisterSerializer's
LOGIN_EMAIL_MAX_LENGTH: Final = 254  # the LoginSerializer's (a plain CharField)
PASSWORD_MAX_LENGTH: Final = 128


def password_field(data: Any) -> str:
    """DRF's ``CharField(max_length=128, trim_whitespace=False)``: spaces are part of a password (so only ``""`` is
    blank, and nothing is stripped); the field's other checks are ``char_field``'s."""
    if not isinstance(data, str) or data == "":
        return char_field(data, max_length=PASSWORD_MAX_LENGTH)
    char_field(data if data.strip() else "x" * len(data), max_length=PASSWORD_MAX_LENGTH)  # length, NUL, surrogates
    return data


def email_field(data: Any) -> str:
    """DRF's ``EmailField(max_length=150)``: a CharField (stripped; blank, null, missing refused as it refuses
    them) whose wrong-typed value fails with the field's own ``invalid`` message; then every validator, each
    message in order: the length's, the NUL's, the surrogates', the address's (:func:`.emails.valid_email`)."""
    if data is EMPTY or data is None or data == "" or str(data).strip() == "":
        return char_field(data, max_length=EMAIL_MAX_LENGTH)  # required, null, blank: DRF stops there
    if isinstance(data, bool) or not isinstance(data, str | int | float):
        raise FieldError([EMAIL_MESSAGE])
    errors: list[str] = []
    try:
        value = char_field(data, max_length=EMAIL_MAX_LENGTH)
    except FieldError as exc:
        errors, value = list(exc.messages), str(data).strip()
    if not valid_email(value):
        errors.append(EMAIL_MESSAGE)
    if errors:
        raise FieldError(errors)
    return value


def registration(data: Any) -> dict[str, str]:
    """``RegisterSerializer``'s validated data: ``email``, ``password``, ``first_name``, ``last_name``."""
    body = ensure_mapping(data)

    def name(field: str) -> str:
        raw = field_value(body, field, partial=False, required=False, allow_blank=True)
        return char_field(raw, required=False, max_length=NAME_MAX_LENGTH, allow_blank=True)

    values = collect([
        ("email", lambda: email_field(field_value(body, "email", partial=False, required=True))),
        ("password", lambda: password_field(field_value(body, "password", partial=False, required=True))),
        ("first_name", bind(name, "first_name")),
        ("last_name", bind(name, "last_name")),
    ])
    return {"first_name": "", "last_name": "", **values}  # the names' default


def credentials(data: Any) -> tuple[str, str]:
    """``LoginSerializer``'s validated data: ``(email, password)``."""
    body = ensure_mapping(data)
    values = collect([
        ("email", lambda: char_field(field_value(body, "email", partial=False, required=True),
                                     max_length=LOGIN_EMAIL_MAX_LENGTH)),
        ("password", lambda: password_field(field_value(body, "password", partial=False, required=True))),
    ])
    return values["email"], values["password"]
