"""Contract: the cart service answers like the monolith's /api/cart/, over real HTTP.

The monolith runs under gunicorn on a seeded database, where carts are made first through its own API (two
users' and an anonymous visitor's, whose cart its session names); the data split copies the cart's tables into
the service's own database with the scaffolded plan (``manage.py strangler split provision|copy|verify
migration_plans/cart.yaml``); the service runs as its own process, reading products from the monolith's
internal batch read and anonymous sessions from its internal session API (what the router would reach while
the monolith owns the catalog and the sessions). The same requests go to both, in the same order: status,
body (bytes), and the headers a client acts on must be equal, ``Set-Cookie`` included (its session key and
date masked). Users reach the monolith with their API token and the service with the router's identity token
for the same user (and their own ``Authorization`` header, which the router passes on); anonymous visitors
with their own session cookie on each side, as each side hands it out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest

from strangler.processes import ManagedProcess, free_port
from tests.support.servers import ROOT, running_shop, scratch_database

pytestmark = pytest.mark.slow

SECRET = "cart-contract-identity-secret-0123456789"
CART_TOKEN = "cart-contract-service-token-0123456789"  # noqa: S105 - the test's own token
CATALOG_TOKEN = "cart-contract-catalog-token-0123456789"  # noqa: S105 - the test's own token
PLAN = ROOT / "migration_plans" / "cart.yaml"
CART = "/api/cart/"
ITEMS = "/api/cart/items/"
COMPARED_HEADERS = ("content-type", "allow", "www-authenticate", "vary", "location", "x-frame-options",
                    "x-content-type-options", "referrer-policy", "cross-origin-opener-policy")
SESSION_KEY = re.compile(r"^sessionid=[a-z0-9]{32};")
CSRF_SECRET = re.compile(r"^csrftoken=[a-zA-Z0-9]{32};")
EXPIRES = re.compile(r"expires=[A-Za-z]{3}, \d\d [A-Za-z]{3} \d{4} \d\d:\d\d:\d\d GMT")


@dataclass
class Who:
    """A caller as each side sees it: headers per side, and the session cookie each side handed out."""

    headers: tuple[dict[str, str], dict[str, str]]
    cookies: list[str | None] = field(default_factory=lambda: [None, None])


@dataclass
class World:
    monolith: httpx.Client
    service: httpx.Client
    staff: dict[str, str]
    products: dict[str, int]  # name -> id of the products made for these tests
    who: dict[str, Who]
    lines: dict[str, int]  # lines made before the split, by name


def _login(base_url: str, email: str) -> tuple[str, dict[str, Any]]:
    with httpx.Client(base_url=base_url, timeout=30) as fresh:
        response = fresh.post("/api/accounts/login/", json={"email": email, "password": "shop-demo-password"})
        assert response.status_code == 200, response.text
        body = response.json()
    return body["token"], body["user"]


def _user(base_url: str, email: str) -> Who:
    token, user = _login(base_url, email)
    now = int(time.time())
    identity = jwt.encode({"sub": str(user["id"]), "staff": user["is_staff"], "iat": now, "exp": now + 3600,
                           "iss": "strangler-router", "aud": "strangler-services"}, SECRET, algorithm="HS256")
    auth = {"Authorization": f"Token {token}"}
    return Who(headers=(auth, {**auth, "X-Identity-Token": identity}))


def _make_products(http: httpx.Client, staff: dict[str, str]) -> dict[str, int]:
    """Products of known stock and price (the catalog stays the monolith's: the service reads them there)."""
    made = {}
    for name, price, stock, active in [("plenty", "12.50", 50, True), ("cheap", "0.10", 3000, True),
                                       ("few", "7.99", 3, True), ("none", "5.00", 0, True),
                                       ("withdrawn", "9.00", 10, False), ("dear", "99999999.99", 2000, True),
                                       ("doomed", "1.00", 10, True)]:
        response = http.post("/api/catalog/products/", headers=staff, json={
            "sku": f"CART-{name.upper()}", "name": f"Cart test {name} ✨", "price": price, "stock": stock,
            "is_active": active, "category": 1})
        assert response.status_code == 201, response.text
        made[name] = response.json()["id"]
    return made


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("cart-contract")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CART_SERVICE_TOKEN", CART_TOKEN)
        mp.setenv("CATALOG_SERVICE_TOKEN", CATALOG_TOKEN)
        with running_shop(base, seed_args=("--products", "30", "--users", "3", "--orders", "2")) as shop, \
                scratch_database(base / "cart") as service_db:
            with httpx.Client(base_url=shop.url, headers={"Host": "localhost"}, timeout=30) as mono:
                staff = {"Authorization": f"Token {_login(shop.url, 'staff@example.com')[0]}"}
                products = _make_products(mono, staff)
                who = {name: _user(shop.url, f"{email}@example.com") for name, email in
                       (("alice", "customer1"), ("bob", "customer2"), ("carol", "customer3"))}
                lines = _carts_before_the_split(mono, products, who)
                env = {**shop.env, "CART_DATABASE_URL": service_db, "ROUTER_IDENTITY_SECRET": SECRET,
                       "CART_MONOLITH_URL": shop.url, "CART_CATALOG_URL": shop.url}
                for operation in ("provision", "copy", "verify"):
                    done = subprocess.run(  # noqa: S603
                        [sys.executable, "manage.py", "strangler", "split", operation, str(PLAN)],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
                    assert done.returncode == 0, f"split {operation}: {done.stdout}\n{done.stderr}"
                port = free_port()
                service = ManagedProcess("cart", [sys.executable, "-m", "extracted.cart", "--port", str(port)],
                                         log_path=base / "cart.log", env=env, cwd=ROOT)
                with service, httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": "localhost"},
                                           timeout=30) as svc:
                    service.wait_healthy(f"http://127.0.0.1:{port}/healthz")
                    yield World(mono, svc, staff, products, who, lines)


def _carts_before_the_split(mono: httpx.Client, products: dict[str, int], who: dict[str, Who]) -> dict[str, int]:
    """Alice's cart (two lines), Bob's (one), and an anonymous visitor's (one), made through the monolith."""
    def add(headers: dict[str, str], product: str, quantity: int) -> dict[str, Any]:
        response = mono.post(ITEMS, headers=headers, json={"product": products[product], "quantity": quantity})
        assert response.status_code == 201, response.text
        return dict(response.json())

    add(who["alice"].headers[0], "plenty", 2)
    alice = add(who["alice"].headers[0], "few", 1)
    bob = add(who["bob"].headers[0], "plenty", 1)
    response = mono.post(ITEMS, json={"product": products["cheap"], "quantity": 4})
    assert response.status_code == 201
    mono.cookies.clear()
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    # The anonymous visitor from before the split: one session, the monolith's, whichever side answers.
    who["visitor"] = Who(headers=({}, {}), cookies=[cookie, cookie])
    return {"alice-few": alice["items"][1]["id"], "bob-plenty": bob["items"][0]["id"],
            "visitor-cheap": response.json()["items"][0]["id"]}


def _set_cookies(response: httpx.Response) -> list[str]:
    return sorted(EXPIRES.sub("expires=<date>", CSRF_SECRET.sub("csrftoken=<secret>;",
                                                                SESSION_KEY.sub("sessionid=<key>;", value)))
                  for value in response.headers.get_list("set-cookie"))


def exchange(world: World, method: str, path: str, *, who: str | None = None, body: Any = None,
             raw: bytes | None = None, content_type: str | None = "application/json",
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """The same request to both sides: status, body bytes, :data:`COMPARED_HEADERS` and ``Set-Cookie`` (masked)
    must be equal. A session cookie a side hands out is kept for the caller's next request to that side."""
    caller = world.who[who] if who else None
    answers = []
    request_id = uuid.uuid4().hex
    for index, http in enumerate((world.monolith, world.service)):
        sent = {"X-Request-ID": request_id, **(caller.headers[index] if caller else {})}
        if caller is not None and caller.cookies[index]:
            sent["Cookie"] = caller.cookies[index] or ""
        content = raw if raw is not None else json.dumps(body).encode() if body is not None else None
        if content is not None and content_type is not None:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        http.cookies.clear()  # the caller's cookies are the caller's (sent above), not the client's
        response = http.request(method, path, headers=sent, content=content)
        http.cookies.clear()
        if caller is not None:
            for value in response.headers.get_list("set-cookie"):
                pair = value.split(";", 1)[0]
                caller.cookies[index] = None if pair.endswith('=""') else pair
        answers.append((response.status_code, response.content, _set_cookies(response),
                        {h: response.headers.get(h) for h in COMPARED_HEADERS}))
    mono, svc = answers
    assert mono == svc, f"{method} {path} differs:\n monolith {str(mono)[:3000]}\n service  {str(svc)[:3000]}"
    try:
        return mono[0], json.loads(mono[1]) if mono[1] else None
    except ValueError:
        return mono[0], mono[1]


def fresh(world: World, name: str) -> str:
    """A new anonymous visitor, without a session yet."""
    world.who[name] = Who(headers=({}, {}))
    return name


# --- reads ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", [None, "alice", "bob", "carol", "visitor"])
def test_the_carts_copied_by_the_split_read_alike(world: World, who: str | None) -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        status, _ = exchange(world, method, CART, who=who)
        assert status == 200
    if who in ("alice", "visitor"):
        _, cart = exchange(world, "GET", CART, who=who)
        assert cart["items"], cart


@pytest.mark.parametrize("path", [CART, ITEMS, ITEMS + "1/", ITEMS + "99999999999999999999/", ITEMS + "abc/",
                                  "/api/cart", ITEMS + "1", "/api/cart/nothing/", CART + "?a=1&b=2"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
def test_methods_and_urls(world: World, method: str, path: str) -> None:
    """405 with Allow, 404s Django gives, 301 to the slashed URL, OPTIONS' metadata; as a user (nothing is changed:
    bodies are empty, and an empty body is a 400 before any write)."""
    if method == "DELETE" and path in (CART, ITEMS + "1/"):
        return  # writes: below
    exchange(world, method, path, who="carol", body={} if method in ("POST", "PUT", "PATCH") else None)


@pytest.mark.parametrize("fmt", ["json", "api", "", "xml&format=json", "JSON"])
@pytest.mark.parametrize("who", [None, "alice"])
def test_format_override(world: World, fmt: str, who: str | None) -> None:
    exchange(world, "GET", f"{CART}?format={fmt}", who=who)
    exchange(world, "POST", f"{ITEMS}?format={fmt}", who=who, body={"product": "x"})


ACCEPTS = ["text/html", "application/json", "*/*", "application/*", "*/json", "", "application/xml",
           "text/html, application/json;q=0", "application/json; indent=4", "application/json; indent=2", "*",
           "APPLICATION/JSON"]


@pytest.mark.parametrize("accept", ACCEPTS)
def test_accept(world: World, accept: str) -> None:
    for who in (None, "alice", "visitor"):
        exchange(world, "GET", CART, who=who, headers={"Accept": accept})
        exchange(world, "POST", ITEMS, who=who, headers={"Accept": accept}, body={"quantity": 0})


@pytest.mark.parametrize("host", ["evil.example", "localhost:8000", "[::1]", "a" * 300])
def test_hosts(world: World, host: str) -> None:
    exchange(world, "GET", CART, who="alice", headers={"Host": host})
    exchange(world, "POST", ITEMS, who="visitor", body={}, headers={"Host": host})


# --- bad bodies -------------------------------------------------------------------------------------------------


BAD_BODIES = [b'{"product": ', b"not json", b"[]", b'"x"', b"null", b"", b"[" * 50 + b"]" * 50,
              b'{"product": NaN}', b'{"product": 1e400}']


@pytest.mark.parametrize("raw", BAD_BODIES)
@pytest.mark.parametrize("who", ["alice", "visitor"])
def test_malformed_bodies(world: World, raw: bytes, who: str) -> None:
    status, _ = exchange(world, "POST", ITEMS, who=who, raw=raw)
    assert status == 400
    status, _ = exchange(world, "PATCH", ITEMS + f"{world.lines['alice-few']}/", who=who, raw=raw)
    assert status == 400


@pytest.mark.parametrize(("raw", "content_type"), [
    (b'{"product": 1}', None), (b'{"product": 1}', "text/plain"), (b"product=x", "application/x-www-form-urlencoded"),
    (b"product=&quantity=", "application/x-www-form-urlencoded"), (b"quantity=2", "application/x-www-form-urlencoded"),
    (b"x" * 2_000_000, "application/json"), (b"", "application/x-www-form-urlencoded"),
])
def test_content_types(world: World, raw: bytes, content_type: str | None) -> None:
    status, _ = exchange(world, "POST", ITEMS, who="alice", raw=raw, content_type=content_type)
    assert status in (400, 415)


WRONG = ["x", "", None, True, 1.5, "1.5", [1], {"a": 1}, -1, 0, 10**30, "9" * 5000, "a\x00b"]


@pytest.mark.parametrize("value", WRONG, ids=[repr(v)[:20] for v in WRONG])
def test_field_errors(world: World, value: Any) -> None:
    """DRF's messages for the product (its Invalid pk, the PrimaryKeyRelatedField's type errors) and the
    quantity, both at once, in field order."""
    status, _ = exchange(world, "POST", ITEMS, who="alice", body={"product": value, "quantity": value})
    assert status == 400
    status, _ = exchange(world, "POST", ITEMS, who="alice", body={"product": world.products["plenty"],
                                                                    "quantity": value})
    assert status in (400, 201)
    status, _ = exchange(world, "PATCH", ITEMS + f"{world.lines['alice-few']}/", who="alice",
                         body={"quantity": value})
    assert status in (400, 200)


def test_unknown_inactive_and_odd_products(world: World) -> None:
    p = world.products
    for product in (999999, p["withdrawn"], 0, "", "1.0", f"{p['plenty']}.0", f" {p['plenty']} "):
        exchange(world, "POST", ITEMS, who="carol", body={"product": product})
    status, errors = exchange(world, "POST", ITEMS, who="carol", body={"product": p["withdrawn"]})
    assert (status, errors) == (400, {"product": [f'Invalid pk "{p["withdrawn"]}" - object does not exist.']})
    exchange(world, "POST", ITEMS, who="carol", body={"quantity": 1001})
    exchange(world, "POST", ITEMS, who="carol", body={"product": 999999, "quantity": 0})
    exchange(world, "GET", CART, who="carol")


# --- writes -----------------------------------------------------------------------------------------------------


def test_a_new_anonymous_cart_sets_the_session_cookie(world: World) -> None:
    who = fresh(world, "newcomer")
    status, cart = exchange(world, "GET", CART, who=who)
    assert (status, cart["id"]) == (200, None)
    status, cart = exchange(world, "POST", ITEMS, who=who, body={"product": world.products["plenty"], "quantity": 2})
    assert status == 201
    assert all(world.who[who].cookies), "both sides handed out a session cookie"
    status, cart = exchange(world, "POST", ITEMS, who=who, body={"product": world.products["plenty"], "quantity": 3})
    assert (status, cart["items"][0]["quantity"]) == (201, 5)  # added twice: one line
    exchange(world, "POST", ITEMS, who=who, body={"product": world.products["cheap"]})
    exchange(world, "GET", CART, who=who)
    line = cart["items"][0]["id"]
    exchange(world, "PATCH", f"{ITEMS}{line}/", who=who, body={"quantity": 7})
    exchange(world, "PUT", f"{ITEMS}{line}/", who=who, body={"quantity": 1})
    exchange(world, "DELETE", f"{ITEMS}{line}/", who=who)
    exchange(world, "DELETE", f"{ITEMS}{line}/", who=who)  # gone: 404
    exchange(world, "DELETE", CART, who=who)
    status, cart = exchange(world, "GET", CART, who=who)
    assert (status, cart["items"]) == (200, [])
    # Form bodies, as a browser's script would send them.
    status, _ = exchange(world, "POST", ITEMS, who=who, raw=f"product={world.products['few']}&quantity=2".encode(),
                         content_type="application/x-www-form-urlencoded")
    assert status == 201


def test_over_stock_is_409_even_for_a_new_anonymous_cart(world: World) -> None:
    """The monolith makes the cart (and the session) before it checks the stock: the 409 sets the cookie too, and
    the empty cart stays."""
    who = fresh(world, "eager")
    status, body = exchange(world, "POST", ITEMS, who=who, body={"product": world.products["few"], "quantity": 4})
    assert (status, body["code"]) == (409, "out_of_stock")
    assert all(world.who[who].cookies)
    status, cart = exchange(world, "GET", CART, who=who)
    assert cart["id"] is not None and cart["items"] == []
    status, _ = exchange(world, "POST", ITEMS, who=who, body={"product": world.products["none"]})
    assert status == 409
    exchange(world, "POST", ITEMS, who=who, body={"product": world.products["few"], "quantity": 3})
    status, _ = exchange(world, "POST", ITEMS, who=who, body={"product": world.products["few"], "quantity": 1})
    assert status == 409  # 3 + 1 > 3: the line stays at 3
    exchange(world, "GET", CART, who=who)


def test_a_user_s_first_add_over_stock_still_makes_the_cart(world: World) -> None:
    status, _ = exchange(world, "POST", ITEMS, who="carol", body={"product": world.products["none"]})
    assert status == 409
    status, cart = exchange(world, "GET", CART, who="carol")
    assert cart["id"] is not None


def test_the_1000_cap(world: World) -> None:
    p = world.products["cheap"]
    exchange(world, "POST", ITEMS, who="carol", body={"product": p, "quantity": 1000})
    status, errors = exchange(world, "POST", ITEMS, who="carol", body={"product": p, "quantity": 1})
    assert (status, errors) == (400, {"quantity": ["A cart line holds at most 1000; this one has 1000 already."]})
    status, cart = exchange(world, "GET", CART, who="carol")
    line = next(i["id"] for i in cart["items"] if i["product"]["id"] == p)
    exchange(world, "PATCH", f"{ITEMS}{line}/", who="carol", body={"quantity": 1001})
    exchange(world, "PATCH", f"{ITEMS}{line}/", who="carol", body={"quantity": 999})
    exchange(world, "POST", ITEMS, who="carol", body={"product": p, "quantity": 2})
    exchange(world, "GET", CART, who="carol")


def test_another_cart_s_line_is_not_found(world: World) -> None:
    theirs = world.lines["bob-plenty"]
    for who in ("alice", "visitor", None):
        for method, body in (("PATCH", {"quantity": 1}), ("PUT", {"quantity": 1}), ("DELETE", None)):
            status, answer = exchange(world, method, f"{ITEMS}{theirs}/", who=who, body=body)
            assert (status, answer) == (404, {"detail": "No such item in your cart."})
    status, answer = exchange(world, "PATCH", f"{ITEMS}{theirs}/", who="alice", body={"quantity": 0})
    assert status == 400  # the body is validated before the line is looked up
    exchange(world, "GET", CART, who="bob")


def test_users_and_the_copied_anonymous_cart_write_alike(world: World) -> None:
    p = world.products
    exchange(world, "POST", ITEMS, who="alice", body={"product": p["plenty"], "quantity": 3})
    exchange(world, "PATCH", f"{ITEMS}{world.lines['alice-few']}/", who="alice", body={"quantity": 3})
    status, _ = exchange(world, "PATCH", f"{ITEMS}{world.lines['alice-few']}/", who="alice", body={"quantity": 4})
    assert status == 409
    exchange(world, "POST", ITEMS, who="visitor", body={"product": p["cheap"], "quantity": 6})
    exchange(world, "PATCH", f"{ITEMS}{world.lines['visitor-cheap']}/", who="visitor", body={"quantity": 2})
    exchange(world, "GET", CART, who="visitor")
    exchange(world, "GET", CART, who="alice")


def test_totals_follow_the_catalog(world: World) -> None:
    """Prices and stock are read when the cart is: a price change, a product withdrawn (still in the cart, no
    more added), a product deleted (its lines go with it)."""
    p = world.products
    who = fresh(world, "shopper")
    for product in ("plenty", "doomed", "withdrawn"):
        world.monolith.patch(f"/api/catalog/products/{p['withdrawn']}/", headers=world.staff,
                             json={"is_active": product == "withdrawn"})
        exchange(world, "POST", ITEMS, who=who, body={"product": p[product], "quantity": 2})
    world.monolith.patch(f"/api/catalog/products/{p['withdrawn']}/", headers=world.staff, json={"is_active": False})
    world.monolith.patch(f"/api/catalog/products/{p['plenty']}/", headers=world.staff, json={"price": "13.33"})
    exchange(world, "GET", CART, who=who)
    status, _ = exchange(world, "POST", ITEMS, who=who, body={"product": p["withdrawn"]})
    assert status == 400
    assert world.monolith.delete(f"/api/catalog/products/{p['doomed']}/", headers=world.staff).status_code == 204
    status, cart = exchange(world, "GET", CART, who=who)
    assert p["doomed"] not in [i["product"]["id"] for i in cart["items"]]
    world.monolith.patch(f"/api/catalog/products/{p['plenty']}/", headers=world.staff, json={"price": "12.50"})


def test_amounts_beyond_the_serializer_s_digits_are_the_same_500(world: World) -> None:
    who = fresh(world, "rich")
    status, cart = exchange(world, "POST", ITEMS, who=who, body={"product": world.products["dear"], "quantity": 1})
    assert (status, cart["total"]) == (201, "99999999.99")
    line = cart["items"][0]["id"]
    status, _ = exchange(world, "PATCH", f"{ITEMS}{line}/", who=who, body={"quantity": 1000})
    assert status == 500  # 99,999,999,990.00 has 13 digits; DRF's DecimalField(max_digits=12) cannot say it


@pytest.mark.parametrize("cookie", ["sessionid=nosuchsession0123456789abcdef", "sessionid=bad!", "sessionid=",
                                    "other=1; sessionid=short"])
def test_stale_and_malformed_session_cookies(world: World, cookie: str) -> None:
    who = fresh(world, "stale")
    for method, path, body in (("GET", CART, None), ("PUT", CART, {}), ("OPTIONS", ITEMS, None),
                               ("POST", ITEMS, {"product": "x"}), ("GET", CART + "?format=xml", None),
                               ("GET", "/api/cart/nothing/", None)):
        world.who[who].cookies = [cookie, cookie]
        exchange(world, method, path, who=who, body=body)
    world.who[who].cookies = [cookie, cookie]
    status, _ = exchange(world, "POST", ITEMS, who=who, body={"product": world.products["cheap"]})
    assert status == 201
    exchange(world, "GET", CART, who=who)


def test_credentials(world: World) -> None:
    """A credential that is not a token (the monolith then looks at the session), and a token nobody issued (as
    the router hands the monolith's refusal on)."""
    exchange(world, "GET", CART, who="visitor", headers={"Authorization": "Basic dXNlcjpwdw=="})
    now = int(time.time())
    refused = jwt.encode({"refused": {"status": 401, "body": {"detail": "Invalid token."},
                                      "www_authenticate": ["Token"]},
                          "iat": now, "exp": now + 600, "iss": "strangler-router", "aud": "strangler-services"},
                         SECRET, algorithm="HS256")
    world.who["forger"] = Who(headers=({"Authorization": "Token " + "0" * 40},
                                       {"Authorization": "Token " + "0" * 40, "X-Identity-Token": refused}))
    for method, path in (("GET", CART), ("POST", ITEMS), ("PATCH", ITEMS + "1/"), ("PUT", CART)):
        status, _ = exchange(world, method, path, who="forger", body={})
        assert status == 401


def test_a_logged_in_browser_writes_with_its_csrf_token(world: World) -> None:
    """A user logged in by session (the router mints the identity token from the cookie; no Authorization
    header): DRF's session authentication wants the CSRF token on every write, before anything else."""
    with httpx.Client(base_url=world.monolith.base_url, timeout=30) as browser:
        login = browser.post("/api/accounts/login/", json={"email": "customer3@example.com",
                                                           "password": "shop-demo-password"})
        assert login.status_code == 200
        session, csrf = browser.cookies["sessionid"], browser.cookies["csrftoken"]
    now = int(time.time())
    identity = jwt.encode({"sub": str(login.json()["user"]["id"]), "staff": False, "iat": now, "exp": now + 3600,
                           "iss": "strangler-router", "aud": "strangler-services"}, SECRET, algorithm="HS256")
    cookie = f"sessionid={session}; csrftoken={csrf}"
    world.who["browser"] = Who(headers=({}, {"X-Identity-Token": identity}), cookies=[cookie, cookie])
    plenty = world.products["plenty"]
    status, _ = exchange(world, "GET", CART, who="browser")
    assert status == 200
    for headers in ({}, {"X-CSRFToken": "a" * 32}, {"X-CSRFToken": "short"}, {"X-CSRFToken": "!" * 64},
                    {"X-CSRFToken": ""}, {"X-CSRFToken": csrf, "Origin": "http://evil.example"},
                    {"Origin": "null"}):
        for method, path in (("POST", ITEMS), ("PUT", CART), ("DELETE", CART), ("PATCH", ITEMS + "1/")):
            status, answer = exchange(world, method, path, who="browser", body={"product": plenty},
                                      headers=headers)
            assert status == 403, (headers, answer)
    # DRF's request.POST parses a POST's body inside the check (once the cookie passed): a body the parsers refuse is
    # their 415 or 400, with the token or without it.
    for raw, content_type in ((b'{"product": ', "application/json"), (b"product=1", "text/plain"),
                              (b"product=1", None), (b"a=1", "multipart/form-data")):
        for headers in ({}, {"X-CSRFToken": csrf}):
            status, _ = exchange(world, "POST", ITEMS, who="browser", raw=raw, content_type=content_type,
                                 headers=headers)
            assert status in (400, 415), (raw, content_type, status)
    status, _ = exchange(world, "POST", ITEMS, who="browser", body={"product": plenty},
                         headers={"X-CSRFToken": csrf, "Origin": "http://localhost"})
    assert status == 201
    status, _ = exchange(world, "POST", ITEMS, who="browser", content_type="application/x-www-form-urlencoded",
                         raw=f"product={plenty}&csrfmiddlewaretoken={csrf}".encode())
    assert status == 201
    status, cart = exchange(world, "PATCH", f"{ITEMS}999999/", who="browser", body={"quantity": 1},
                            headers={"X-CSRFToken": csrf})
    assert status == 404
    world.who["browser"].cookies = [f"sessionid={session}"] * 2
    status, answer = exchange(world, "DELETE", CART, who="browser", headers={"X-CSRFToken": csrf})
    assert (status, answer) == (403, {"detail": "CSRF Failed: CSRF cookie not set."})
    # A CSRF cookie that cannot be one: Django hands out a new one with every answer (but those it gives early).
    for method, path, body in (("DELETE", CART, None), ("GET", CART, None), ("GET", "/api/cart/nothing/", None),
                               ("GET", "/api/cart", None), ("POST", ITEMS, {"product": plenty})):
        for headers in ({"X-CSRFToken": csrf}, {"Host": "evil.example"}):
            world.who["browser"].cookies = [f"sessionid={session}; csrftoken=bad"] * 2
            exchange(world, method, path, who="browser", body=body, headers=headers)
        world.who["anonymous-bad-csrf"] = Who(headers=({}, {}), cookies=["csrftoken=" + "x" * 33] * 2)
        exchange(world, method, path, who="anonymous-bad-csrf", body=body)
