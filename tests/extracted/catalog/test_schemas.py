"""Rendering and validation, unit by unit, against what the monolith's DRF/django-filter code answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from extracted.catalog.exceptions import BadRequest, ParseError, UnsupportedMediaType, ValidationFailed
from extracted.catalog.filters import product_query
from extracted.catalog.multipart import UploadedFile
from extracted.catalog.pagination import page_link, page_number
from extracted.catalog.parsers import FormData, parse_body
from extracted.catalog.rendering import dump, render_datetime, render_price
from extracted.catalog.validation import Lookups, validate_category, validate_product, validate_stock_adjustment


class FakeLookups(Lookups):
    def __init__(self, skus: set[str] = frozenset(), slugs: set[str] = frozenset(), cats: set[int] = {1, 2}) -> None:  # noqa: B006
        self.skus, self.slugs, self.cats = skus, slugs, cats

    def sku_taken(self, sku: str) -> bool:
        return sku in self.skus

    def slug_taken(self, slug: str) -> bool:
        return slug in self.slugs

    def category_exists(self, category_id: int) -> bool:
        return category_id in self.cats


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("12.5"), "12.50"), (Decimal("0"), "0.00"), (10, "10.00"), (10.1, "10.10"), (99999999.99, "99999999.99"),
    (Decimal("-0.00"), "-0.00"), (0.07, "0.07"),
])
def test_render_price(value, text):
    assert render_price(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
    (datetime(2024, 1, 2, 3, 4, 5, 120, tzinfo=UTC), "2024-01-02T03:04:05.000120Z"),
    (datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), "2024-01-02T03:04:05Z"),
    ("2024-01-02 03:04:05", "2024-01-02T03:04:05Z"),  # SQLite text as Django writes it
    ("2024-01-02 03:04:05.500000", "2024-01-02T03:04:05.500000Z"),
    (None, None),
])
def test_render_datetime(value, text):
    assert render_datetime(value) == text


def test_dump_is_compact_utf8_and_escapes_line_separators():
    assert dump({"a": "é\u2028", "b": [1, None]}) == '{"a":"é\\u2028","b":[1,null]}'.encode()


@pytest.mark.parametrize(("body", "message"), [
    (b'{"a": ', "JSON parse error - Expecting value: line 1 column 7 (char 6)"),
    (b'{"price": NaN}', "JSON parse error - Out of range float values are not JSON compliant: 'NaN'"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON parse error - nested too deeply."),
])
def test_parse_body_errors(body, message):
    with pytest.raises(ParseError) as info:
        parse_body(body, "application/json")
    assert info.value.detail == message


def test_parse_body_empty_and_media_types():
    assert parse_body(b"", "application/json") == {}
    assert parse_body(b"", None) == {}
    # Like DRF: no Content-Length, no body at all; a form media type gives (empty) HTML input.
    assert parse_body(b'{"a": 1}', "application/json", length=0) == {}
    assert isinstance(parse_body(b"", "application/x-www-form-urlencoded"), FormData)
    assert isinstance(parse_body(b"", "multipart/form-data; boundary=x"), FormData)
    assert parse_body(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert parse_body(b'{"a": 1}', "*/*") == {"a": 1}  # DRF's first parser that matches: JSON
    assert parse_body(b"a=1&b=", "application/x-www-form-urlencoded") == {"a": "1", "b": ""}
    with pytest.raises(UnsupportedMediaType) as info:
        parse_body(b"x", "text/plain")
    assert info.value.detail == 'Unsupported media type "text/plain" in request.'
    # A body without a Content-Type is a 415 in the monolith (it used to be an empty body here).
    with pytest.raises(UnsupportedMediaType) as info:
        parse_body(b'{"a": 1}', None)
    assert info.value.detail == 'Unsupported media type "" in request.'
    with pytest.raises(UnsupportedMediaType):
        parse_body(b'{"a": 1}', "application/json; x=" + "y" * 300)  # DRF refuses media types over 256 chars


def test_parse_body_too_big_is_400_after_the_media_type():
    with pytest.raises(UnsupportedMediaType):
        parse_body(b"", "text/plain", length=2_000_000, too_big=True)
    with pytest.raises(BadRequest):
        parse_body(b"", "application/json", length=2_000_000, too_big=True)


MULTIPART = "multipart/form-data; boundary=zz"


def _part(name: str, value: bytes, extra: bytes = b"") -> bytes:
    head = b'--zz\r\nContent-Disposition: form-data; name="' + name.encode() + b'"' + extra
    return head + b"\r\n\r\n" + value + b"\r\n"


def test_multipart_fields_and_files_as_drf_sees_them():
    body = _part("price", b"19.99") + _part("name", b"first") + _part("name", b"second") + \
        _part("sku", b"content", b'; filename="../dir/A-1.txt"') + b"--zz--\r\n"
    data = parse_body(body, MULTIPART)
    assert isinstance(data, FormData)
    assert data["price"] == "19.99" and data["name"] == "second"  # the last value of a name
    assert isinstance(data["sku"], UploadedFile) and str(data["sku"]) == "A-1.txt"  # a file: its clean name
    # A file part whose body never ends (no next boundary) is dropped, as Django drops it.
    assert "sku" not in parse_body(_part("sku", b"content", b'; filename="x"'), MULTIPART)
    # base64 fields are decoded; undecodable ones kept as they came
    encoded = b'--zz\r\nContent-Disposition: form-data; name="price"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    assert parse_body(encoded + b"Mi41\r\n--zz--\r\n", MULTIPART)["price"] == "2.5"
    assert parse_body(encoded + b"Mi4\r\n--zz--\r\n", MULTIPART)["price"] == "Mi4"
    # charset of the request for the field values
    assert parse_body(_part("name", b"\xe9") + b"--zz--", MULTIPART + "; charset=latin-1")["name"] == "é"
    assert parse_body(b"garbage", MULTIPART) == {}


@pytest.mark.parametrize(("content_type", "body", "detail"), [
    ("multipart/form-data", b"x", "Multipart form parse error - Invalid boundary in multipart: None"),
    ("multipart/form-data; boundary=" + "b" * 202, b"x",
     "Multipart form parse error - Invalid boundary in multipart: " + "b" * 202),
    (MULTIPART, b'--zz\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n'
     b"Content-Transfer-Encoding: base64\r\n\r\nab!\r\n--zz--\r\n",
     "Multipart form parse error - Could not decode base64 data."),
    (MULTIPART, b"--zz\r\n" + b"X: " + b"y" * 2000 + b"\r\n\r\nv\r\n--zz--",
     "Multipart form parse error - Request max total header size exceeded."),
])
def test_multipart_parse_errors(content_type, body, detail):
    with pytest.raises(ParseError) as info:
        parse_body(body, content_type)
    assert info.value.detail == detail


def test_multipart_limits_are_django_s():
    many = b"".join(_part(f"f{i}", b"v") for i in range(1003)) + b"--zz--\r\n"
    with pytest.raises(BadRequest):
        parse_body(many, MULTIPART)
    files = b"".join(_part(f"f{i}", b"v", b'; filename="a"') for i in range(101)) + b"--zz--\r\n"
    with pytest.raises(BadRequest):
        parse_body(files, MULTIPART)


def errors_of(fn, *args, **kwargs):
    with pytest.raises(ValidationFailed) as info:
        fn(*args, **kwargs)
    return info.value.errors


BASE = {"sku": "N-1", "name": "Knife", "price": "49.90", "category": 1}


@pytest.mark.parametrize(("overrides", "errors"), [
    ({"price": "-0.01"}, {"price": ["Ensure this value is greater than or equal to 0.00."]}),
    ({"price": "123456789"}, {"price": ["Ensure that there are no more than 8 digits before the decimal point."]}),
    ({"price": "1.005"}, {"price": ["Ensure that there are no more than 2 decimal places."]}),
    ({"price": "1e-400"}, {"price": ["Ensure that there are no more than 10 digits in total."]}),
    ({"price": float("inf")}, {"price": ["A valid number is required."]}),
    ({"price": "9" * 2000}, {"price": ["String value too large."]}),
    ({"stock": 1e10}, {"stock": ["Ensure this value is less than or equal to 2147483647."]}),
    ({"stock": 1.5}, {"stock": ["A valid integer is required."]}),
    ({"sku": "x" * 33}, {"sku": ["Ensure this field has no more than 32 characters."]}),
    ({"sku": "TAKEN"}, {"sku": ["product with this sku already exists."]}),
    ({"sku": "a\x00b"}, {"sku": ["Null characters are not allowed."]}),
    ({"name": "Kn\ud800ife"}, {"name": ["Surrogate characters are not allowed: U+D800."]}),
    ({"name": "  "}, {"name": ["This field may not be blank."]}),
    ({"category": 424242}, {"category": ['Invalid pk "424242" - object does not exist.']}),
    ({"category": 99999999999999999999}, {"category": ['Invalid pk "99999999999999999999" - object does not exist.']}),
    ({"category": True}, {"category": ["A valid integer is required."]}),
    ({"category": None}, {"category": ["This field may not be null."]}),
    ({"is_active": "sometimes"}, {"is_active": ["Must be a valid boolean."]}),
])
def test_product_validation(overrides, errors):
    assert errors_of(validate_product, {**BASE, **overrides}, FakeLookups(skus={"TAKEN"}), partial=False) == errors


def test_product_required_fields_in_order():
    assert list(errors_of(validate_product, {}, FakeLookups(), partial=False)) == ["sku", "name", "price", "category"]


def test_product_valid_values():
    values = validate_product({**BASE, "category": "1.0", "price": "1E+1", "is_active": "NO"}, FakeLookups(),
                              partial=False)
    assert values == {"sku": "N-1", "name": "Knife", "price": Decimal("10.00"), "is_active": False, "category_id": 1}
    assert validate_product({}, FakeLookups(), partial=True) == {}


@pytest.mark.parametrize(("raw", "message"), [
    (None, "No data provided"), ([], "Invalid data. Expected a dictionary, but got list."),
    ("x", "Invalid data. Expected a dictionary, but got str."),
])
def test_body_not_an_object(raw, message):
    assert errors_of(validate_product, raw, FakeLookups(), partial=False) == {"non_field_errors": [message]}


def test_category_validation():
    assert errors_of(validate_category, {"name": "X", "slug": "not a slug!"}, FakeLookups(), partial=False) == {
        "slug": ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.']}
    assert validate_category({"name": "X", "slug": "x", "parent": ""}, FakeLookups(), partial=False) == {
        "name": "X", "slug": "x", "parent_id": None}


def test_stock_adjustment_validation():
    assert validate_stock_adjustment({"delta": "5"}) == (5, None)
    assert errors_of(validate_stock_adjustment, {"delta": 0}) == {"delta": ["A stock adjustment of 0 changes nothing."]}
    assert errors_of(validate_stock_adjustment, {"delta": 1, "reason": "r" * 201}) == {
        "reason": ["Ensure this field has no more than 200 characters."]}


@pytest.mark.parametrize(("params", "errors"), [
    ({"category": "abc"}, {"category": ["Enter a whole number."]}),
    ({"category": "0"}, {"category": ["Ensure this value is greater than or equal to 1."]}),
    ({"min_price": "1e400"}, {"min_price": ["Ensure that there are no more than 20 digits in total.",
                                            "Ensure this value is less than or equal to 1e+50."]}),
    ({"max_price": "NaN"}, {"max_price": ["Enter a number."]}),
    ({"search": "x" * 201}, {"search": ["Ensure this value has at most 200 characters (it has 201)."]}),
    ({"in_stock": "yes"}, {"in_stock": ["Use true or false."]}),
    ({"ordering": "price,bogus"}, {"ordering": [
        "Unknown ordering field. Use a comma-separated list of: id, name, price, stock, created_at "
        "(prefix - for descending)."]}),
    ({"page_size": "１０"}, {"page_size": ["Enter a whole number from 1 up."]}),
    ({"category": "x", "in_stock": "x", "ordering": "x"}, {"category": ["Enter a whole number."],
                                                             "in_stock": ["Use true or false."]}),
])
def test_product_query_errors(params, errors):
    assert errors_of(product_query, params) == errors


def test_product_query_values():
    query = product_query({"category": "2.0", "search": "  knife ", "in_stock": "TRUE", "ordering": " price , ",
                           "page_size": "9" * 50})
    assert (query.category, query.search, query.in_stock, query.ordering, query.page_size) == (
        2, "knife", True, ("price", "id"), 100)
    assert product_query({"ordering": "-id,name"}).ordering == ("-id", "name")


def test_page_number_and_links():
    assert page_number("last", 45, 20) == 3
    assert page_number("4", 45, 20) is None
    assert page_number("1", 0, 20) == 1
    base = "http://testserver/api/catalog/products/"
    assert page_link(base, "search=a+b&page=1&a=2", 2) == base + "?a=2&page=2&search=a+b"
    assert page_link(base, "page=2", None) == base
