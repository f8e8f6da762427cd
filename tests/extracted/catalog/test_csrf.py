"""A write by a caller the router resolved from a session cookie (its identity token, no ``Authorization: Token``)
is held to Django's CSRF check, as DRF's SessionAuthentication holds it in the monolith: 403 ``CSRF Failed:
<reason>`` right after authentication (before the permission's 401/403 and the method's 405), nothing written.
Reads, token callers, anonymous callers and the internal URLs (``X-Service-Token``) are not checked.

In process; the check itself is the template's (tests/strangler/scaffold/test_template_csrf.py holds its reasons
to Django's own middleware), and test_contract.py compares these answers with the real monolith's."""

from __future__ import annotations

import secrets
import string
from typing import Any

import pytest

from tests.extracted.catalog.conftest import CATEGORIES, CSRF, CSRF_SECRET, PRODUCTS, SERVICE_TOKEN, items, mint

CHARS = string.ascii_letters + string.digits
NEW = {"sku": "CSRF-1", "name": "Guarded knife", "price": "9.90", "stock": 3, "category": 3}
WRITES = [("POST", PRODUCTS), ("PUT", f"{PRODUCTS}1/"), ("PATCH", f"{PRODUCTS}1/"), ("DELETE", f"{PRODUCTS}1/"),
          ("POST", f"{PRODUCTS}1/stock/"), ("POST", CATEGORIES), ("PATCH", f"{CATEGORIES}1/"),
          ("DELETE", f"{CATEGORIES}1/"), ("PUT", PRODUCTS), ("DELETE", CATEGORIES)]  # the last two: 405 after
REFUSALS = [
    ({}, "CSRF cookie not set."),
    ({"Cookie": f"csrftoken={CSRF_SECRET}"}, "CSRF token missing."),
    ({"Cookie": f"csrftoken={CSRF_SECRET}", "X-CSRFToken": "x" * 32},
     "CSRF token from the 'X-Csrftoken' HTTP header incorrect."),
    ({"Cookie": f"csrftoken={CSRF_SECRET}", "X-CSRFToken": "short"},
     "CSRF token from the 'X-Csrftoken' HTTP header has incorrect length."),
    ({"Cookie": "csrftoken=short", "X-CSRFToken": CSRF_SECRET}, "CSRF cookie has incorrect length."),
    ({"Cookie": "sessionid=abc123; csrftoken=" + "!" * 32, "X-CSRFToken": CSRF_SECRET},
     "CSRF cookie has invalid characters."),
    ({**CSRF, "Origin": "http://evil.example"},
     "Origin checking failed - http://evil.example does not match any trusted origins."),
    ({**CSRF, "Origin": "https://testserver"},
     "Origin checking failed - https://testserver does not match any trusted origins."),
]


def session(*, staff: bool = True) -> dict[str, str]:
    """A browser logged in by session, as the router passes it on: the identity token alone says who it is."""
    return {"X-Identity-Token": mint(1 if staff else 2, staff=staff)}


def masked(secret: str) -> str:
    """The secret as Django's ``get_token()`` hands it to a page: a random mask, then the secret shifted by it."""
    mask = "".join(secrets.choice(CHARS) for _ in range(32))
    return mask + "".join(CHARS[(CHARS.index(s) + CHARS.index(m)) % len(CHARS)] for s, m in zip(secret, mask,
                                                                                                  strict=True))


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize("staff", [True, False])
def test_a_session_write_without_a_valid_csrf_token_is_403_before_permission_and_method(
        client: Any, dataset: Any, method: str, path: str, staff: bool) -> None:
    for extra, reason in REFUSALS:
        response = client.request(method, path, json={"name": "x"}, headers={**session(staff=staff), **extra})
        assert (response.status_code, response.json()) == (403, {"detail": f"CSRF Failed: {reason}"}), extra
        assert response.headers["vary"] == "Cookie"
        assert "www-authenticate" not in response.headers
    assert client.get(f"{PRODUCTS}1/").json()["name"] == dataset[1][0]["name"]  # nothing was written
    assert client.get(f"{CATEGORIES}1/").status_code == 200


