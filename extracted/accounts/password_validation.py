"""The monolith's password rules, without Django: its four ``AUTH_PASSWORD_VALIDATORS`` (Django's defaults, in
the settings' order), giving the same messages for the same password and user.

Registration in the monolith (``legacy_monolith/accounts/services.py::user_register``) validates the password
against a candidate user whose username is the (normalised) email and answers 400 ``{"password": [messages]}``;
:func:`validate` returns those messages, English as the monolith renders them (``LANGUAGE_CODE = "en-us"``).
Ported from Django 5.2's ``django/contrib/auth/password_validation.py`` and proven against Django itself by
``tests/extracted/accounts/test_password_validation.py``.
"""

from __future__ import annotations

import functools
import gzip
import re
from difflib import SequenceMatcher
from pathlib import Path

# MinimumLengthValidator's default min_length.
MIN_LENGTH = 8
# UserAttributeSimilarityValidator's default max_similarity.
MAX_SIMILARITY = 0.7

# Django's list of 20,000 common passwords (lowercased, one a line), copied unchanged from Django 5.2's
# django/contrib/auth/common-passwords.txt.gz. It is Django's data, under Django's BSD 3-clause licence
# (Copyright (c) Django Software Foundation and individual contributors); the list itself was compiled by
# Royce Williams (https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce).
COMMON_PASSWORDS_PATH = Path(__file__).resolve().parent / "common-passwords.txt.gz"

# UserAttributeSimilarityValidator.DEFAULT_USER_ATTRIBUTES in its order, each with the verbose_name of
# django.contrib.auth.models.User's field, which is how Django's message names it.
_USER_ATTRIBUTES = (
    ("username", "username"),
    ("first_name", "first name"),
    ("last_name", "last name"),
    ("email", "email address"),
)


def validate(
    password: str, *, email: str, first_name: str = "", last_name: str = "", username: str | None = None
) -> list[str]:
    """The messages Django's ``validate_password(password, user)`` raises for a user with these attributes
    (``username`` is the email unless given, as the monolith registers users), in the validators' order; empty
    when the password is acceptable.
    """
    user = {
        "username": email if username is None else username,
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
    }
    messages = [
        _too_similar(password, user),
        _too_short(password),
        _too_common(password),
        _entirely_numeric(password),
    ]
    return [message for message in messages if message is not None]


def _too_similar(password: str, user: dict[str, str]) -> str | None:
    """UserAttributeSimilarityValidator: the password compared, lowercased, with each attribute and each of its
    parts split at non-word characters (an email's local part and domain labels), by difflib's quick_ratio; the
    first attribute found too similar is named."""
    password = password.lower()
    for attribute, verbose_name in _USER_ATTRIBUTES:
        value = user[attribute]
        if not value:
            continue
        value_lower = value.lower()
        for value_part in [*re.split(r"\W+", value_lower), value_lower]:
            if _exceeds_maximum_length_ratio(password, value_part):
                continue
            if SequenceMatcher(a=password, b=value_part).quick_ratio() >= MAX_SIMILARITY:
                return f"The password is too similar to the {verbose_name}."
    return None


def _exceeds_maximum_length_ratio(password: str, value: str) -> bool:
    """Django's shortcut: a value a tenth of the password's length or less cannot reach the similarity bound
    (quick_ratio is at most 2 / length ratio), so the matcher is not run for it."""
    pwd_len = len(password)
    length_bound_similarity = MAX_SIMILARITY / 2 * pwd_len
    value_len = len(value)
    return pwd_len >= 10 * value_len and value_len < length_bound_similarity


def _too_short(password: str) -> str | None:
    """MinimumLengthValidator: fewer than MIN_LENGTH characters (code points, as len())."""
    if len(password) >= MIN_LENGTH:
        return None
    # Django's ngettext in English: the singular only for 1.
    noun = "character" if MIN_LENGTH == 1 else "characters"
    return f"This password is too short. It must contain at least {MIN_LENGTH:d} {noun}."


def _too_common(password: str) -> str | None:
    """CommonPasswordValidator: the password, lowercased and stripped, is on Django's list."""
    if password.lower().strip() in _common_passwords():
        return "This password is too common."
    return None


@functools.cache
def _common_passwords() -> frozenset[str]:
    # Read as Django reads it: UTF-8 text, each line stripped (the list is lowercased already).
    with gzip.open(COMMON_PASSWORDS_PATH, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines)


def _entirely_numeric(password: str) -> str | None:
    """NumericPasswordValidator: str.isdigit(), so other scripts' digits and superscripts count as Django counts
    them."""
    if password.isdigit():
        return "This password is entirely numeric."
    return None
