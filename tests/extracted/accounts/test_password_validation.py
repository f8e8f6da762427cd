"""The accounts service's password rules against Django's own validators (the monolith's AUTH_PASSWORD_VALIDATORS,
in the test process's settings): the same messages, in the same order, for the candidate user registration
builds (username = email, email, first and last name)."""

from __future__ import annotations

import gzip
from pathlib import Path

import django.contrib.auth
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from hypothesis import event, given
from hypothesis import strategies as st

from extracted.accounts import password_validation

DJANGO_LIST = Path(django.contrib.auth.__file__).parent / "common-passwords.txt.gz"
with gzip.open(DJANGO_LIST, "rt", encoding="utf-8") as _lines:
    COMMON = sorted({line.strip() for line in _lines})


def django_messages(
    password: str, *, email: str, first_name: str = "", last_name: str = "", username: str | None = None
) -> list[str]:
    """What the monolith's user_register answers under "password" for this candidate user."""
    user = User(
        username=email if username is None else username, email=email, first_name=first_name, last_name=last_name
    )
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        return list(exc.messages)
    return []


def assert_same(password: str, **user: str) -> list[str]:
    expected = django_messages(password, **user)
    assert password_validation.validate(password, **user) == expected, (password, user)  # type: ignore[arg-type]
    return expected


def test_the_settings_are_djangos_defaults_in_this_order() -> None:
    assert [validator["NAME"].rsplit(".", 1)[1] for validator in settings.AUTH_PASSWORD_VALIDATORS] == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    assert all("OPTIONS" not in validator for validator in settings.AUTH_PASSWORD_VALIDATORS)
    assert settings.LANGUAGE_CODE == "en-us"


def test_the_common_list_is_djangos_byte_for_byte() -> None:
    assert password_validation.COMMON_PASSWORDS_PATH.read_bytes() == DJANGO_LIST.read_bytes()


@pytest.mark.parametrize(
    ("password", "user", "messages"),
    [
        ("a-long-enough-password-1", {"email": "alice@example.com"}, []),
        (
            "short",
            {"email": "alice@example.com"},
            ["This password is too short. It must contain at least 8 characters."],
        ),
        ("", {"email": "alice@example.com"}, ["This password is too short. It must contain at least 8 characters."]),
        ("password", {"email": "alice@example.com"}, ["This password is too common."]),
        ("  PassWord ", {"email": "alice@example.com"}, ["This password is too common."]),
        ("48213957601", {"email": "alice@example.com"}, ["This password is entirely numeric."]),
        (
            "12345678",
            {"email": "alice@example.com"},
            ["This password is too common.", "This password is entirely numeric."],
        ),
        (
            "123",
            {"email": "alice@example.com"},
            [
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
                "This password is entirely numeric.",
            ],
        ),
        ("alice@example.com", {"email": "alice@example.com"}, ["The password is too similar to the username."]),
        (
            "alice@example.com",
            {"email": "alice@example.com", "username": "someone-else"},
            ["The password is too similar to the email address."],
        ),
        (
            "Bartholomew1",
            {"email": "x@example.com", "username": "x", "first_name": "Bartholomew"},
            ["The password is too similar to the first name."],
        ),
        (
            "vandermeer!!",
            {"email": "x@example.com", "username": "x", "first_name": "Jo", "last_name": "Van der Meer"},
            ["The password is too similar to the last name."],
        ),
        # The email's parts, split at non-word characters: the local part's pieces and the domain's labels.
        ("smithsonian", {"email": "j.smithsonian@example.com"}, ["The password is too similar to the username."]),
        ("examplecom", {"email": "j.smithsonian@example.com"}, ["The password is too similar to the username."]),
        (
            "Alice",
            {"email": "alice@example.com"},
            [
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
                "This password is too common.",
            ],
        ),
        ("١٢٣٤٥٦٧٨٩", {"email": "a@b.c"}, ["This password is entirely numeric."]),  # Arabic-Indic digits
        (
            "",
            {"email": "a@b.c."},
            [  # a trailing dot leaves an empty part, which an empty password matches
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
            ],
        ),
    ],
)
def test_each_message_as_django_gives_it(password: str, user: dict[str, str], messages: list[str]) -> None:
    assert assert_same(password, **user) == messages


# --- generated: passwords near the user's attributes, common, numeric, short, random -------------------------

words = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=12)
names = st.just("") | words | st.builds(lambda a, b: f"{a} {b}", words, words) | st.text(max_size=15)
emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.text(alphabet=st.characters(categories=["L", "N"], include_characters="._-+"), min_size=1, max_size=16),
    words,
    st.sampled_from(["com", "org", "co.uk", "example"]),
) | st.text(max_size=25)


def _variant(text: str, suffix: str, upper: bool) -> str:
    return (text.upper() if upper else text) + suffix


@st.composite
def candidates(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    email = draw(emails)
    user = {"email": email, "first_name": draw(names), "last_name": draw(names)}
    if draw(st.booleans()):
        user["username"] = draw(st.text(max_size=20))
    near = draw(st.sampled_from([email, email.split("@")[0], user["first_name"], user["last_name"]]))
    password = draw(
        st.text(max_size=30)
        | st.sampled_from(COMMON)
        | st.builds(_variant, st.sampled_from(COMMON), st.sampled_from(["", " ", "1", "!"]), st.booleans())
        | st.text(alphabet="0123456789", max_size=14)
        | st.text(alphabet=st.characters(categories=["Nd", "No"]), max_size=10)
        | st.builds(_variant, st.just(near), st.text(max_size=4), st.booleans())
        | st.builds(lambda text, cut: text[cut:], st.just(near + near), st.integers(0, 6))
    )
    return password, user


@pytest.mark.slow  # about a second: 100 generated users and passwords through both
@given(candidates())
def test_generated_passwords_and_users_get_djangos_messages(candidate: tuple[str, dict[str, str]]) -> None:
    password, user = candidate
    messages = assert_same(password, **user)
    # --hypothesis-show-statistics shows how often each answer came up.
    event(" | ".join(message.split(".")[0] for message in messages) or "accepted")