def test_a_session_write_with_its_csrf_token_goes_on(client: Any, dataset: Any) -> None:
    made = client.post(PRODUCTS, json=NEW, headers={**session(), **CSRF})
    assert made.status_code == 201, made.text
    product = made.json()["id"]
    # The token as a page carries it (masked), and the Origin a browser sends with it (this host's, over HTTP).
    renamed = client.patch(f"{PRODUCTS}{product}/", json={"name": "Renamed"},
                           headers={**session(), "Cookie": f"csrftoken={CSRF_SECRET}",
                                    "X-CSRFToken": masked(CSRF_SECRET), "Origin": "http://testserver"})
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Renamed")
    # A masked cookie works too; a form's csrfmiddlewaretoken field stands for the header (POST only).
    form = client.post(PRODUCTS, headers={**session(), "Cookie": f"csrftoken={masked(CSRF_SECRET)}",
                                          "Content-Type": "application/x-www-form-urlencoded"},
                       content=f"sku=CSRF-2&name=Form&price=1.00&stock=1&category=3&csrfmiddlewaretoken={CSRF_SECRET}")
    assert (form.status_code, form.json()["sku"]) == (201, "CSRF-2"), form.text
    stock = client.post(f"{PRODUCTS}{product}/stock/", json={"delta": 2}, headers={**session(), **CSRF})
    assert (stock.status_code, stock.json()["stock"]) == (200, 5)
    assert client.delete(f"{PRODUCTS}{product}/", headers={**session(), **CSRF}).status_code == 204
    # After the check, the permission and the method answer as before.
    assert client.post(PRODUCTS, json=NEW, headers={**session(staff=False), **CSRF}).status_code == 403
    assert client.put(PRODUCTS, json=NEW, headers={**session(), **CSRF}).status_code == 405


def test_reads_token_callers_and_anonymous_callers_are_not_checked(client: Any, dataset: Any) -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        assert client.request(method, f"{PRODUCTS}1/", headers=session()).status_code == 200
    assert client.request("TRACE", f"{PRODUCTS}1/", headers=session()).status_code == 405
    # Authorization: Token: DRF's token authentication answered, which enforces no CSRF (the router passes the
    # caller's own header on with the identity token it minted from it).
    token = {**session(), "Authorization": "Token 0123456789abcdef0123456789abcdef01234567"}
    made = client.post(PRODUCTS, json=NEW, headers={**token, "Cookie": "csrftoken=short"})
    assert made.status_code == 201, made.text
    # Another scheme is no token: the monolith looks at the session then, and so holds it to the check.
    basic = client.post(PRODUCTS, json=NEW, headers={**session(), "Authorization": "Basic dXNlcjpwdw=="})
    assert basic.json() == {"detail": "CSRF Failed: CSRF cookie not set."}
    # Nobody: DRF's session authentication found no user, enforced nothing; the permission answers.
    anonymous = client.post(PRODUCTS, json=NEW, headers={"Cookie": "sessionid=abc123"})
    assert (anonymous.status_code, anonymous.json()) == (401, {
        "detail": "Authentication credentials were not provided."})


def test_internal_urls_are_not_checked(client: Any, shop: Any, stock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Other services call them with X-Service-Token: no session caller, whatever else the request carries."""
    monkeypatch.setenv("CATALOG_SERVICE_TOKEN", SERVICE_TOKEN)
    held = client.post("/api/catalog/reservations/", json=items((1, 2)),
                       headers={"X-Service-Token": SERVICE_TOKEN, "Idempotency-Key": "csrf-1", **session(),
                                "Cookie": "sessionid=abc123"})
    assert held.status_code == 201, held.text
    assert stock(1) == {1: 3}
