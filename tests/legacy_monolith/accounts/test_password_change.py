"""``POST /api/accounts/password/``: the caller changes their password, as Django's ``PasswordChangeView`` does it
(the old password checked, the new one through the configured validators for this user, ``update_session_auth_hash``
for the session that made the change), behind the login throttle; the API token is kept.

And the monolith's internal session API as the accounts service uses it for the same change once the accounts are
cut over (the session that made the change opened again with the new hash)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

from legacy_monolith import switches
from legacy_monolith.accounts import gateway, throttle
from legacy_monolith.accounts.models import LoginFailure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

URL = "/api/accounts/password/"
LOGIN = "/api/accounts/login/"
ME = "/api/accounts/me/"
SESSION_API = "/api/internal/session/user/"
SERVICE_TOKEN = "accounts-service-token-for-password-tests"  # noqa: S105 - a test's own
NEW = "a-brand-new-password-2"
OLD_WRONG = {"old_password": ["Your old password was entered incorrectly. Please enter it again."]}
NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}


@pytest.fixture(autouse=True)
def _fast_hashes(settings):
    """Many password checks: a cheap hasher (what is checked is the same)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ACCOUNTS_SERVICE_TOKEN = SERVICE_TOKEN


def change(client: Client, body: Any, **headers: str) -> Any:
    return client.post(URL, json.dumps(body), content_type="application/json", headers=headers)


def by_token(user: User) -> dict[str, str]:
    token, _ = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token {token.key}"}


def browser(user: User, password: str = PASSWORD) -> Client:
    """A browser logged in by the API's login (a session cookie and a CSRF cookie), held to the CSRF check."""
    client = Client(enforce_csrf_checks=True)
    response = client.post(LOGIN, {"email": user.email, "password": password}, content_type="application/json")
    assert response.status_code == 200, response.content
    return client


def csrf(client: Client) -> dict[str, str]:
    return {"X-CSRFToken": client.cookies["csrftoken"].value}


def login(email: str, password: str) -> Any:
    return Client().post(LOGIN, {"email": email, "password": password}, content_type="application/json")


# --- a token caller -------------------------------------------------------------------------------------------------


def test_a_token_caller_changes_the_password_and_keeps_the_token(customer):
    headers = by_token(customer)
    key = Token.objects.get(user=customer).key
    response = change(Client(), {"old_password": PASSWORD, "new_password": NEW}, **headers)
    assert (response.status_code, response.content) == (204, b"")
    assert not response.cookies and "Vary" not in response   # no session was looked at
    customer.refresh_from_db()
    assert customer.check_password(NEW) and not customer.check_password(PASSWORD)
    assert Token.objects.get(user=customer).key == key   # DRF does not rotate tokens
    assert Client().get(ME, headers=headers).status_code == 200
    assert login(customer.email, NEW).status_code == 200
    assert login(customer.email, PASSWORD).json() == {"non_field_errors": [
        "Unable to log in with provided credentials."]}


def test_a_token_caller_s_change_ends_every_session_of_the_user(customer):
    session = browser(customer)
    assert session.get(ME).status_code == 200
    headers = {**by_token(customer), "Cookie": f"sessionid={session.cookies['sessionid'].value}"}
    assert change(Client(), {"old_password": PASSWORD, "new_password": NEW}, **headers).status_code == 204
    gone = session.get(ME)
    assert (gone.status_code, gone.json()) == (401, NOT_AUTHENTICATED)
    assert gone.cookies["sessionid"]["max-age"] == 0   # flushed: the cookie's removal


def test_a_wrong_old_password_is_400_and_counted_by_the_throttle(customer):
    response = change(Client(), {"old_password": "not-my-password", "new_password": NEW}, **by_token(customer))
    assert (response.status_code, response.json()) == (400, OLD_WRONG)
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)
    assert list(LoginFailure.objects.values_list("email", flat=True)) == [customer.email]


@pytest.mark.parametrize(("new", "messages"), [
    ("short1!", ["This password is too short. It must contain at least 8 characters."]),
    ("password123", ["This password is too common."]),
    ("83920174652", ["This password is entirely numeric."]),
    ("12345", ["This password is too short. It must contain at least 8 characters.", "This password is too common.",
               "This password is entirely numeric."]),
    ("alice@example.com", ["The password is too similar to the username."]),
    ("Alice-Example", ["The password is too similar to the username."]),
])
def test_the_new_password_must_pass_the_validators_for_this_user(customer, new, messages):
    response = change(Client(), {"old_password": PASSWORD, "new_password": new}, **by_token(customer))
    assert (response.status_code, response.json()) == (400, {"new_password": messages})
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)
    assert not LoginFailure.objects.exists()


