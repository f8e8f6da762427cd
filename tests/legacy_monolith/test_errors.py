"""Bad input anywhere in the API is a clear 4xx in DRF's JSON shape, never a 500; plus health and schema."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection

from legacy_monolith.catalog.models import Category, Product
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/catalog/products/"
CATEGORIES = "/api/catalog/categories/"
REGISTER = "/api/accounts/register/"
LOGIN = "/api/accounts/login/"
ADDRESSES = "/api/accounts/addresses/"
ME = "/api/accounts/me/"

NOT_FOUND = {"detail": "Not found."}
NUL = "Null characters are not allowed."


def send(client, method: str, url: str, body: str | bytes, content_type: str = "application/json"):
    return client.generic(method, url, body, content_type=content_type)


@pytest.fixture
def staff_api(client_for, staff):
    return client_for(staff)


def product_json(category: Category, **overrides) -> dict:
    body = {"sku": "ERR-1", "name": "Knife", "price": "10.00", "stock": 1, "category": category.pk}
    body.update(overrides)
    return body


# --- malformed bodies -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ['{"email": ', "{'email': 'a'}", "not json", '{"a": 1,}', "\x00"])
def test_malformed_json_400(api, body):
    response = send(api, "POST", LOGIN, body)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")
    assert set(response.json()) == {"detail"}


def test_invalid_utf8_json_400(api):
    response = send(api, "POST", LOGIN, b'{"email": "\xff\xfe"}')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - 'utf-8' codec can't decode byte 0xff")


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deeply_nested_json_400(api, depth):
    response = send(api, "POST", LOGIN, "[" * depth + "]" * depth)
    assert response.status_code == 400
    if depth > 50:
        assert response.json() == {"detail": "JSON parse error - nested too deeply."}
    else:
        assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[]", "Invalid data. Expected a dictionary, but got list."),
        ('"text"', "Invalid data. Expected a dictionary, but got str."),
        ("1", "Invalid data. Expected a dictionary, but got int."),
        ("true", "Invalid data. Expected a dictionary, but got bool."),
        ("null", "No data provided"),
    ],
)
def test_json_not_an_object_400(api, body, message):
    response = send(api, "POST", REGISTER, body)
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [message]}


def test_empty_json_body_is_missing_fields(api):
    response = send(api, "POST", LOGIN, "")
    assert response.status_code == 400
    assert response.json() == {"email": ["This field is required."], "password": ["This field is required."]}


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/octet-stream"])
def test_wrong_content_type_415(api, content_type):
    response = send(api, "POST", LOGIN, '{"email": "a", "password": "b"}', content_type=content_type)
    assert response.status_code == 415
    assert response.json() == {"detail": f'Unsupported media type "{content_type}" in request.'}


def test_multipart_without_boundary_400(api):
    response = send(api, "POST", LOGIN, b"--x\r\n", content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Multipart form parse error - ")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_infinity_literals_400(staff_api, category, literal):
    body = json.dumps(product_json(category)).replace('"10.00"', literal)
    response = send(staff_api, "POST", PRODUCTS, body)
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"JSON parse error - Out of range float values are not JSON compliant: '{literal}'"
    }
    assert not Product.objects.exists()


# --- oversized bodies -----------------------------------------------------------------------------------------------


def test_oversize_body_register_400(api):
    body = json.dumps({"email": "big@example.com", "password": "p" * (1024 * 1024)})
    response = send(api, "POST", REGISTER, body)
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


def test_oversize_body_product_400(staff_api, category):
    body = json.dumps(product_json(category, description="d" * (1024 * 1024 + 1)))
    response = send(staff_api, "POST", PRODUCTS, body)
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}
    assert not Product.objects.exists()


def test_just_under_limit_is_parsed(staff_api, category):
    body = json.dumps(product_json(category, description="d" * (1024 * 1024 - 200)))
    assert len(body) <= 1024 * 1024
    response = send(staff_api, "POST", PRODUCTS, body)
    assert response.status_code == 201
    assert len(Product.objects.get(sku="ERR-1").description) == 1024 * 1024 - 200


def test_too_many_form_fields_400(api):
    body = "&".join(f"f{i}=1" for i in range(1500))
    response = send(api, "POST", LOGIN, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


# --- ids in URLs ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"{PRODUCTS}99999999999999999999/",
        f"{PRODUCTS}9999999999999999999/",  # 19 digits: past the 18-digit route
        f"{PRODUCTS}abc/",
        f"{PRODUCTS}-1/",
        f"{PRODUCTS}1.5/",
        f"{PRODUCTS}%00/",
        f"{PRODUCTS}1%00/",
        f"{PRODUCTS}99999999999999999999/stock/",
        f"{CATEGORIES}99999999999999999999/",
        f"{CATEGORIES}abc/",
        f"{ADDRESSES}99999999999999999999/",
        f"{ADDRESSES}abc/",
        "/api/nothing-here/",
        "/api/catalog/",
    ],
)
def test_unroutable_api_paths_json_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


def test_largest_routable_id_is_a_plain_404(api, staff_api):
    for client in (api, staff_api):
        response = client.get(f"{PRODUCTS}999999999999999999/")  # 18 digits: fits a bigint
        assert response.status_code == 404
        assert response.json() == {"detail": "No Product matches the given query."}


def test_non_api_404_is_html(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Traceback" not in response.content


# --- ids in bodies --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1e400", "A valid integer is required."),
        ("-1e400", "A valid integer is required."),
        ("1.5", "A valid integer is required."),
        ('"1e3"', "A valid integer is required."),
        ('"abc"', "A valid integer is required."),
        ("[1]", "A valid integer is required."),
        ('{"id": 1}', "A valid integer is required."),
        ("99999999999999999999", 'Invalid pk "99999999999999999999" - object does not exist.'),
        ("-1", 'Invalid pk "-1" - object does not exist.'),
        ("0", 'Invalid pk "0" - object does not exist.'),
    ],
)
def test_bad_category_id_in_product_body(staff_api, category, raw, message):
    body = json.dumps(product_json(category)).replace(f'"category": {category.pk}', f'"category": {raw}')
    response = send(staff_api, "POST", PRODUCTS, body)
    assert response.status_code == 400
    assert response.json() == {"category": [message]}
    assert not Product.objects.exists()


@pytest.mark.parametrize("raw", ["1e400", "1.5", "99999999999999999999"])
def test_bad_parent_id_in_category_body(staff_api, category, raw):
    response = send(staff_api, "PATCH", f"{CATEGORIES}{category.pk}/", f'{{"parent": {raw}}}')
    assert response.status_code == 400
    assert list(response.json()) == ["parent"]
    category.refresh_from_db()
    assert category.parent.slug == "kitchen"


def test_float_category_id_not_truncated(staff_api, category):
    """1.9 once became category 1 (the root), silently."""
    body = json.dumps(product_json(category)).replace(f'"category": {category.pk}', f'"category": {category.pk}.9')
    response = send(staff_api, "POST", PRODUCTS, body)
    assert response.status_code == 400
    assert response.json() == {"category": ["A valid integer is required."]}


def test_whole_float_category_id_accepted(staff_api, category):
    body = json.dumps(product_json(category)).replace(f'"category": {category.pk}', f'"category": {category.pk}.0')
    response = send(staff_api, "POST", PRODUCTS, body)
    assert response.status_code == 201
    assert response.json()["category"] == category.pk


# --- numbers --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1e400", "A valid number is required."),
        ('"1e400"', "Ensure that there are no more than 10 digits in total."),
        ('"123456789"', "Ensure that there are no more than 8 digits before the decimal point."),
        ('"NaN"', "A valid number is required."),
        ('"Infinity"', "A valid number is required."),
        ('"-Infinity"', "A valid number is required."),
        ('"12345678901"', "Ensure that there are no more than 10 digits in total."),
        ('"1.001"', "Ensure that there are no more than 2 decimal places."),
        ('"1e-400"', "Ensure that there are no more than 10 digits in total."),
        ('"' + "9" * 2000 + '"', "String value too large."),
        ('""', "A valid number is required."),
        ("true", "A valid number is required."),
        ('"1\\u0000"', "A valid number is required."),
    ],
)
def test_bad_price_in_body(staff_api, category, raw, message):
    body = json.dumps(product_json(category)).replace('"10.00"', raw)
    response = send(staff_api, "POST", PRODUCTS, body)
    assert response.status_code == 400
    assert response.json() == {"price": [message]}
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1e400", "A valid integer is required."),
        ("1e10", "Ensure this value is less than or equal to 2147483647."),
        ("1.5e0", "A valid integer is required."),
        ("10000000000", "Ensure this value is less than or equal to 2147483647."),
        ("-1", "Ensure this value is greater than or equal to 0."),
        ('"' + "9" * 2000 + '"', "String value too large."),
    ],
)
def test_bad_stock_in_body(staff_api, category, raw, message):
    body = json.dumps(product_json(category)).replace('"stock": 1', f'"stock": {raw}')
    response = send(staff_api, "POST", PRODUCTS, body)
    assert response.status_code == 400
    assert response.json() == {"stock": [message]}


@pytest.mark.parametrize("raw", ["1e400", "-1e400", "1e10", '"NaN"', "null", '"9999999999999999999999"'])
def test_bad_stock_delta(staff_api, make_product, raw):
    product = make_product(stock=5)
    response = send(staff_api, "POST", f"{PRODUCTS}{product.pk}/stock/", f'{{"delta": {raw}}}')
    assert response.status_code == 400
    assert list(response.json()) == ["delta"]
    assert Product.objects.get(pk=product.pk).stock == 5


# --- NUL bytes and odd characters -----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["email", "password", "first_name", "last_name"])
def test_nul_in_register_fields(api, field):
    body = {"email": "nul@example.com", "password": PASSWORD, "first_name": "A", "last_name": "B"}
    body[field] = body[field][:1] + "\x00" + body[field][1:]
    response = api.post(REGISTER, body, format="json")
    assert response.status_code == 400
    assert NUL in response.json()[field]


@pytest.mark.parametrize("field", ["email", "password"])
def test_nul_in_login_fields(api, customer, field):
    body = {"email": "alice@example.com", "password": PASSWORD}
    body[field] += "\x00"
    response = api.post(LOGIN, body, format="json")
    assert response.status_code == 400
    assert response.json() == {field: [NUL]}


def test_nul_in_login_form_field(api):
    response = send(api, "POST", LOGIN, "email=a%00&password=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json() == {"email": [NUL]}


@pytest.mark.parametrize("field", ["sku", "name", "description"])
def test_nul_in_product_fields(staff_api, category, field):
    response = staff_api.post(PRODUCTS, product_json(category, **{field: "a\x00b"}), format="json")
    assert response.status_code == 400
    assert response.json() == {field: [NUL]}


@pytest.mark.parametrize("field", ["full_name", "line1", "city", "postal_code", "country", "phone"])
def test_nul_in_address_fields(customer, client_for, field):
    body = {"full_name": "A", "line1": "L", "city": "C", "postal_code": "1", "country": "DE", "phone": "1"}
    body[field] = "\x00" if field == "country" else body[field] + "\x00"
    response = client_for(customer).post(ADDRESSES, body, format="json")
    assert response.status_code == 400
    assert NUL in response.json()[field]


def test_nul_in_me_patch(customer, client_for):
    response = client_for(customer).patch(ME, {"first_name": "A\x00"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"first_name": [NUL]}


def test_lone_surrogate_in_json_400(staff_api, category):
    body = json.dumps(product_json(category)).replace('"Knife"', '"Kn\\ud800ife"')
    response = send(staff_api, "POST", PRODUCTS, body)
    assert response.status_code == 400
    assert response.json() == {"name": ["Surrogate characters are not allowed: U+D800."]}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("search=a%00b", "search", NUL),
        ("category=%00", "category", "Enter a whole number."),
        ("min_price=%00", "min_price", "Enter a number."),
        ("max_price=1%00", "max_price", "Enter a number."),
        ("in_stock=%00", "in_stock", "Use true or false."),
        ("page_size=%00", "page_size", "Enter a whole number from 1 up."),
    ],
)
def test_nul_in_query_string(api, make_product, query, field, message):
    make_product()
    response = api.get(f"{PRODUCTS}?{query}")
    assert response.status_code == 400
    assert response.json() == {field: [message]}


def test_nul_in_ordering_and_page(api, make_product):
    make_product()
    response = api.get(f"{PRODUCTS}?ordering=%00")
    assert response.status_code == 400
    assert list(response.json()) == ["ordering"]
    response = api.get(f"{PRODUCTS}?page=%00")
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_invalid_utf8_in_query_string_is_harmless(api, make_product):
    make_product()
    response = api.get(f"{PRODUCTS}?search=%ff%fe")
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_nul_in_token_header_401(api, customer):
    api.credentials(HTTP_AUTHORIZATION="Token abc\x00def")
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Token", "Invalid token header. No credentials provided."),
        ("Token a b", "Invalid token header. Token string should not contain spaces."),
        ("Token " + "a" * 5000, "Invalid token."),
        ("Token ä", "Invalid token header. Token string should not contain invalid characters."),
        ("Bearer abc", "Authentication credentials were not provided."),  # not our scheme: anonymous
    ],
)
def test_malformed_token_header_401(api, customer, header, detail):
    api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize("cookie", ["abcdefghij\x00kl", "x" * 5000, "../../../etc/passwd", "é" * 10])
def test_odd_session_cookie_is_no_session(api, client, customer, cookie):
    api.cookies["sessionid"] = cookie
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert api.get(PRODUCTS).status_code == 200
    client.cookies["sessionid"] = cookie
    assert client.get("/").status_code == 200  # a page reads the session too


# --- overlong strings -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "length", "limit"), [("sku", 33, 32), ("name", 201, 200), ("name", 100_000, 200)]
)
def test_overlong_product_strings(staff_api, category, field, length, limit):
    response = staff_api.post(PRODUCTS, product_json(category, **{field: "x" * length}), format="json")
    assert response.status_code == 400
    assert response.json() == {field: [f"Ensure this field has no more than {limit} characters."]}


def test_overlong_login_email(api):
    response = api.post(LOGIN, {"email": "a" * 300, "password": "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"email": ["Ensure this field has no more than 254 characters."]}


def test_overlong_category_name(staff_api, db):
    response = staff_api.post(CATEGORIES, {"name": "n" * 121, "slug": "s"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"name": ["Ensure this field has no more than 120 characters."]}


def test_overlong_search(api, db):
    response = api.get(PRODUCTS, {"search": "s" * 5000})
    assert response.status_code == 400
    assert response.json() == {"search": ["Ensure this value has at most 200 characters (it has 5000)."]}


# --- query parameters -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ["bogus", "price,nope", "-", "user__password", "pk"])
def test_unknown_ordering_field_400(api, make_product, ordering):
    make_product()
    response = api.get(PRODUCTS, {"ordering": ordering})
    assert response.status_code == 400
    assert list(response.json()) == ["ordering"]
    assert response.json()["ordering"][0].startswith("Unknown ordering field.")


@pytest.mark.parametrize("page", ["-1", "0", "99999999999999999999", "1" * 5000, "1e400", "NaN", "Infinity"])
def test_bad_page_404(api, make_product, page):
    make_product()
    response = api.get(PRODUCTS, {"page": page})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


@pytest.mark.parametrize("size", ["-1", "0", "1e400", "NaN", "abc"])
def test_bad_page_size_400(api, make_product, size):
    make_product()
    response = api.get(PRODUCTS, {"page_size": size})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["Enter a whole number from 1 up."]}


def test_huge_page_size_capped(api, make_product):
    make_product()
    response = api.get(PRODUCTS, {"page_size": "99999999999999999999"})
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_price_filter_too_many_digits(api, db):
    response = api.get(PRODUCTS, {"min_price": "1" * 21})
    assert response.status_code == 400
    assert response.json() == {"min_price": ["Ensure that there are no more than 20 digits in total."]}


def test_unknown_query_parameters_ignored(api, make_product):
    product = make_product()
    response = api.get(PRODUCTS, {"colour": "red", "category__name": "x"})
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [product.pk]


# --- methods --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", LOGIN),
        ("PUT", LOGIN),
        ("DELETE", LOGIN),
        ("GET", REGISTER),
        ("PATCH", REGISTER),
        ("GET", "/api/accounts/logout/"),
        ("PUT", "/api/accounts/me/"),
        ("DELETE", "/api/accounts/me/"),
        ("POST", "/api/accounts/me/"),
        ("PUT", ADDRESSES),
        ("DELETE", ADDRESSES),
        ("POST", "{address}"),
        ("PUT", PRODUCTS),
        ("DELETE", PRODUCTS),
        ("POST", "{product}"),
        ("GET", "{product}stock/"),
        ("PUT", "{product}stock/"),
        ("PATCH", CATEGORIES),
        ("POST", "{category}"),
    ],
)
def test_wrong_method_405(customer, staff, client_for, make_product, category, method, path):
    from legacy_monolith.accounts.models import Address

    address = Address.objects.create(user=staff, full_name="S", line1="L", city="C", postal_code="1", country="DE")
    url = path.format(product=f"{PRODUCTS}{make_product().pk}/", category=f"{CATEGORIES}{category.pk}/",
                      address=f"{ADDRESSES}{address.pk}/")
    response = send(client_for(staff), method, url, "{}")
    assert response.status_code == 405
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}
    assert "Allow" in response


def test_options_describes_endpoint(api, db):
    response = api.options(PRODUCTS)
    assert response.status_code == 200
    assert response.json()["name"] == "Product List"


# --- exception handler ----------------------------------------------------------------------------------------------


def test_unexpected_error_is_json_500_with_request_id(api, db, monkeypatch):
    from legacy_monolith.catalog import selectors

    def boom(user):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(selectors, "product_visible_to", boom)
    response = api.get(PRODUCTS, HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "server_error", "request_id": "req-123"}
    assert response["X-Request-ID"] == "req-123"
    assert b"kaboom" not in response.content


def test_django_validation_error_becomes_400(staff_api, monkeypatch, category):
    from django.core.exceptions import ValidationError

    from legacy_monolith.catalog import services

    def invalid(**fields):
        raise ValidationError({"sku": ["Bad SKU from the model."]})

    monkeypatch.setattr(services, "product_create", invalid)
    response = staff_api.post(PRODUCTS, product_json(category), format="json")
    assert response.status_code == 400
    assert response.json() == {"sku": ["Bad SKU from the model."]}


def test_bare_protected_error_becomes_409(staff_api, monkeypatch, make_product):
    from django.db.models import ProtectedError

    from legacy_monolith.catalog import apis

    def protected(instance):
        raise ProtectedError("nope", set())

    monkeypatch.setattr(apis.services, "product_delete", protected)
    response = staff_api.delete(f"{PRODUCTS}{make_product().pk}/")
    assert response.status_code == 409
    assert response.json() == {"detail": "This object is still referenced and cannot be deleted.",
                               "code": "protected"}


def test_request_id_echoed_or_replaced(api, db):
    assert api.get(PRODUCTS, HTTP_X_REQUEST_ID="abc-1").headers["X-Request-ID"] == "abc-1"
    replaced = api.get(PRODUCTS, HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert len(replaced) == 32
    assert replaced.isalnum()


# --- health and schema ----------------------------------------------------------------------------------------------


def test_healthz(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": connection.vendor}


def test_healthz_head(client, db):
    assert client.head("/healthz").status_code == 200


def test_healthz_post_405(client, db):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_healthz_database_down_503(client, db, monkeypatch):
    from django.db import OperationalError
    from django.db.backends.utils import CursorWrapper

    def down(self, sql, params=None):
        raise OperationalError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "OperationalError"}


def test_openapi_schema(api, db):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Legacy shop API"
    paths = schema["paths"]
    for prefix in ("/api/accounts/", "/api/catalog/", "/api/cart/", "/api/orders/", "/api/shipping/"):
        assert any(path.startswith(prefix) for path in paths), prefix
    for path in ("/api/accounts/register/", "/api/accounts/login/", "/api/accounts/logout/", "/api/accounts/me/",
                 "/api/accounts/addresses/", "/api/accounts/addresses/{id}/", "/api/catalog/categories/",
                 "/api/catalog/categories/{id}/", "/api/catalog/products/", "/api/catalog/products/{id}/",
                 "/api/catalog/products/{id}/stock/"):
        assert path in paths, path
    product_list_params = {p["name"] for p in paths["/api/catalog/products/"]["get"]["parameters"]}
    assert {"category", "search", "min_price", "max_price", "in_stock", "ordering", "page",
            "page_size"} <= product_list_params
    in_stock = next(p for p in paths["/api/catalog/products/"]["get"]["parameters"] if p["name"] == "in_stock")
    assert in_stock["schema"]["type"] == "boolean"
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_openapi_schema_unknown_format_404(api, db):
    response = api.get("/api/schema/", {"format": "xml"})
    assert response.status_code == 404


def test_decimal_stays_exact(staff_api, category):
    response = staff_api.post(PRODUCTS, product_json(category, price="0.10"), format="json")
    assert response.status_code == 201
    assert Product.objects.get(sku="ERR-1").price == Decimal("0.10")
