"""The shop end to end: real gunicorn (several workers), real database, HTTP only.

One server for the module (migrate, seed and start once). Tests that write create their own customers and
products, so they do not disturb each other's reads; the catalog reads only look at seeded products.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import uuid
from decimal import Decimal
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import pytest

from tests.support.servers import ShopServer, running_shop

pytestmark = pytest.mark.slow

STAFF_EMAIL = "staff@example.com"
STAFF_PASSWORD = os.environ.get("SEED_PASSWORD", "shop-demo-password")
CUSTOMER_PASSWORD = "correct-horse-battery-42"
SEEDED_PRODUCTS = 150
WORKERS = 4
SHIPPING = {"full_name": "Zoë Åberg", "line1": "Östra Långgatan 7", "city": "Göteborg", "postal_code": "411 04",
            "country": "se"}
TRACEBACK_MARKERS = ("Traceback", 'File "/', "site-packages", "legacy_monolith/", "django.core", "Exception Value")


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> ShopServer:
    with running_shop(tmp_path_factory.mktemp("e2e-shop"), workers=WORKERS,
                      seed_args=("--products", str(SEEDED_PRODUCTS), "--users", "3", "--orders", "5")) as server:
        yield server


def client_for(shop: ShopServer) -> httpx.Client:
    """A client that keeps no cookies: register and login also open a session, and these tests must prove that
    the token alone authenticates (and that a request without it is anonymous)."""
    return httpx.Client(base_url=shop.url, timeout=60.0,
                        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))


@pytest.fixture
def http(shop):
    with client_for(shop) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def register(http: httpx.Client, name: str = "customer") -> tuple[str, dict]:
    email = f"{name}-{uuid.uuid4().hex[:8]}@Example.com"
    r = http.post("/api/accounts/register/",
                  json={"email": email, "password": CUSTOMER_PASSWORD, "first_name": "Åsa"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert re.fullmatch(r"[0-9a-f]{40}", body["token"])
    assert body["user"]["email"] == email.lower()
    assert body["user"]["is_staff"] is False
    return body["token"], body["user"]


@pytest.fixture(scope="module")
def staff_token(shop) -> str:
    with client_for(shop) as client:
        r = client.post("/api/accounts/login/", json={"email": STAFF_EMAIL, "password": STAFF_PASSWORD})
    assert r.status_code == 200, r.text
    assert "sessionid" in r.cookies  # a session for the pages too; these tests use the token only
    assert r.json()["user"]["is_staff"] is True
    return r.json()["token"]


def all_pages(http: httpx.Client, path: str, params: dict | None = None, headers: dict | None = None) -> list[dict]:
    """Every result of a paginated list, following ``next``; checks the count against what came back."""
    params = {**(params or {}), "page_size": 100}
    r = http.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    count, results = body["count"], list(body["results"])
    while body["next"]:
        r = http.get(body["next"], headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        results.extend(body["results"])
    assert len(results) == count
    return results


@pytest.fixture
def catalog(http) -> list[dict]:
    """What an anonymous visitor sees of the catalog now: the oracle for the filter tests (read afresh for each
    test, as other tests add products and take stock)."""
    return all_pages(http, "/api/catalog/products/")


def ids(products: list[dict]) -> list[int]:
    return [p["id"] for p in products]


# --- health, request ids, pages, errors ---------------------------------------------------------------------


def test_healthz_reports_the_database(http, shop):
    r = http.get("/healthz")
    assert r.status_code == 200
    expected = "postgresql" if shop.database_url.startswith("postgres") else "sqlite"
    assert r.json() == {"status": "ok", "database": expected}
    assert http.head("/healthz").status_code == 200


def test_a_sane_request_id_is_echoed_and_logged(http, shop):
    request_id = f"e2e-{uuid.uuid4().hex}:1.2_3"
    r = http.get("/api/catalog/products/", params={"page_size": 1}, headers={"X-Request-ID": request_id})
    assert r.status_code == 200
    assert r.headers["X-Request-ID"] == request_id
    longest = "r" * 128
    assert http.get("/healthz", headers={"X-Request-ID": longest}).headers["X-Request-ID"] == longest
    # Error answers carry it too.
    r = http.get("/api/no-such-thing/", headers={"X-Request-ID": request_id + "-404"})
    assert r.status_code == 404
    assert r.headers["X-Request-ID"] == request_id + "-404"
    # And the access log line of the request names it (written by one of the workers).
    lines = [json.loads(line) for line in shop.process.log_path.read_text().splitlines() if request_id in line]
    assert {(entry["path"], entry["status"]) for entry in lines} >= {
        ("/api/catalog/products/", 200), ("/api/no-such-thing/", 404)}


@pytest.mark.parametrize("bad_id", ["", "r" * 129, "x" * 300, "a b", "<script>alert(1)</script>", "id;rm -rf /",
                                    "ünïcode", "../../etc/passwd"])
def test_an_odd_request_id_is_replaced(http, shop, bad_id):
    r = http.get("/healthz", headers={"X-Request-ID": bad_id.encode()})
    assert r.status_code == 200
    echoed = r.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", echoed), echoed
    if len(bad_id) > 8:  # never logged raw either
        assert bad_id not in shop.process.log_path.read_text(errors="replace")


def test_a_request_id_with_a_line_break_never_reaches_the_shop(shop):
    """httpx refuses to send CR/LF in a header, so this goes over a raw socket. gunicorn refuses the request
    before Django sees it; nothing of the injected text comes back as a header."""
    host, port = shop.url.removeprefix("http://").split(":")
    for injected in (b"a\r\nb", b"a\r\n Set-Cookie: x=1", b"a\nb", b"a\rb"):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: " + injected
                         + b"\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head = answer.split(b"\r\n\r\n", 1)[0]
        status_line, *headers = head.split(b"\r\n")
        if status_line.startswith(b"HTTP/1.1 200"):
            # A bare header line "b" is also a header name; if a server ever accepts it, the id must be replaced.
            request_id = [h.split(b":", 1)[1].strip() for h in headers if h.lower().startswith(b"x-request-id:")]
            assert request_id and re.fullmatch(rb"[0-9a-f]{32}", request_id[0]), head
        else:
            assert status_line.startswith(b"HTTP/1.1 400"), head
        assert not any(h.lower().startswith((b"b", b"set-cookie: x=1")) for h in headers), head


def test_the_home_page_renders_html(http, catalog):
    r = http.get("/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.text.lstrip().lower().startswith("<!doctype html>")
    first = catalog[0]
    assert first["sku"] in r.text  # 24 a page, in id order: the first product is on page 1
    assert re.search(r"Page 1 of \d+", r.text)
    # A search term is shown escaped, never as markup.
    r = http.get("/", params={"search": "<script>alert(1)</script>"})
    assert r.status_code == 200
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "No products found." in r.text


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/api/no-such-thing/", {}, 404),
        ("GET", "/no-such-page/", {}, 404),
        ("GET", "/api/catalog/products/99999999/", {}, 404),
        ("GET", "/api/catalog/products/99999999999999999999/", {}, 404),
        ("GET", "/products/99999999/", {}, 404),
        ("GET", "/api/catalog/products/?page=999", {}, 404),
        ("GET", "/api/catalog/products/?min_price=abc", {}, 400),
        ("GET", "/api/catalog/products/?category=99999999999999999999", {}, 400),
        ("GET", "/api/catalog/products/?search=%00", {}, 400),
        ("GET", "/api/orders/", {}, 401),
        ("GET", "/api/orders/", {"headers": {"Authorization": "Token not-a-token"}}, 401),
        ("POST", "/api/cart/items/", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ("POST", "/api/cart/items/", {"json": {"product": 99999999999999999999}}, 400),
        ("POST", "/api/cart/items/", {"json": ["a", "list"]}, 400),
        # Larger than DATA_UPLOAD_MAX_MEMORY_SIZE: refused with 400, not a crash (it was a 500).
        ("POST", "/api/cart/items/", {"content": b'{"product": 1, "x": "' + b"x" * (2 * 1024 * 1024) + b'"}',
                                      "headers": {"Content-Type": "application/json"}}, 400),
        ("POST", "/api/accounts/register/", {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
         400),
        ("DELETE", "/api/catalog/products/1/", {}, 401),
        ("GET", "/healthz", {"headers": {"Host": "evil.example"}}, 400),
    ],
)
def test_errors_never_expose_a_traceback(http, method, path, kwargs, status):
    r = http.request(method, path, **kwargs)
    assert r.status_code == status, r.text[:500]
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])
    for marker in TRACEBACK_MARKERS:
        assert marker not in r.text
    if path.startswith("/api/") and "Host" not in kwargs.get("headers", {}):
        assert r.headers["Content-Type"] == "application/json"
        assert isinstance(r.json(), dict) and r.json()
    else:
        assert r.headers["Content-Type"].startswith("text/html")


# --- catalog: list, search, filters, pages ------------------------------------------------------------------


def test_anonymous_visitors_see_only_active_products_in_id_order(http, staff_token, catalog):
    assert 0 < len(catalog) < SEEDED_PRODUCTS  # the seed withdraws a few products
    assert all(p["is_active"] for p in catalog)
    assert ids(catalog) == sorted(ids(catalog))
    everything = all_pages(http, "/api/catalog/products/", headers=auth(staff_token))
    seeded = [p for p in everything if p["sku"].startswith("SKU-")]
    assert len(seeded) == SEEDED_PRODUCTS
    assert ids([p for p in seeded if p["is_active"]]) == ids(catalog)
    assert set(catalog[0]) == {"id", "sku", "name", "description", "price", "stock", "is_active", "category",
                               "created_at", "updated_at"}


@pytest.mark.parametrize("term", ["kettle", "SKU-00000", "oak", "crème", "人気", "  lamp  "])
def test_search_matches_sku_name_and_description(http, catalog, term):
    needle = term.strip().lower()
    expected = [p for p in catalog
                if needle in p["name"].lower() or needle in p["sku"].lower() or needle in p["description"].lower()]
    assert expected, f"the seeded catalog should contain {term!r}"
    found = all_pages(http, "/api/catalog/products/", {"search": term})
    assert ids(found) == ids(expected)


def test_search_for_nothing_that_exists_is_empty(http):
    r = http.get("/api/catalog/products/", params={"search": "no-such-product-anywhere"})
    assert r.status_code == 200
    assert r.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_category_filter_includes_subcategories(http, catalog):
    categories = http.get("/api/catalog/categories/").json()
    department = next(c for c in categories if c["parent"] is None and c["name"] == "Kitchen")
    children = {c["id"] for c in categories if c["parent"] == department["id"]}
    assert len(children) == 5
    expected = [p for p in catalog if p["category"] in children]
    assert expected
    assert ids(all_pages(http, "/api/catalog/products/", {"category": department["id"]})) == ids(expected)
    leaf = next(iter(sorted(children)))
    assert ids(all_pages(http, "/api/catalog/products/", {"category": leaf})) == ids(
        [p for p in catalog if p["category"] == leaf])


def test_price_range_filter_is_inclusive(http, catalog):
    prices = sorted(Decimal(p["price"]) for p in catalog)
    low, high = prices[len(prices) // 4], prices[3 * len(prices) // 4]
    expected = [p for p in catalog if low <= Decimal(p["price"]) <= high]
    found = all_pages(http, "/api/catalog/products/", {"min_price": str(low), "max_price": str(high)})
    assert ids(found) == ids(expected)
    assert {p["price"] for p in found} >= {str(low), str(high)}  # both bounds are included
    # Combined with a category and a search term.
    some = expected[0]
    both = all_pages(http, "/api/catalog/products/",
                     {"min_price": str(low), "max_price": str(high), "category": some["category"],
                      "search": some["sku"]})
    assert ids(both) == [some["id"]]
    assert http.get("/api/catalog/products/", params={"min_price": "-1"}).status_code == 400


@pytest.mark.parametrize("ordering", ["id", "-price", "name"])
def test_pages_do_not_overlap_and_cover_the_count(http, catalog, ordering):
    page_size, page, seen, count = 7, 1, [], None
    while True:
        r = http.get("/api/catalog/products/", params={"page": page, "page_size": page_size, "ordering": ordering})
        assert r.status_code == 200, r.text
        body = r.json()
        count = body["count"]
        assert count == len(catalog)
        assert len(body["results"]) == (page_size if body["next"] else count - page_size * (page - 1))
        seen.extend(ids(body["results"]))
        if not body["next"]:
            break
        page += 1
    assert page == -(-count // page_size)
    assert len(seen) == len(set(seen)) == count
    assert set(seen) == set(ids(catalog))
    assert http.get("/api/catalog/products/", params={"page": page + 1, "page_size": page_size}).status_code == 404
    # page_size is capped at 100.
    assert len(http.get("/api/catalog/products/", params={"page_size": 1000}).json()["results"]) == min(100, count)


# --- the buying journey -------------------------------------------------------------------------------------


def test_register_buy_and_follow_the_shipment(http, staff_token, catalog):
    token, user = register(http)
    me = http.get("/api/accounts/me/", headers=auth(token))
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]
    assert http.get("/api/accounts/me/").status_code == 401

    product = next(p for p in catalog if p["stock"] >= 5)
    r = http.post("/api/cart/items/", json={"product": product["id"], "quantity": 2}, headers=auth(token))
    assert r.status_code == 201, r.text
    cart = r.json()
    assert [(i["product"]["id"], i["quantity"]) for i in cart["items"]] == [(product["id"], 2)]
    assert cart["item_count"] == 2
    assert Decimal(cart["total"]) == Decimal(product["price"]) * 2

    r = http.post("/api/orders/checkout/", json={"shipping_address": SHIPPING}, headers=auth(token))
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "placed"
    assert order["number"] == f"ORD-{order['id']:08d}"
    assert Decimal(order["total"]) == Decimal(product["price"]) * 2
    assert [(line["product"], line["sku"], line["quantity"], line["unit_price"]) for line in order["lines"]] == [
        (product["id"], product["sku"], 2, product["price"])]
    assert order["shipping_address"] == {**SHIPPING, "country": "SE", "line2": ""}
    assert order["shipment"]["status"] == "pending"
    shipment_id = order["shipment"]["id"]

    # Stock taken, cart emptied, a second checkout of the empty cart refused.
    assert http.get(f"/api/catalog/products/{product['id']}/").json()["stock"] == product["stock"] - 2
    assert http.get("/api/cart/", headers=auth(token)).json()["items"] == []
    r = http.post("/api/orders/checkout/", json={"shipping_address": SHIPPING}, headers=auth(token))
    assert r.status_code == 400
    assert r.json() == {"cart": ["Your cart is empty."]}

    # The customer cannot move the shipment; another customer cannot even see the order.
    r = http.post(f"/api/shipping/shipments/{shipment_id}/status/", json={"status": "packed"}, headers=auth(token))
    assert r.status_code == 403
    other_token, _ = register(http, "other")
    assert http.get(f"/api/orders/{order['id']}/", headers=auth(other_token)).status_code == 404

    def move(payload: dict, expected_order_status: str) -> dict:
        r = http.post(f"/api/shipping/shipments/{shipment_id}/status/", json=payload, headers=auth(staff_token))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == payload["status"]
        seen = http.get(f"/api/orders/{order['id']}/", headers=auth(token))
        assert seen.status_code == 200
        assert seen.json()["status"] == expected_order_status
        assert seen.json()["shipment"]["status"] == payload["status"]
        return r.json()

    move({"status": "packed"}, "processing")
    r = http.post(f"/api/shipping/shipments/{shipment_id}/status/", json={"status": "shipped"},
                  headers=auth(staff_token))
    assert r.status_code == 400
    assert r.json() == {"tracking_number": ["A tracking number is required to ship."]}
    assert http.get(f"/api/orders/{order['id']}/", headers=auth(token)).json()["status"] == "processing"
    shipped = move({"status": "shipped", "tracking_number": "TRK-E2E-0001", "carrier": "dhl"}, "shipped")
    assert (shipped["tracking_number"], shipped["carrier"]) == ("TRK-E2E-0001", "dhl")
    delivered = move({"status": "delivered", "note": "Left with a neighbour"}, "delivered")
    assert [e["status"] for e in delivered["events"]] == ["pending", "packed", "shipped", "delivered"]
    assert delivered["events"][-1]["note"] == "Left with a neighbour"

    r = http.post(f"/api/shipping/shipments/{shipment_id}/status/", json={"status": "packed"},
                  headers=auth(staff_token))
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_transition"
    assert r.json()["current"] == "delivered"
    r = http.post(f"/api/orders/{order['id']}/cancel/", headers=auth(token))
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_transition"
    final = http.get(f"/api/orders/{order['id']}/", headers=auth(token)).json()
    assert final["status"] == "delivered"
    assert final["shipment"] == {"id": shipment_id, "carrier": "dhl", "tracking_number": "TRK-E2E-0001",
                                 "status": "delivered"}
    assert [o["id"] for o in all_pages(http, "/api/orders/", headers=auth(token))] == [order["id"]]


def test_staff_login_with_a_wrong_password_is_refused(http):
    r = http.post("/api/accounts/login/", json={"email": STAFF_EMAIL, "password": STAFF_PASSWORD + "x"})
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


def test_concurrent_checkouts_of_the_last_unit_sell_it_once(http, shop, staff_token):
    buyers = 2 * WORKERS
    r = http.post("/api/catalog/products/", headers=auth(staff_token), json={
        "sku": f"LAST-{uuid.uuid4().hex[:8]}", "name": "The very last lantern", "price": "49.90", "stock": 1,
        "category": http.get("/api/catalog/categories/").json()[-1]["id"]})
    assert r.status_code == 201, r.text
    product = r.json()
    tokens = [register(http, f"buyer{n}")[0] for n in range(buyers)]
    for token in tokens:
        r = http.post("/api/cart/items/", json={"product": product["id"], "quantity": 1}, headers=auth(token))
        assert r.status_code == 201, r.text

    barrier = threading.Barrier(buyers)
    answers: dict[str, httpx.Response] = {}

    def buy(token: str) -> None:
        with client_for(shop) as client:
            client.get("/healthz")  # connect before the barrier, so the requests really leave together
            barrier.wait(timeout=30)
            answers[token] = client.post("/api/orders/checkout/", json={"shipping_address": SHIPPING},
                                         headers=auth(token))

    threads = [threading.Thread(target=buy, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert len(answers) == buyers

    statuses = sorted(r.status_code for r in answers.values())
    assert statuses == [201] + [409] * (buyers - 1), [r.text for r in answers.values()]
    for r in answers.values():
        if r.status_code == 409:
            body = r.json()
            assert body["code"] == "out_of_stock"
            assert body["items"] == [{"product": product["id"], "sku": product["sku"], "requested": 1,
                                      "available": 0}]
    assert http.get(f"/api/catalog/products/{product['id']}/").json()["stock"] == 0

    # The winner has one order with the product and an empty cart; every loser keeps the item in the cart
    # and has no order (the failed checkout left nothing behind).
    for token, r in answers.items():
        orders = all_pages(http, "/api/orders/", headers=auth(token))
        cart = http.get("/api/cart/", headers=auth(token)).json()
        if r.status_code == 201:
            assert [o["id"] for o in orders] == [r.json()["id"]]
            assert [line["product"] for line in orders[0]["lines"]] == [product["id"]]
            assert cart["items"] == []
        else:
            assert orders == []
            assert [(i["product"]["id"], i["quantity"]) for i in cart["items"]] == [(product["id"], 1)]
    every_order = all_pages(http, "/api/orders/", headers=auth(staff_token))
    assert sum(line["product"] == product["id"] for o in every_order for line in o["lines"]) == 1
    # gunicorn really ran several worker processes, so the checkouts raced across processes.
    assert len(set(re.findall(r"Booting worker with pid: (\d+)", shop.process.log_path.read_text()))) == WORKERS