def test_the_validators_see_the_user_s_names(db):
    user = User.objects.create_user(username="x1@example.com", email="x1@example.com", password=PASSWORD,
                                    first_name="Quintessential", last_name="Zephyrine")
    for new, attribute in (("quintessential", "first name"), ("Zephyrine9", "last name")):
        response = change(Client(), {"old_password": PASSWORD, "new_password": new}, **by_token(user))
        assert response.json() == {"new_password": [f"The password is too similar to the {attribute}."]}


def test_both_fields_errors_come_at_once(customer):
    response = change(Client(), {"old_password": "wrong", "new_password": "123"}, **by_token(customer))
    assert response.status_code == 400
    assert response.json() == {**OLD_WRONG, "new_password": [
        "This password is too short. It must contain at least 8 characters.", "This password is too common.",
        "This password is entirely numeric."]}


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"old_password": ["This field is required."], "new_password": ["This field is required."]}),
    ({"old_password": "", "new_password": ""}, {"old_password": ["This field may not be blank."],
                                                "new_password": ["This field may not be blank."]}),
    ({"old_password": None, "new_password": ["x"]}, {"old_password": ["This field may not be null."],
                                                     "new_password": ["Not a valid string."]}),
    ({"old_password": PASSWORD, "new_password": "x" * 129},
     {"new_password": ["Ensure this field has no more than 128 characters."]}),
    ([], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_bad_bodies(customer, body, errors):
    response = change(Client(), body, **by_token(customer))
    assert (response.status_code, response.json()) == (400, errors)
    assert not LoginFailure.objects.exists()


def test_spaces_are_part_of_a_password(customer):
    response = change(Client(), {"old_password": f" {PASSWORD}", "new_password": NEW}, **by_token(customer))
    assert response.json() == OLD_WRONG
    assert change(Client(), {"old_password": PASSWORD, "new_password": f"  {NEW}  "},
                  **by_token(customer)).status_code == 204
    customer.refresh_from_db()
    assert customer.check_password(f"  {NEW}  ")


# --- who may call ---------------------------------------------------------------------------------------------------


def test_an_anonymous_caller_is_401(customer):
    response = change(Client(), {"old_password": PASSWORD, "new_password": NEW})
    assert (response.status_code, response.json(), response["WWW-Authenticate"]) == (401, NOT_AUTHENTICATED, "Token")
    bad = change(Client(), {"old_password": PASSWORD, "new_password": NEW}, Authorization="Token " + "0" * 40)
    assert (bad.status_code, bad.json()) == (401, {"detail": "Invalid token."})
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)


def test_other_methods_and_options(customer):
    headers = by_token(customer)
    response = Client().get(URL, headers=headers)
    assert (response.status_code, response.json(), response["Allow"]) == (
        405, {"detail": 'Method "GET" not allowed.'}, "POST, OPTIONS")
    options = Client().options(URL, headers=headers).json()
    assert options["name"] == "Password Change Api"
    assert options["description"].startswith("The caller changes their password")
    assert "actions" not in options


# --- a session caller -----------------------------------------------------------------------------------------------


def test_a_session_write_without_the_csrf_token_is_403(customer):
    client = browser(customer)
    response = client.post(URL, {"old_password": PASSWORD, "new_password": NEW}, content_type="application/json")
    assert (response.status_code, response.json()) == (403, {"detail": "CSRF Failed: CSRF token missing."})
    no_cookie = Client(enforce_csrf_checks=True)
    no_cookie.cookies["sessionid"] = client.cookies["sessionid"].value
    response = no_cookie.post(URL, {"old_password": PASSWORD, "new_password": NEW}, content_type="application/json")
    assert (response.status_code, response.json()) == (403, {"detail": "CSRF Failed: CSRF cookie not set."})
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)


def test_the_session_that_changed_it_stays_and_the_others_end(customer):
    mine, other = browser(customer), browser(customer)
    token = by_token(customer)
    old_key = mine.cookies["sessionid"].value
    response = mine.post(URL, {"old_password": PASSWORD, "new_password": NEW}, content_type="application/json",
                         headers=csrf(mine))
    assert (response.status_code, response.content) == (204, b"")
    assert list(response.cookies) == ["sessionid"]   # a new key (no CSRF rotation: Django's doesn't)
    assert response.cookies["sessionid"].value != old_key
    assert response["Vary"] == "Cookie"
    assert mine.get(ME).json()["id"] == customer.pk   # this session is kept
    gone = other.get(ME)
    assert (gone.status_code, gone.json()) == (401, NOT_AUTHENTICATED)   # the other one is logged out
    assert Client().get(ME, headers=token).status_code == 200   # and the token kept
    # The same session changes it again: the new hash is the one it holds now.
    again = mine.post(URL, {"old_password": NEW, "new_password": PASSWORD + "-3"}, content_type="application/json",
                      headers=csrf(mine))
    assert again.status_code == 204 and mine.get(ME).status_code == 200


