"""The internal session API the accounts service uses: ``/api/internal/session/user/``.

``GET`` says whose session the caller's cookie names (Django's ``get_user()``: the auth hash checked against this
side's copy of the user), ``POST`` logs that session in as Django's ``login()`` does for the user the service
answers, ``DELETE`` logs it out; each answers the ``Set-Cookie`` the monolith's own login and logout answers carry,
which the service relays. Only ``X-Service-Token`` = ``ACCOUNTS_SERVICE_TOKEN`` opens it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from legacy_monolith import switches
from legacy_monolith.accounts import gateway
from legacy_monolith.cart.models import Cart
from legacy_monolith.cart.selectors import SESSION_KEY
from tests.conftest import PASSWORD

URL = "/api/internal/session/user/"
TOKEN = "accounts-service-token-for-tests-0123"  # noqa: S105 - a test's own token
AUTH = {"X-Service-Token": TOKEN}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _token_and_fast_hashes(settings):
    settings.ACCOUNTS_SERVICE_TOKEN = TOKEN
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def as_the_service_answers(user: User) -> dict[str, Any]:
    """The user as ``extracted/accounts/logins.py::user_answer`` renders them."""
    out = {name: getattr(user, name) for name in gateway.USER_FIELDS}
    for name in ("last_login", "date_joined"):
        out[name] = out[name].isoformat().replace("+00:00", "Z") if out[name] is not None else None
    return out


def shape(response: Any) -> dict[str, str]:
    """Each Set-Cookie by name, its value and expiry date (random, the clock's) normalised."""
    out = {}
    for name, morsel in response.cookies.items():
        text = morsel.OutputString()
        if morsel.value:
            text = text.replace(f"{name}={morsel.value}", f"{name}=<value>")
        out[name] = re.sub(r"expires=[^;]+", "expires=<date>", text) if morsel["max-age"] != 0 else text
    return out


def log_in(client: Client, user: User) -> Any:
    return client.post(URL, {"user": as_the_service_answers(user)}, content_type="application/json", headers=AUTH)


@pytest.mark.parametrize(("headers", "status", "detail"), [
    ({}, 401, "Service token not provided (X-Service-Token)."),
    ({"X-Service-Token": "wrong"}, 401, "Invalid service token."),
])
def test_the_token_is_required(customer, headers, status, detail):
    client = Client()
    for method in ("get", "post", "delete"):
        response = getattr(client, method)(URL, headers=headers)
        assert (response.status_code, response.json()["detail"]) == (status, detail)
    assert "_auth_user_id" not in client.session


def test_an_unset_token_disables_it(settings):
    settings.ACCOUNTS_SERVICE_TOKEN = ""
    response = Client().get(URL, headers={"X-Service-Token": "anything"})
    assert (response.status_code, response.json()["code"]) == (503, "not_configured")


def test_no_session_is_nobody_and_sets_no_cookie():
    response = Client().get(URL, headers=AUTH)
    assert (response.status_code, response.json()) == (200, {"user": None})
    assert not response.cookies
    assert response.headers["Vary"] == "Cookie"


def test_post_logs_the_session_in_with_the_cookies_of_the_monolith_s_own_login(customer):
    own = Client().post("/api/accounts/login/", {"email": customer.email, "password": PASSWORD},
                        content_type="application/json")
    assert own.status_code == 200
    client = Client()
    response = log_in(client, customer)
    assert (response.status_code, response.json()) == (200, {"user": customer.pk})
    assert shape(response) == shape(own)
    assert set(shape(response)) == {"sessionid", "csrftoken"}
    assert client.session["_auth_user_id"] == str(customer.pk)
    assert client.get(URL, headers=AUTH).json() == {"user": customer.pk}


def test_post_rotates_an_existing_session_and_merges_its_anonymous_cart(customer):
    client = Client()
    cart = Cart.objects.create()
    session = client.session
    session[SESSION_KEY] = cart.pk
    session.save()
    client.cookies["sessionid"] = old = session.session_key
    response = log_in(client, customer)
    assert response.cookies["sessionid"].value != old   # a new key: no session fixation
    assert SESSION_KEY not in client.session            # the cart merge ran (user_logged_in)
    assert Cart.objects.filter(user=customer).exists()


def test_a_user_the_service_answered_is_not_stamped_here(customer):
    """The service stamped last_login at its login; the copy here may not hold the user yet (a registration the
    sync has not brought): the login still opens the session."""
    ghost = User(id=customer.pk + 100, username="new@example.com", email="new@example.com", first_name="",
                 last_name="", is_staff=False, is_active=True, is_superuser=False, date_joined=customer.date_joined)
    ghost.set_password(PASSWORD)
    client = Client()
    assert log_in(client, ghost).json() == {"user": ghost.pk}
    assert log_in(Client(), customer).status_code == 200
    customer.refresh_from_db()
    assert customer.last_login is None
    assert client.get(URL, headers=AUTH).json() == {"user": None}   # not in this copy: nobody, yet


def test_remote_login_waits_for_the_copy(customer, settings):
    settings.ACCOUNTS_SYNC_WAIT = 0.2
    customer.set_password("another-long-password-2")
    switches.set_switch(gateway.SWITCH, True)
    try:
        response = log_in(Client(), customer)   # the copy never catches up here: bounded, then the session opens
    finally:
        switches.set_switch(gateway.SWITCH, False)
    assert response.json() == {"user": customer.pk}


def test_a_changed_password_ends_the_session(customer):
    client = Client()
    log_in(client, customer)
    customer.set_password("another-long-password-2")
    customer.save()
    response = client.get(URL, headers=AUTH)
    assert response.json() == {"user": None}
    assert response.cookies["sessionid"]["max-age"] == 0   # flushed: the cookie's removal


def test_an_inactive_user_s_session_is_nobody(customer):
    client = Client()
    log_in(client, customer)
    User.objects.filter(pk=customer.pk).update(is_active=False)
    assert client.get(URL, headers=AUTH).json() == {"user": None}


def test_delete_logs_out_with_the_cookie_of_the_monolith_s_own_logout(customer):
    own = Client()
    token = own.post("/api/accounts/login/", {"email": customer.email, "password": PASSWORD},
                     content_type="application/json").json()["token"]
    own_answer = own.post("/api/accounts/logout/", headers={"Authorization": f"Token {token}"})
    assert own_answer.status_code == 204
    client = Client()
    log_in(client, customer)
    response = client.delete(URL, headers=AUTH)
    assert (response.status_code, response.json()) == (200, {"user": None})
    assert shape(response) == shape(own_answer)
    assert shape(response)["sessionid"].startswith('sessionid=""; expires=Thu, 01 Jan 1970')
    assert client.get(URL, headers=AUTH).json() == {"user": None}


@pytest.mark.parametrize("body", [{}, {"user": None}, {"user": "1"}, {"user": {"id": "1", "password": "x"}},
                                  {"user": {"id": 1}}, []])
def test_a_body_without_a_user_is_400(body):
    client = Client()
    response = client.post(URL, body, content_type="application/json", headers=AUTH)
    assert response.status_code == 400
    assert set(response.json()) == {"user"}
    assert not response.cookies
