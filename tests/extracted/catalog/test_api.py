"""The service's API against a temporary SQLite database at head, loaded with a monolith-shaped dataset."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.extracted.catalog.conftest import CATEGORIES, PRODUCTS, mint

NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
PRODUCT_404 = {"detail": "No Product matches the given query."}


def visible(rows):
    return [r for r in rows if r["is_active"]]


def ids(response):
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["results"]]


# --- reads ----------------------------------------------------------------------------------------------------------


def test_list_shape_and_rendering(client, dataset):
    _, rows = dataset
    body = client.get(PRODUCTS).json()
    assert body["count"] == len(visible(rows))
    assert body["previous"] is None
    assert body["next"] == "http://testserver/api/catalog/products/?page=2"
    first = visible(rows)[0]
    assert body["results"][0] == {
        "id": first["id"], "sku": first["sku"], "name": first["name"], "description": first["description"],
        "price": f"{first['price']:.2f}", "stock": first["stock"], "is_active": True,
        "category": first["category_id"],
        "created_at": first["created_at"].isoformat().replace("+00:00", "Z"),
        "updated_at": first["updated_at"].isoformat().replace("+00:00", "Z"),
    }
    assert list(body["results"][0]) == ["id", "sku", "name", "description", "price", "stock", "is_active",
                                        "category", "created_at", "updated_at"]


def test_list_links_sorted_and_reencoded(client, dataset):
    body = client.get(PRODUCTS + "?search=e&page_size=3&page=2&a=x+y", headers={"Host": "shop.example:8080"}).json()
    assert body["next"] == "http://shop.example:8080/api/catalog/products/?a=x+y&page=3&page_size=3&search=e"
    assert body["previous"] == "http://shop.example:8080/api/catalog/products/?a=x+y&page_size=3&search=e"


def test_pages_never_overlap_with_ties(client, dataset):
    seen = []
    for page in range(1, 30):
        response = client.get(PRODUCTS, params={"ordering": "-stock", "page_size": 5, "page": page})
        if response.status_code == 404:
            break
        seen += ids(response)
    assert sorted(seen) == sorted(r["id"] for r in visible(dataset[1]))
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("ordering", ["price", "-price", "created_at", "-created_at", "stock,-price", "-id", "name"])
def test_ordering_with_id_tie_breaker(client, dataset, ordering):
    rows = visible(dataset[1])
    terms = ordering.split(",")
    if not any(term.lstrip("-") == "id" for term in terms):
        terms.append("id")
    for term in reversed(terms):
        rows.sort(key=lambda r, t=term: r[t.lstrip("-")], reverse=term.startswith("-"))
    got = ids(client.get(PRODUCTS, params={"ordering": ordering, "page_size": 100}))
    if ordering == "name":
        names = [item["name"] for item in client.get(PRODUCTS, params={"ordering": "name", "page_size": 100})
                 .json()["results"]]
        assert names == sorted(names)
    else:
        assert got == [r["id"] for r in rows]


def test_filters(client, dataset):
    rows = visible(dataset[1])
    in_kitchen = [r["id"] for r in rows if r["category_id"] in (1, 2, 3, 4)]
    assert ids(client.get(PRODUCTS, params={"category": 1, "page_size": 100})) == in_kitchen
    assert ids(client.get(PRODUCTS, params={"category": 2, "page_size": 100})) == [
        r["id"] for r in rows if r["category_id"] in (2, 3)]
    assert ids(client.get(PRODUCTS, params={"in_stock": "false", "page_size": 100})) == [
        r["id"] for r in rows if r["stock"] == 0]
    cheap = [r["id"] for r in rows if Decimal("100") <= r["price"] <= Decimal("500.5")]
    assert ids(client.get(PRODUCTS, params={"min_price": "100", "max_price": "500.50", "page_size": 100})) == cheap
    assert ids(client.get(PRODUCTS, params={"search": "SANTOKU", "page_size": 100})) == [
        r["id"] for r in rows if "santoku" in (r["name"] + r["sku"] + r["description"]).lower()]
    assert ids(client.get(PRODUCTS, params={"search": "100%", "page_size": 100})) == [
        r["id"] for r in rows if "100%" in r["name"] + r["description"]]
    assert ids(client.get(PRODUCTS, params={"category": 424242})) == []


@pytest.mark.parametrize(("query", "status", "body"), [
    ("page=0", 404, {"detail": "Invalid page."}),
    ("page=abc", 404, {"detail": "Invalid page."}),
    ("page=99", 404, {"detail": "Invalid page."}),
    ("page_size=0", 400, {"page_size": ["Enter a whole number from 1 up."]}),
    ("in_stock=%00", 400, {"in_stock": ["Use true or false."]}),
    ("search=a%00b", 400, {"search": ["Null characters are not allowed."]}),
    ("ordering=sku", 400, {"ordering": ["Unknown ordering field. Use a comma-separated list of: id, name, price, "
                                        "stock, created_at (prefix - for descending)."]}),
])
def test_bad_query_parameters(client, dataset, query, status, body):
    response = client.get(f"{PRODUCTS}?{query}")
    assert (response.status_code, response.json()) == (status, body)


def test_detail_and_inactive_visibility(client, dataset, staff_headers, customer_headers):
    inactive = next(r for r in dataset[1] if not r["is_active"])
    assert client.get(f"{PRODUCTS}1/").json()["id"] == 1
    for headers in ({}, customer_headers):
        response = client.get(f"{PRODUCTS}{inactive['id']}/", headers=headers)
        assert (response.status_code, response.json()) == (404, PRODUCT_404)
    assert client.get(f"{PRODUCTS}{inactive['id']}/", headers=staff_headers).json()["is_active"] is False
    assert client.get(PRODUCTS, headers=staff_headers).json()["count"] == len(dataset[1])


@pytest.mark.parametrize("path", [f"{PRODUCTS}abc/", f"{PRODUCTS}9999999999999999999/", "/api/catalog/",
                                  f"{PRODUCTS}%00/", "/api/nothing/"])
def test_unroutable_paths_json_404(client, path):
    response = client.get(path)
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_missing_slash_redirects_like_django(client, dataset):
    response = client.get(PRODUCTS[:-1] + "?page=2", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == PRODUCTS + "?page=2"


def test_categories(client, dataset):
    assert client.get(CATEGORIES).json()[:2] == [
        {"id": 1, "name": "Kitchen", "slug": "kitchen", "parent": None},
        {"id": 2, "name": "Knives", "slug": "kitchen-knives", "parent": 1}]
    assert client.get(f"{CATEGORIES}999/").json() == {"detail": "No Category matches the given query."}


# --- identity and permissions ---------------------------------------------------------------------------------------

NEW = {"sku": "NEW-1", "name": "Chef's knife", "description": "Sharp.", "price": "49.90", "stock": 5, "category": 3}


def test_staff_token_creates(client, dataset, staff_headers):
    response = client.post(PRODUCTS, json=NEW, headers=staff_headers)
    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("sku", "price", "stock", "is_active", "category")} == {
        "sku": "NEW-1", "price": "49.90", "stock": 5, "is_active": True, "category": 3}
    assert client.get(f"{PRODUCTS}{body['id']}/").json() == body


def test_customer_token_403(client, dataset, customer_headers):
    response = client.post(PRODUCTS, json=NEW, headers=customer_headers)
    assert (response.status_code, response.json()) == (403, FORBIDDEN)


def test_no_token_401_and_other_identity_ignored(client, dataset):
    for headers in ({}, {"Authorization": "Token abc"}, {"Cookie": "sessionid=abc"}, {"X-User-Id": "1"}):
        response = client.post(PRODUCTS, json=NEW, headers=headers)
        assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
        assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("token", [
    mint(1, staff=True, secret="another-secret-of-at-least-32-characters"),
    mint(1, staff=True, ttl=-60),
    mint(1, staff=True, aud="someone-else"),
    mint(1, staff=True, iss="someone-else"),
    "not-a-jwt",
])
def test_forged_or_expired_token_401(client, dataset, token):
    for method, path in (("GET", PRODUCTS), ("POST", PRODUCTS)):
        response = client.request(method, path, json=NEW, headers={"X-Identity-Token": token})
        assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})
        assert response.headers["WWW-Authenticate"] == "Token"


def test_token_without_configured_secret_is_refused(client, dataset, monkeypatch):
    monkeypatch.delenv("ROUTER_IDENTITY_SECRET")
    response = client.get(PRODUCTS, headers={"X-Identity-Token": mint(1, staff=True)})
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), [("PUT", PRODUCTS), ("DELETE", PRODUCTS), ("PATCH", CATEGORIES),
                                              ("POST", f"{PRODUCTS}1/"), ("GET", f"{PRODUCTS}1/stock/")])
def test_method_not_allowed_for_staff_405(client, dataset, staff_headers, method, path):
    response = client.request(method, path, headers=staff_headers)
    assert (response.status_code, response.json()) == (405, {"detail": f'Method "{method}" not allowed.'})
    assert "Allow" in response.headers


def test_stock_endpoint_is_staff_only_even_for_get(client, dataset, customer_headers):
    assert client.get(f"{PRODUCTS}1/stock/").status_code == 401
    assert client.get(f"{PRODUCTS}1/stock/", headers=customer_headers).status_code == 403


# --- writes ---------------------------------------------------------------------------------------------------------


def test_create_validation_errors(client, dataset, staff_headers):
    response = client.post(PRODUCTS, json={**NEW, "sku": "SKU-0000001", "price": "1.005", "category": 424242},
                           headers=staff_headers)
    assert response.status_code == 400
    assert response.json() == {"sku": ["product with this sku already exists."],
                               "price": ["Ensure that there are no more than 2 decimal places."],
                               "category": ['Invalid pk "424242" - object does not exist.']}


@pytest.mark.parametrize(("body", "detail"), [
    ('{"sku": ', "JSON parse error - Expecting value: line 1 column 9 (char 8)"),
    ("[" * 50_000 + "]" * 50_000, "JSON parse error - nested too deeply."),
    ('{"price": Infinity}', "JSON parse error - Out of range float values are not JSON compliant: 'Infinity'"),
])
def test_malformed_json_400(client, dataset, staff_headers, body, detail):
    response = client.post(PRODUCTS, content=body, headers={**staff_headers, "Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (400, {"detail": detail})


def test_oversized_body_400(client, dataset, staff_headers):
    body = json.dumps({**NEW, "description": "d" * (1024 * 1024 + 1)})
    response = client.post(PRODUCTS, content=body, headers={**staff_headers, "Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (400, {"detail": "Bad request."})


def test_patch_put_delete(client, dataset, staff_headers, engine):
    response = client.patch(f"{PRODUCTS}1/", json={"price": "8.50", "is_active": False}, headers=staff_headers)
    assert response.status_code == 200
    assert (response.json()["price"], response.json()["is_active"]) == ("8.50", False)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT price, is_active FROM products WHERE id = 1")).one() == (8.5, 0)
    response = client.put(f"{PRODUCTS}1/", json={"name": "Only"}, headers=staff_headers)
    assert response.json() == {k: ["This field is required."] for k in ("sku", "price", "category")}
    assert client.patch(f"{PRODUCTS}424242/", content="garbage", headers=staff_headers).status_code == 404
    assert client.delete(f"{PRODUCTS}1/", headers=staff_headers).status_code == 204
    assert client.get(f"{PRODUCTS}1/", headers=staff_headers).status_code == 404


def test_stock_adjustments(client, dataset, staff_headers):
    product = next(r for r in dataset[1] if r["stock"] > 0)
    url = f"{PRODUCTS}{product['id']}/stock/"
    assert client.post(url, json={"delta": 5, "reason": "delivery"}, headers=staff_headers).json()["stock"] == (
        product["stock"] + 5)
    response = client.post(url, json={"delta": -(product["stock"] + 6)}, headers=staff_headers)
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Stock of {product['sku']} is {product['stock'] + 5}; it cannot go down by {product['stock'] + 6}.",
        "code": "out_of_stock", "available": product["stock"] + 5}
    assert client.post(url, json={"delta": 0}, headers=staff_headers).json() == {
        "delta": ["A stock adjustment of 0 changes nothing."]}
    assert client.post(f"{PRODUCTS}424242/stock/", json={"delta": 1}, headers=staff_headers).json() == PRODUCT_404


def test_category_writes(client, dataset, staff_headers):
    created = client.post(CATEGORIES, json={"name": "Soap", "slug": "soap", "parent": 2}, headers=staff_headers)
    assert created.status_code == 201
    new_id = created.json()["id"]
    assert client.post(CATEGORIES, json={"name": "X", "slug": "soap"}, headers=staff_headers).json() == {
        "slug": ["category with this slug already exists."]}
    assert client.patch(f"{CATEGORIES}1/", json={"parent": 3}, headers=staff_headers).json() == {
        "parent": ["A category cannot be placed under itself or one of its children."]}
    response = client.delete(f"{CATEGORIES}1/", headers=staff_headers)
    assert (response.status_code, response.json()) == (409, {
        "detail": "This category still has products or subcategories.", "code": "protected"})
    assert client.delete(f"{CATEGORIES}{new_id}/", headers=staff_headers).status_code == 204


# --- operations -----------------------------------------------------------------------------------------------------


def test_request_id_echoed_or_replaced(client, dataset):
    assert client.get(PRODUCTS, headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"] == "abc-1"
    replaced = client.get(PRODUCTS, headers={"X-Request-ID": "bad id"}).headers["X-Request-ID"]
    assert len(replaced) == 32 and replaced.isalnum()


def test_unexpected_error_is_json_500_with_request_id(client, dataset, monkeypatch):
    from extracted.catalog.selectors import Reader

    def boom(self, *args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(Reader, "product_page", boom)
    response = client.get(PRODUCTS, headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "server_error", "request_id": "req-123"}
    assert "kaboom" not in response.text


def test_healthz(client, dataset, monkeypatch):
    assert client.get("/healthz").json() == {"status": "ok", "database": "sqlite"}
    from extracted.catalog import health

    def down(engine):
        from sqlalchemy.exc import OperationalError

        raise OperationalError("SELECT 1", {}, Exception("gone"))

    monkeypatch.setattr(health, "ping", down)
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (503, {"status": "unavailable", "database": "OperationalError"})


# --- issue 12: the HTTP rules DRF and Django apply around the views ---------------------------------------------


def test_oversized_body_is_rendered_like_django(client, dataset, staff_headers):
    body = json.dumps({**NEW, "description": "d" * (1024 * 1024 + 1)})
    response = client.post(PRODUCTS, content=body, headers={**staff_headers, "Content-Type": "application/json"})
    assert response.content == b'{"detail": "Bad request."}'  # Django's JsonResponse, not DRF's compact JSON
    assert "Allow" not in response.headers


@pytest.mark.parametrize("path", [PRODUCTS, f"{PRODUCTS}1/", CATEGORIES, f"{PRODUCTS}1/stock/"])
def test_format_other_than_json_is_404(client, dataset, path):
    response = client.get(path + "?format=api")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert "Vary" not in response.headers  # before authentication: the monolith never looks at the session
    assert client.get(path + "?format=json").status_code in (200, 401)
    assert client.get(path + "?format=").status_code in (200, 401)


@pytest.mark.parametrize(("accept", "status"), [
    ("text/html", 406), ("", 406), ("application/xml, text/*", 406), ("*", 406), ("application", 406),
    ("*/*", 200), ("application/json", 200), ("application/*", 200), ("*/json", 200), ("APPLICATION/JSON", 200),
    ("text/html;q=1, application/json;q=0", 200), ("text/html, */*;q=0.1", 200), ("application/json; indent=2", 200),
])
def test_accept_is_negotiated_like_drf(client, dataset, accept, status):
    response = client.get(f"{PRODUCTS}1/", headers={"Accept": accept})
    assert response.status_code == status
    if status == 406:
        assert response.json() == {"detail": "Could not satisfy the request Accept header."}
        assert response.headers["Allow"] == "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"


def test_accept_indent_is_honoured_like_drf(client, dataset):
    assert client.get(f"{CATEGORIES}1/", headers={"Accept": "application/json; indent=2"}).content == (
        b'{\n  "id": 1,\n  "name": "Kitchen",\n  "slug": "kitchen",\n  "parent": null\n}')
    assert client.get(f"{CATEGORIES}1/", headers={"Accept": "*/*;indent=99"}).text.startswith('{\n        "id"')
    assert client.get(f"{CATEGORIES}1/", headers={"Accept": "application/json;indent=x"}).content.startswith(b'{"id"')


@pytest.mark.parametrize(("host", "status"), [
    ("testserver", 200), ("LOCALHOST.", 200), ("localhost:9", 200), ("[::1]:80", 200), ("127.0.0.1", 200),
    ("evil.example", 400), ("localhost:x", 400), ("", 400), ("xlocalhost", 400), ("local host", 400),
])
def test_hosts_outside_allowed_hosts_are_400(client, dataset, host, status):
    response = client.get(f"{PRODUCTS}1/", headers={"Host": host})
    assert response.status_code == status
    if status == 400:
        assert response.content == b'{"detail": "Bad request."}'
        assert "X-Frame-Options" not in response.headers and response.headers["X-Content-Type-Options"] == "nosniff"


def test_allowed_hosts_come_from_the_environment(engine, monkeypatch):
    from starlette.testclient import TestClient

    from extracted.catalog.app import create_app

    monkeypatch.setenv("CATALOG_ALLOWED_HOSTS", ".shop.example")
    with TestClient(create_app(engine), base_url="http://testserver") as c:
        assert c.get("/healthz", headers={"Host": "api.shop.example"}).status_code == 200
        assert c.get("/healthz", headers={"Host": "shop.example:8080"}).status_code == 200
        assert c.get("/healthz", headers={"Host": "localhost"}).status_code == 400
    monkeypatch.setenv("CATALOG_ALLOWED_HOSTS", "*")
    with TestClient(create_app(engine), base_url="http://testserver") as c:
        assert c.get("/healthz", headers={"Host": "anything.example"}).status_code == 200


def test_vary_cookie_where_the_monolith_looks_at_the_session(client, dataset, staff_headers):
    # Anonymous callers (and callers known by a session): every status after authentication says Vary: Cookie.
    for path, status in [(f"{PRODUCTS}1/", 200), (f"{PRODUCTS}424242/", 404), (f"{PRODUCTS}?page_size=x", 400),
                         (f"{PRODUCTS}1/stock/", 401)]:
        response = client.get(path)
        assert (response.status_code, response.headers.get("Vary")) == (status, "Cookie"), path
    assert client.put(PRODUCTS, headers=staff_headers).headers.get("Vary") == "Cookie"  # 405, session caller
    # A Token credential answers before the session is looked at; so do negotiation and Django's own checks.
    token = {**staff_headers, "Authorization": "Token 0123456789abcdef"}
    assert "Vary" not in client.get(f"{PRODUCTS}1/", headers=token).headers
    assert "Vary" not in client.get(f"{PRODUCTS}1/", headers={"Accept": "text/html"}).headers
    assert "Vary" not in client.get("/api/catalog/nothing/").headers
    assert "Vary" not in client.get(f"{PRODUCTS}1/", headers={"X-Identity-Token": "bad"}).headers


def test_a_body_without_content_type_is_415(client, dataset, staff_headers):
    response = client.patch(f"{PRODUCTS}1/", content=b'{"price": "1.00"}', headers=staff_headers)
    assert (response.status_code, response.json()) == (415, {"detail": 'Unsupported media type "" in request.'})
    assert client.get(f"{PRODUCTS}1/").json()["price"] != "1.00"
    assert client.patch(f"{PRODUCTS}1/", headers=staff_headers).status_code == 200  # no body: an empty PATCH


def test_multipart_writes(client, dataset, staff_headers):
    response = client.patch(f"{PRODUCTS}1/", data={"price": "19.99"}, files={"unused": ("f.txt", b"x")},
                            headers=staff_headers)
    assert (response.status_code, response.json()["price"]) == (200, "19.99")
    response = client.post(CATEGORIES, data={"name": "Multi", "slug": "multi"}, files={"x": ("a", b"")},
                           headers=staff_headers)
    assert response.status_code == 201
    response = client.patch(f"{PRODUCTS}1/", files={"name": ("n.txt", b"x"), "stock": ("7", b"x")},
                            headers=staff_headers)
    assert (response.status_code, response.json()) == (400, {"name": ["Not a valid string."]})
    response = client.patch(f"{PRODUCTS}1/", content=b"x", headers={**staff_headers,
                                                                    "Content-Type": "multipart/form-data"})
    assert response.json() == {"detail": "Multipart form parse error - Invalid boundary in multipart: None"}


@pytest.mark.parametrize(("query", "status", "body"), [
    ("?search=zz", 404, PRODUCT_404),
    ("?search=SKU-0000002", 200, None),
    ("?min_price=abc", 400, {"min_price": ["Enter a number."]}),
    ("?category=OTHER", 404, PRODUCT_404),  # a category tree product 2 is not in
    ("?ordering=bogus", 400, None),
    ("?page=abc&page_size=0", 200, None),  # no pagination on one product
])
def test_detail_urls_apply_the_list_filters(client, dataset, staff_headers, query, status, body):
    # The tree: 1 > 2 > 3, 1 > 4, and 5 on its own.
    query = query.replace("OTHER", "1" if dataset[1][1]["category_id"] == 5 else "5")
    response = client.get(f"{PRODUCTS}2/{query}")
    assert response.status_code == status
    if body is not None:
        assert response.json() == body
    write = client.patch(f"{PRODUCTS}2/{query}", json={"name": "Filtered"}, headers=staff_headers)
    assert write.status_code == status
    assert client.get(f"{PRODUCTS}2/").json()["name"] == ("Filtered" if status == 200 else dataset[1][1]["name"])


def test_options_describes_the_writable_fields_to_staff(client, dataset, staff_headers, customer_headers):
    assert "actions" not in client.options(PRODUCTS, headers=customer_headers).json()
    actions = client.options(PRODUCTS, headers=staff_headers).json()["actions"]
    assert list(actions) == ["POST"] and actions["POST"]["price"] == {
        "type": "decimal", "required": True, "read_only": False, "label": "Price", "min_value": 0.0,
        "max_digits": 10, "decimal_places": 2}
    assert list(client.options(f"{CATEGORIES}1/", headers=staff_headers).json()["actions"]) == ["PUT"]
    assert "actions" not in client.options(f"{PRODUCTS}424242/", headers=staff_headers).json()
    assert "actions" not in client.options(f"{PRODUCTS}1/?search=zz", headers=staff_headers).json()


def test_request_body_limit_is_413(client, dataset, staff_headers, monkeypatch):
    response = client.post(PRODUCTS, content=b" " * (10 * 1024 * 1024 + 1),
                           headers={"Content-Type": "application/json", "Host": "evil.example"})
    assert response.status_code == 413  # before the Host check, like the monolith's middleware order
    assert response.content == b'{"detail": "Request body too large: the limit is 10485760 bytes."}'
    assert response.headers["Connection"] == "close" and "X-Frame-Options" not in response.headers
    assert client.post(PRODUCTS, content=b" " * (10 * 1024 * 1024),
                       headers={"Content-Type": "application/json"}).status_code == 401


def test_chunked_bodies_are_read_within_the_limit(client, dataset, staff_headers):
    def parts(*chunks: bytes):
        yield from chunks

    response = client.patch(f"{PRODUCTS}1/", content=parts(b'{"price": ', b'"3.25"}'),
                            headers={**staff_headers, "Content-Type": "application/json"})
    assert (response.status_code, response.json()["price"]) == (200, "3.25")
    response = client.patch(f"{PRODUCTS}1/", content=parts(*[b" " * (1024 * 1024)] * 11),
                            headers={**staff_headers, "Content-Type": "application/json"})
    assert response.status_code == 413


def test_the_request_body_limit_is_configurable(engine, monkeypatch):
    from extracted.catalog.app import create_app
    from extracted.catalog.exceptions import ConfigurationError

    monkeypatch.setenv("CATALOG_MAX_REQUEST_BODY", "12")
    with pytest.raises(ConfigurationError, match="CATALOG_MAX_REQUEST_BODY"):
        create_app(engine)


def test_an_ordered_product_is_not_deleted(client, dataset, staff_headers, orders, engine):
    """The monolith's order lines hold products (PROTECT): 409 ``protected`` with its words; the service asks
    the orders' owner, passing the caller's own credential on."""
    orders.lines[1] = 2
    headers = {**staff_headers, "Authorization": "Token staff-token"}
    response = client.delete(f"{PRODUCTS}1/", headers=headers)
    assert (response.status_code, response.json()) == (409, {
        "detail": "Orders reference this product; deactivate it instead of deleting it.", "code": "protected"})
    assert response.headers["allow"] == "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    [(path, sent)] = orders.asked
    assert path == "/api/orders/product-references/1/" and sent["authorization"] == "Token staff-token"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM products WHERE id = 1")).scalar() == 1
    # A product that is not there is a 404 without asking; one nobody ordered goes.
    assert client.delete(f"{PRODUCTS}424242/", headers=headers).status_code == 404
    assert len(orders.asked) == 1
    assert client.delete(f"{PRODUCTS}2/", headers=headers).status_code == 204


@pytest.mark.parametrize("status", [401, 500])
def test_a_product_is_not_deleted_when_the_orders_owner_cannot_say(client, dataset, staff_headers, orders, engine,
                                                                   status):
    orders.status = status
    response = client.delete(f"{PRODUCTS}1/", headers=staff_headers)
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "orders_unavailable" and "CATALOG_MONOLITH_URL" in body["detail"]
    assert f"answered {status}" in body["detail"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM products WHERE id = 1")).scalar() == 1