# --- the throttle ----------------------------------------------------------------------------------------------------


def test_five_wrong_old_passwords_refuse_the_change_and_the_login(customer):
    headers = by_token(customer)
    for _ in range(throttle.PER_ACCOUNT):
        assert change(Client(), {"old_password": "wrong", "new_password": NEW}, **headers).status_code == 400
    refused = change(Client(), {"old_password": PASSWORD, "new_password": NEW}, **headers)
    assert refused.status_code == 429
    wait = int(refused["Retry-After"])
    assert refused.json() == {"detail": f"Too many failed logins. Try again in {wait} seconds.", "code": "throttled"}
    assert login(customer.email, PASSWORD).status_code == 429   # the login's own counts
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)


def test_failed_logins_count_against_a_change_and_a_right_old_password_forgets_them(customer):
    for _ in range(throttle.PER_ACCOUNT - 1):
        assert login(customer.email, "wrong").status_code == 400
    # Right old password, new one refused: the account's failures are forgotten all the same (as by a login).
    response = change(Client(), {"old_password": PASSWORD, "new_password": "short"}, **by_token(customer))
    assert response.status_code == 400 and "new_password" in response.json()
    assert not LoginFailure.objects.filter(email=customer.email).exists()


def test_the_account_is_the_normalised_username(db):
    user = User.objects.create_user(username="mixed@example.com", email="Mixed@Example.com", password=PASSWORD)
    change(Client(), {"old_password": "wrong", "new_password": NEW}, **by_token(user))
    assert list(LoginFailure.objects.values_list("email", flat=True)) == ["mixed@example.com"]


# --- the schema ------------------------------------------------------------------------------------------------------


def test_the_schema_documents_it():
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "accounts_password_create"
    assert {"204", "400", "401", "403", "429"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][body]["required"]) == {"old_password", "new_password"}


# --- the session API, as the accounts service uses it for a change it made -------------------------------------------


def as_the_service_answers(user: User) -> dict[str, Any]:
    out = {name: getattr(user, name) for name in gateway.USER_FIELDS}
    for name in ("last_login", "date_joined"):
        out[name] = out[name].isoformat().replace("+00:00", "Z") if out[name] is not None else None
    return out


def reopen(client: Client, user: User) -> Any:
    return client.post(SESSION_API, {"user": as_the_service_answers(user)}, content_type="application/json",
                       headers={"X-Service-Token": SERVICE_TOKEN})


def test_a_session_reopened_with_the_new_hash_stays_logged_in(customer):
    """The service changed the password (here: the copy already holds the new hash, as the reverse sync brings it)
    and opens the caller's session again with the new hash: it stays; another session of the user ends."""
    mine, other = browser(customer), browser(customer)
    customer.set_password(NEW)
    customer.save()
    response = reopen(mine, customer)
    assert response.json() == {"user": customer.pk}
    assert mine.get(ME).json()["id"] == customer.pk
    assert other.get(ME).status_code == 401


def test_a_remote_reopen_waits_for_the_copy_to_hold_the_new_hash(customer, settings, monkeypatch):
    """After the cutover the session is opened only once the copy holds the hash the service answered: opened
    before, its next request would flush it (the auth hash made from a hash the copy does not have yet)."""
    settings.ACCOUNTS_SYNC_WAIT = 5
    mine = browser(customer)
    changed = User.objects.get(pk=customer.pk)
    changed.set_password(NEW)   # the service's new hash; the copy here still has the old one
    waited: list[float] = []

    def the_sync_lands(seconds: float) -> None:
        waited.append(seconds)
        User.objects.filter(pk=customer.pk).update(password=changed.password)

    monkeypatch.setattr(gateway.time, "sleep", the_sync_lands)
    switches.set_switch(gateway.SWITCH, True)
    try:
        response = reopen(mine, changed)
    finally:
        switches.set_switch(gateway.SWITCH, False)
    assert len(waited) == 1 and response.json() == {"user": customer.pk}
    assert mine.get(ME).json()["id"] == customer.pk
