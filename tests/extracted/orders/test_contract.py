"""Contract: the orders service answers like the monolith's /api/orders/ reads, over real HTTP.

The monolith runs under gunicorn on a seeded shop (``seed_shop``: past orders with lines and shipments) plus
orders placed through its own API (timestamps with microseconds, a pending shipment). The orders plan's data
split (``migration_plans/orders.yaml``) provisions the service's own database, captures, copies; then the
monolith cancels one order and places another (an order, its lines and its shipment's status changed after the
copy), and the split syncs and verifies. The service runs as its own process. The same requests go to both,
the monolith authorised by each caller's API token, the service by the router's identity token for the same
user (and the caller's own ``Authorization``, which the router passes on): status, body byte for byte, and the
headers a client relies on must be equal.

Writes are not compared here (checkout and cancel are durable workflows across the owners:
tests/extracted/orders/checkout/ runs them against real owners), except where both answer before any write is
made (401, 404, 405, 413, a Host not allowed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from router.addons.identity import Refused, mint_refused
from strangler.processes import ManagedProcess, free_port
from tests.support.servers import ROOT, ShopServer, running_shop, scratch_database

pytestmark = pytest.mark.slow

SECRET = "orders-contract-tests-identity-secret-0123456789"
CATALOG_TOKEN = "catalog-service-token-for-the-orders-contract"
PLAN = ROOT / "migration_plans" / "orders.yaml"
ORD = "/api/orders/"
R = "/api/orders/product-references/"
PASSWORD = "shop-demo-password"
# Every header a client or a cache acts on (Content-Length is left out: gunicorn sends some answers chunked).
COMPARED_HEADERS = ("content-type", "allow", "www-authenticate", "vary", "location", "x-frame-options",
                    "x-content-type-options", "referrer-policy", "cross-origin-opener-policy", "retry-after")
USERS = {"customer": "customer1@example.com", "other": "customer2@example.com", "staff": "staff@example.com"}


@dataclass
class Side:
    http: httpx.Client
    auth: dict[str, dict[str, str]]  # who -> headers


@dataclass
class Shop:
    """What the tests need to know of the data: whose orders are whose."""

    mine: list[int]      # the customer's orders (ids, newest first)
    others: list[int]    # the other customer's
    placed: list[int]    # placed through the monolith's API (the last one after the copy)
    cancelled: int       # placed through the API, cancelled after the copy
    products: dict[int, int]  # product id -> order lines referencing it (staff's count, from the monolith)


def _split(env: dict[str, str], *operations: str) -> None:
    for operation in operations:
        done = subprocess.run([sys.executable, "manage.py", "strangler", "split", operation, str(PLAN)],  # noqa: S603
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"split {operation}: {done.stdout}\n{done.stderr}"


def _login(base_url: str, email: str) -> tuple[str, dict[str, Any]]:
    # A client of its own: login also opens a session, whose cookie must not leak into the compared calls.
    with httpx.Client(base_url=base_url, timeout=30) as fresh:
        response = fresh.post("/api/accounts/login/", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        body = response.json()
    return body["token"], body["user"]


def _identity(user: dict[str, Any]) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user["id"]), "staff": user["is_staff"], "iat": now, "exp": now + 3600,
                       "iss": "strangler-router", "aud": "strangler-services"}, SECRET, algorithm="HS256")


def _place_order(shop: ShopServer, token: str, products: list[int]) -> int:
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=shop.url, headers=headers, timeout=30) as http:
        for product in products:
            added = http.post("/api/cart/items/", json={"product": product, "quantity": 1})
            assert added.status_code in (200, 201), added.text
        placed = http.post(ORD + "checkout/", json={"carrier": "dhl", "shipping_address": {
            "full_name": "Åsa Öberg", "line1": "Storgatan 1", "city": "Malmö", "postal_code": "211 22",
            "country": "se"}})
        assert placed.status_code == 201, placed.text
        return int(placed.json()["id"])


def _in_stock(shop: ShopServer, count: int) -> list[int]:
    with httpx.Client(base_url=shop.url, timeout=30) as http:
        listing = http.get("/api/catalog/products/", params={"in_stock": "true", "page_size": 50}).json()
    return [p["id"] for p in listing["results"]][:count]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[tuple[Side, Side], Shop]]:
    base = tmp_path_factory.mktemp("orders-contract")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CATALOG_SERVICE_TOKEN", CATALOG_TOKEN)  # the monolith's HasCatalogServiceToken, and the service's
        with running_shop(base, seed_args=("--products", "60", "--users", "3", "--orders", "60")) as shop, \
                scratch_database(base / "orders") as service_db:
            # In the PostgreSQL pass the service's database is on PostgreSQL too (scratch_database follows
            # MONOLITH_DATABASE_URL's kind): SQL that only SQLite accepts is caught here.
            env = {**shop.env, "ORDERS_DATABASE_URL": service_db, "ROUTER_IDENTITY_SECRET": SECRET,
                   "ORDERS_VAR_DIR": str(base / "var")}   # the checkout saga's system database and slot locks
            tokens = {who: _login(shop.url, email) for who, email in USERS.items()}
            stock = _in_stock(shop, 4)
            placed = [_place_order(shop, tokens["customer"][0], stock[:2]),
                      _place_order(shop, tokens["customer"][0], stock[2:3])]
            _split(env, "provision", "capture", "copy")
            # After the copy: a cancel (the order's and its shipment's status) and a new order, for the sync.
            with httpx.Client(base_url=shop.url, timeout=30,
                              headers={"Authorization": f"Token {tokens['customer'][0]}"}) as http:
                assert http.post(f"{ORD}{placed[0]}/cancel/").status_code == 200
            placed.append(_place_order(shop, tokens["customer"][0], stock[3:4]))
            _split(env, "sync", "verify")
            port = free_port()
            service = ManagedProcess("orders", [sys.executable, "-m", "extracted.orders", "--port", str(port)],
                                     log_path=base / "orders.log", env=env, cwd=ROOT)
            with service:
                service.wait_healthy(f"http://127.0.0.1:{port}/healthz")
                # The same Host on both sides: pagination links are absolute, built from it.
                with httpx.Client(base_url=shop.url, headers={"Host": "localhost"}, timeout=30) as mono, \
                        httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": "localhost"},
                                     timeout=30) as svc:
                    mono_auth = {who: {"Authorization": f"Token {token}"} for who, (token, _) in tokens.items()}
                    svc_auth = {who: {"X-Identity-Token": _identity(user), **mono_auth[who]}
                                for who, (_, user) in tokens.items()}
                    yield (Side(mono, mono_auth), Side(svc, svc_auth)), _shop_facts(mono, mono_auth, placed)


def _shop_facts(mono: httpx.Client, auth: dict[str, dict[str, str]], placed: list[int]) -> Shop:
    def ids(who: str) -> list[int]:
        out: list[int] = []
        url: str | None = ORD + "?page_size=100"
        while url:
            page = mono.get(url, headers=auth[who]).json()
            out += [o["id"] for o in page["results"]]
            url = httpx.URL(page["next"]).raw_path.decode() if page["next"] else None
        return out

    mine, others = ids("customer"), ids("other")
    assert len(mine) > 20 and len(others) > 3, "the seed gives both customers orders (more than a page for one)"
    everything = mono.get(ORD + "?page_size=100", headers=auth["staff"]).json()["results"]
    products: dict[int, int] = {}
    for order in everything:
        for line in order["lines"]:
            products[line["product"]] = products.get(line["product"], 0) + 1
    return Shop(mine=mine, others=others, placed=placed, cancelled=placed[0], products=products)


def exchange(sides: tuple[Side, Side], method: str, path: str, *, who: str | None = None,
             headers: dict[str, str] | None = None, content: bytes | None = None) -> tuple[int, Any]:
    """The same request to both sides: status, body (byte for byte) and :data:`COMPARED_HEADERS` must be equal."""
    answers = []
    for side in sides:
        sent = {**(side.auth[who] if who else {}), **(headers or {})}
        response = side.http.request(method, path, headers=sent, content=content)
        answers.append((response.status_code, response.content,
                        {h: response.headers.get(h) for h in COMPARED_HEADERS}))
    mono, svc = answers
    assert mono == svc, f"{method} {path} as {who} differs:\n monolith {str(mono)[:3000]}\n service  {str(svc)[:3000]}"
    try:
        body = json.loads(mono[1]) if mono[1] else None
    except ValueError:
        body = mono[1]
    return mono[0], body


WHO = [None, "customer", "other", "staff"]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("query", [
    "", "?page=2", "?page=last", "?page=1", "?page=99", "?page=0", "?page=-1", "?page=x", "?page=2.0", "?page_size=7",
    "?page_size=7&page=3", "?page_size=100", "?page_size=101", "?page_size=0", "?page_size=abc",
    "?page_size=007&page=2", "?page_size=99999999999999999999", "?page=2&colour=red&page_size=5",
    "?ordering=id&status=placed", "?format=json", "?format=api", "?format=xml&format=json",
    "?page=2&format=json&page_size=3",
])
def test_lists_are_equal(env: tuple[tuple[Side, Side], Shop], who: str | None, query: str) -> None:
    exchange(env[0], "GET", ORD + query, who=who)


def test_every_page_is_equal_following_the_links(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    for who in ("customer", "staff"):
        url: str | None = ORD + "?page_size=7"
        seen: list[int] = []
        while url:
            status, page = exchange(sides, "GET", url, who=who)
            assert status == 200
            seen += [o["id"] for o in page["results"]]
            # The links are absolute, built from the Host both sides were sent (localhost): followed on each side.
            url = httpx.URL(page["next"]).raw_path.decode() if page["next"] else None
        assert seen == sorted(seen, reverse=True)  # -id, as the monolith orders them
        if who == "customer":
            assert seen == shop.mine


def test_a_customer_sees_their_own_orders_and_never_another_s(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    for order in shop.mine[:5] + shop.placed:
        status, body = exchange(sides, "GET", f"{ORD}{order}/", who="customer")
        assert status == 200 and body["number"] == f"ORD-{order:08d}"
        assert exchange(sides, "GET", f"{ORD}{order}/", who="other")[0] == 404
        assert exchange(sides, "GET", f"{ORD}{order}/", who="staff")[0] == 200
        assert exchange(sides, "GET", f"{ORD}{order}/", who=None)[0] == 401
    for order in shop.others[:3]:
        assert exchange(sides, "GET", f"{ORD}{order}/", who="customer")[0] == 404
        assert exchange(sides, "GET", f"{ORD}{order}/", who="other")[0] == 200


def test_what_the_copy_and_the_sync_brought_is_shown_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """Orders placed through the API (microseconds in their times, a pending shipment), one cancelled after the
    copy (its status and its shipment's came with the sync), one placed after it."""
    sides, shop = env
    _, cancelled = exchange(sides, "GET", f"{ORD}{shop.cancelled}/", who="customer")
    assert cancelled["status"] == "cancelled" and cancelled["shipment"]["status"] == "cancelled"
    _, fresh = exchange(sides, "GET", f"{ORD}{shop.placed[-1]}/", who="customer")
    assert fresh["status"] == "placed" and fresh["shipment"]["status"] == "pending"
    assert fresh["shipping_address"]["country"] == "SE" and "." in fresh["created_at"]
    _, first = exchange(sides, "GET", ORD, who="customer")
    assert [o["id"] for o in first["results"][:3]] == shop.placed[::-1]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("suffix", ["999999/", "999999999999999999/", "9999999999999999999/", "0/", "007/", "abc/",
                                    "-1/", "1.0/", "1", "999999", "abc", "%31/", "checkout", "1/cancel",
                                    "1/nothing/", "product-references/", "product-references/abc/"])
def test_bad_and_missing_ids_are_equal(env: tuple[tuple[Side, Side], Shop], who: str | None, suffix: str) -> None:
    exchange(env[0], "GET", ORD + suffix, who=who)


@pytest.mark.parametrize("who", WHO)
def test_details_with_query_strings_accept_and_head(env: tuple[tuple[Side, Side], Shop], who: str | None) -> None:
    sides, shop = env
    order = shop.mine[0]
    for path in (f"{ORD}{order}/?format=json", f"{ORD}{order}/?format=api", f"{ORD}{order}/?page=7&status=x"):
        exchange(sides, "GET", path, who=who)
    for accept in ("text/html", "application/json; indent=4", "application/*", "*/*;q=0.1, text/html",
                   "application/xml", "", "application/json;q=0"):
        exchange(sides, "GET", f"{ORD}{order}/", who=who, headers={"Accept": accept})
        exchange(sides, "GET", ORD + "?page_size=2", who=who, headers={"Accept": accept})
    exchange(sides, "HEAD", ORD, who=who)
    exchange(sides, "HEAD", f"{ORD}{order}/", who=who)


@pytest.mark.parametrize("who", WHO)
def test_methods_and_options_are_equal(env: tuple[tuple[Side, Side], Shop], who: str | None) -> None:
    """405 with each URL's Allow, DRF's OPTIONS metadata (the actions' fields for checkout and cancel), 401 for
    anonymous callers before anything else."""
    sides, shop = env
    order = shop.mine[0]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        exchange(sides, method, ORD, who=who)
        exchange(sides, method, f"{ORD}{order}/", who=who)
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        exchange(sides, method, ORD + "checkout/", who=who)
        exchange(sides, method, f"{ORD}{order}/cancel/", who=who)
    for path in (ORD, f"{ORD}{order}/", ORD + "checkout/", f"{ORD}{order}/cancel/", f"{ORD}999999/",
                 f"{ORD}999999/cancel/", f"{R}1/"):
        exchange(sides, "OPTIONS", path, who=who)
    if who is None:  # the writes as nobody: 401 before anything is written
        exchange(sides, "POST", ORD + "checkout/", who=who, content=b"{}", headers={"Content-Type": "application/json"})
        exchange(sides, "POST", f"{ORD}{order}/cancel/", who=who)


def test_cancelling_an_order_one_may_not_see_is_404_on_both(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    assert exchange(sides, "POST", f"{ORD}{shop.mine[0]}/cancel/", who="other")[0] == 404
    assert exchange(sides, "POST", f"{ORD}999999/cancel/", who="customer")[0] == 404


# --- the product references: staff, or the catalog service's token ------------------------------------------------


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("token", [None, CATALOG_TOKEN, "wrong", "", CATALOG_TOKEN + "x"])
def test_product_references_are_equal(env: tuple[tuple[Side, Side], Shop], who: str | None,
                                      token: str | None) -> None:
    sides, shop = env
    ordered = max(shop.products, key=lambda p: shop.products[p])
    headers = {"X-Service-Token": token} if token is not None else {}
    for product in (ordered, 999999, 999999999999999999):
        status, body = exchange(sides, "GET", f"{R}{product}/", who=who, headers=headers)
        allowed = who == "staff" or token == CATALOG_TOKEN
        assert status == (200 if allowed else 401 if who is None else 403)
        if allowed and product == ordered:
            assert body == {"product": ordered, "order_lines": shop.products[ordered]}
    exchange(sides, "POST", f"{R}{ordered}/", who=who, headers=headers)
    exchange(sides, "HEAD", f"{R}{ordered}/", who=who, headers=headers)


# --- credentials, hosts, bodies ------------------------------------------------------------------------------------


def test_a_credential_the_monolith_refuses_is_answered_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """The router asks the monolith who the caller is; a refused credential reaches the service as a signed
    refusal (here minted by the router's own code from the monolith's answer), answered where DRF would."""
    sides, shop = env
    mono, svc = sides
    for credential in ("Token 0123456789abcdef0123456789abcdef01234567", "Token x", "Bearer abc"):
        asked = mono.http.get("/api/accounts/me/", headers={"Authorization": credential})
        headers = {"Authorization": credential}
        if asked.status_code in (401, 403):
            refused = Refused(asked.status_code, asked.content,
                              tuple(v.encode("latin-1") for v in asked.headers.get_list("www-authenticate")))
            svc.auth["refused"] = {**headers, "X-Identity-Token": mint_refused(refused, SECRET, 60)}
        else:
            svc.auth["refused"] = headers
        mono.auth["refused"] = headers
        for method, path in (("GET", ORD), ("GET", f"{ORD}{shop.mine[0]}/"), ("GET", f"{R}1/"), ("OPTIONS", ORD),
                             ("DELETE", ORD), ("GET", ORD + "?format=api")):
            exchange(sides, method, path, who="refused")


def test_a_session_credential_varies_by_cookie_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    exchange(env[0], "GET", ORD, headers={"Authorization": "Basic dXNlcjpwdw=="})
    exchange(env[0], "GET", f"{R}1/", headers={"Authorization": "Basic dXNlcjpwdw==", "X-Service-Token": CATALOG_TOKEN})


@pytest.mark.parametrize("host", ["evil.example", "localhost:8000", "LOCALHOST.", "[::1]:8080", "local host"])
def test_hosts_outside_allowed_hosts_are_400(env: tuple[tuple[Side, Side], Shop], host: str) -> None:
    for who in (None, "customer"):
        exchange(env[0], "GET", ORD, who=who, headers={"Host": host})
        exchange(env[0], "GET", ORD + "nothing/", who=who, headers={"Host": host})


def test_bodies_over_the_limit_are_413_and_others_are_ignored_by_reads(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    over = b"x" * (10 * 1024 * 1024 + 1)
    for who in (None, "customer"):
        exchange(sides, "POST", ORD + "checkout/", who=who, content=over, headers={"Content-Type": "application/json"})
        exchange(sides, "GET", f"{ORD}{shop.mine[0]}/", who=who, content=b'{"a": 1}' * 1000,
                 headers={"Content-Type": "application/json"})


def test_a_logged_in_browser_writes_with_its_csrf_token(env: tuple[tuple[Side, Side], Shop]) -> None:
    """A customer logged in by session at the monolith (its session and CSRF cookies; the service gets the same
    cookies and the identity token the router mints from the session, no Authorization header): DRF's
    SessionAuthentication wants the CSRF token on every write, right after authentication (before the method's
    405 and the order's 404); a POST's body the parsers refuse is their 400/415 from inside the check. Reads are
    not held to it, nor are callers by token (every other test's). Nothing is written: with the token, only
    answers given before any write are compared (another's order, a missing one, a method, a bad body)."""
    sides, shop = env
    mono, svc = sides
    with httpx.Client(base_url=mono.http.base_url, timeout=30) as browser:
        login = browser.post("/api/accounts/login/", json={"email": USERS["customer"], "password": PASSWORD})
        assert login.status_code == 200, login.text
        session, csrf = browser.cookies["sessionid"], browser.cookies["csrftoken"]
    mono.auth["browser"] = {"Cookie": f"sessionid={session}; csrftoken={csrf}"}
    svc.auth["browser"] = {"X-Identity-Token": _identity(login.json()["user"]), **mono.auth["browser"]}
    mine, theirs = shop.mine[0], shop.others[0]
    json_body = {"Content-Type": "application/json"}
    try:
        assert exchange(sides, "GET", f"{ORD}{mine}/", who="browser")[0] == 200
        assert exchange(sides, "OPTIONS", ORD + "checkout/", who="browser")[0] == 200
        for headers in ({}, {"X-CSRFToken": "a" * 32}, {"X-CSRFToken": "short"}, {"X-CSRFToken": "!" * 64},
                        {"X-CSRFToken": csrf, "Origin": "http://evil.example"}, {"Origin": "null"},
                        {"X-CSRFToken": csrf, "Cookie": f"sessionid={session}"},
                        {"X-CSRFToken": csrf, "Cookie": f"sessionid={session}; csrftoken=short"}):
            for method, path in (("POST", ORD + "checkout/"), ("POST", f"{ORD}{mine}/cancel/"),
                                 ("POST", f"{ORD}{theirs}/cancel/"), ("POST", f"{ORD}999999/cancel/"),
                                 ("POST", ORD), ("DELETE", f"{ORD}{mine}/"), ("PUT", ORD + "checkout/")):
                status, answer = exchange(sides, method, path, who="browser", content=b"{}",
                                          headers={**json_body, **headers})
                assert status == 403 and answer["detail"].startswith("CSRF Failed: "), (headers, answer)
        for content, content_type in ((b'{"carrier": ', "application/json"), (b"carrier=dhl", "text/plain"),
                                      (b"a=1", "multipart/form-data")):
            for headers in ({}, {"X-CSRFToken": csrf}):
                status, _ = exchange(sides, "POST", ORD + "checkout/", who="browser", content=content,
                                     headers={"Content-Type": content_type, **headers})
                assert status in (400, 415), (content, content_type, status)
        # With the token: what comes after the check, before any write.
        token = {"X-CSRFToken": csrf}
        assert exchange(sides, "POST", f"{ORD}{theirs}/cancel/", who="browser", headers=token)[0] == 404
        assert exchange(sides, "POST", f"{ORD}999999/cancel/", who="browser",
                        headers={**token, "Origin": "http://localhost"})[0] == 404
        assert exchange(sides, "POST", f"{ORD}999999/cancel/", who="browser", content=b"csrfmiddlewaretoken=" +
                        csrf.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"})[0] == 404
        assert exchange(sides, "DELETE", f"{ORD}{mine}/", who="browser", headers=token)[0] == 405
        assert exchange(sides, "PUT", ORD + "checkout/", who="browser", headers=token)[0] == 405
    finally:
        for side in sides:
            side.http.cookies.clear()  # a renewed CSRF cookie must not follow the other tests' callers
