"""The internal session API the cart service uses: ``GET``/``PUT /api/internal/session/cart/``.

It reads and sets ``session["cart_id"]`` (the anonymous cart) in the session of the cookie it is sent, and
answers the ``Set-Cookie`` Django's session middleware would have sent that shopper; only ``X-Service-Token`` =
``CART_SERVICE_TOKEN`` opens it, refused the way the services' internal endpoints refuse.
"""

from __future__ import annotations

import pytest
from django.test import Client

from legacy_monolith.cart.selectors import SESSION_KEY

URL = "/api/internal/session/cart/"
TOKEN = "cart-service-token-for-tests-0123456789"  # noqa: S105 - a test's own token
AUTH = {"X-Service-Token": TOKEN}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _token(settings):
    settings.CART_SERVICE_TOKEN = TOKEN


def session_of(client: Client) -> dict:
    return dict(client.session.items())


def test_no_session_no_cart_and_no_cookie():
    client = Client()
    response = client.get(URL, headers=AUTH)
    assert (response.status_code, response.json()) == (200, {"cart_id": None})
    assert "sessionid" not in response.cookies
    assert response.headers["Vary"] == "Cookie"


def test_put_creates_the_session_and_answers_its_cookie():
    client = Client()
    response = client.put(URL, {"cart_id": 7}, content_type="application/json", headers=AUTH)
    assert (response.status_code, response.json()) == (200, {"cart_id": 7})
    cookie = response.cookies["sessionid"]
    assert cookie.value and cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert session_of(client) == {SESSION_KEY: 7}
    again = client.get(URL, headers=AUTH)
    assert (again.json(), "sessionid" in again.cookies) == ({"cart_id": 7}, False)


def test_put_keeps_what_else_the_session_holds():
    client = Client()
    session = client.session
    session["something"] = "else"
    session.save()
    client.cookies["sessionid"] = session.session_key
    response = client.put(URL, {"cart_id": 3}, content_type="application/json", headers=AUTH)
    assert response.cookies["sessionid"].value == session.session_key  # the same session, saved again
    assert session_of(client) == {"something": "else", SESSION_KEY: 3}
    cleared = client.put(URL, {"cart_id": None}, content_type="application/json", headers=AUTH)
    assert cleared.json() == {"cart_id": None}
    assert session_of(client) == {"something": "else"}


def test_a_stale_cookie_is_removed_as_the_cart_api_would():
    client = Client()
    client.cookies["sessionid"] = "nosuchsession0123456789abcdefghij"
    response = client.get(URL, headers=AUTH)
    assert response.json() == {"cart_id": None}
    assert response.cookies["sessionid"].value == "" and response.cookies["sessionid"]["max-age"] == 0
    # What the monolith's own cart API answers the same caller:
    cart = Client()
    cart.cookies["sessionid"] = "nosuchsession0123456789abcdefghij"
    mine = cart.get("/api/cart/")
    assert mine.cookies["sessionid"].output() == response.cookies["sessionid"].output()


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"cart_id": ["This field is required."]}),
    ({"cart_id": "x"}, {"cart_id": ["A valid integer is required."]}),
    ({"cart_id": 0}, {"cart_id": ["Ensure this value is greater than or equal to 1."]}),
    ({"cart_id": 2**63}, {"cart_id": [f"Ensure this value is less than or equal to {2**63 - 1}."]}),
])
def test_bad_bodies(body, errors):
    client = Client()
    response = client.put(URL, body, content_type="application/json", headers=AUTH)
    assert (response.status_code, response.json()) == (400, errors)
    assert "sessionid" not in response.cookies


@pytest.mark.parametrize(("headers", "detail"), [
    ({}, "Service token not provided (X-Service-Token)."),
    ({"X-Service-Token": ""}, "Service token not provided (X-Service-Token)."),
    ({"X-Service-Token": TOKEN + "x"}, "Invalid service token."),
    ({"Authorization": "Token whatever"}, "Service token not provided (X-Service-Token)."),
])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_refused_without_the_token(headers, detail, method):
    client = Client()
    response = client.generic(method, URL, b'{"cart_id": 1}', content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": detail, "code": "not_authenticated"}
    assert response.headers["WWW-Authenticate"] == "X-Service-Token"
    assert "sessionid" not in response.cookies


def test_disabled_while_the_token_is_not_set(settings):
    settings.CART_SERVICE_TOKEN = ""
    response = Client().get(URL, headers=AUTH)
    assert response.status_code == 503
    assert response.json() == {"detail": "CART_SERVICE_TOKEN is not set; this internal endpoint is disabled until "
                                         "it is.", "code": "not_configured"}


def test_not_in_the_schema():
    schema = Client().get("/api/schema/?format=json").json()
    assert not [path for path in schema["paths"] if "internal" in path]
