"""Product list filters, ordering and pagination."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from legacy_monolith.catalog.models import Category, Product

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/catalog/products/"
ORDERING_ERROR = {"ordering": ["Unknown ordering field. Use a comma-separated list of: id, name, price, stock, "
                               "created_at (prefix - for descending)."]}


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def tree(db) -> dict[str, Category]:
    root = Category.objects.create(name="Home", slug="home")
    mid = Category.objects.create(name="Bath", slug="bath", parent=root)
    leaf = Category.objects.create(name="Towels", slug="towels", parent=mid)
    other = Category.objects.create(name="Garden", slug="garden")
    return {"root": root, "mid": mid, "leaf": leaf, "other": other}


# --- category -------------------------------------------------------------------------------------------------------


def test_category_includes_subcategories(api, tree, make_product):
    at_root = make_product(category=tree["root"])
    at_mid = make_product(category=tree["mid"])
    at_leaf = make_product(category=tree["leaf"])
    make_product(category=tree["other"])
    assert ids(api.get(PRODUCTS, {"category": tree["root"].pk})) == [at_root.pk, at_mid.pk, at_leaf.pk]
    assert ids(api.get(PRODUCTS, {"category": tree["mid"].pk})) == [at_mid.pk, at_leaf.pk]
    assert ids(api.get(PRODUCTS, {"category": tree["leaf"].pk})) == [at_leaf.pk]


def test_category_unknown_is_empty(api, make_product):
    make_product()
    response = api.get(PRODUCTS, {"category": 424242})
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "Enter a whole number."),
        ("1.5", "Enter a whole number."),
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-3", "Ensure this value is greater than or equal to 1."),
        ("99999999999999999999", "Ensure this value is less than or equal to 9223372036854775807."),
    ],
)
def test_category_bad_values(api, db, value, message):
    response = api.get(PRODUCTS, {"category": value})
    assert response.status_code == 400
    assert response.json() == {"category": [message]}


# --- search ---------------------------------------------------------------------------------------------------------


def test_search_matches_name_sku_description_case_insensitive(api, make_product):
    by_name = make_product(name="Santoku Knife")
    by_sku = make_product(sku="SANTOKU-2")
    by_description = make_product(description="A santoku for small hands")
    make_product(name="Bread knife")
    assert ids(api.get(PRODUCTS, {"search": "santoku"})) == [by_name.pk, by_sku.pk, by_description.pk]
    assert ids(api.get(PRODUCTS, {"search": "  SANTOKU "})) == [by_name.pk, by_sku.pk, by_description.pk]


def test_search_blank_is_no_filter(api, make_product):
    a, b = make_product(), make_product()
    assert ids(api.get(PRODUCTS, {"search": "   "})) == [a.pk, b.pk]


def test_search_wildcards_are_literal(api, make_product):
    make_product(name="Plain")
    percent = make_product(name="100% steel")
    assert ids(api.get(PRODUCTS, {"search": "%"})) == [percent.pk]
    assert ids(api.get(PRODUCTS, {"search": "_"})) == []


def test_search_too_long(api, db):
    response = api.get(PRODUCTS, {"search": "x" * 201})
    assert response.status_code == 400
    assert response.json() == {"search": ["Ensure this value has at most 200 characters (it has 201)."]}


def test_search_unicode(api, make_product):
    match = make_product(name="Crème brûlée torch")
    assert ids(api.get(PRODUCTS, {"search": "brûlée"})) == [match.pk]


# --- price ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def priced(make_product) -> dict[str, Product]:
    return {
        "cheap": make_product(price=Decimal("5.00")),
        "mid": make_product(price=Decimal("10.00")),
        "dear": make_product(price=Decimal("99.99")),
    }


def test_min_price_inclusive(api, priced):
    assert ids(api.get(PRODUCTS, {"min_price": "10"})) == [priced["mid"].pk, priced["dear"].pk]


def test_max_price_inclusive(api, priced):
    assert ids(api.get(PRODUCTS, {"max_price": "10.00"})) == [priced["cheap"].pk, priced["mid"].pk]


def test_price_range(api, priced):
    assert ids(api.get(PRODUCTS, {"min_price": "5.01", "max_price": "99.98"})) == [priced["mid"].pk]


def test_price_range_inverted_is_empty(api, priced):
    assert ids(api.get(PRODUCTS, {"min_price": "50", "max_price": "10"})) == []


def test_price_beyond_column_precision(api, priced):
    assert ids(api.get(PRODUCTS, {"min_price": "99999999999999999999"})) == []
    assert ids(api.get(PRODUCTS, {"max_price": "99999999999999999999"})) == [p.pk for p in priced.values()]


def test_price_with_many_decimals(api, priced):
    assert ids(api.get(PRODUCTS, {"min_price": "9.999999"})) == [priced["mid"].pk, priced["dear"].pk]


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("cheap", ["Enter a number."]),
        ("-1", ["Ensure this value is greater than or equal to 0."]),
        ("NaN", ["Enter a number."]),
        ("Infinity", ["Enter a number."]),
        ("-Infinity", ["Enter a number."]),
        ("1e400", ["Ensure that there are no more than 20 digits in total.",
                   "Ensure this value is less than or equal to 1e+50."]),
        ("1e-400", ["Ensure that there are no more than 20 digits in total."]),
        ("123456789012345678901", ["Ensure that there are no more than 20 digits in total."]),
    ],
)
@pytest.mark.parametrize("param", ["min_price", "max_price"])
def test_price_bad_values(api, db, param, value, messages):
    response = api.get(PRODUCTS, {param: value})
    assert response.status_code == 400
    assert response.json() == {param: messages}


# --- in_stock -------------------------------------------------------------------------------------------------------


@pytest.fixture
def stocked(make_product) -> dict[str, Product]:
    return {"none": make_product(stock=0), "some": make_product(stock=1), "lots": make_product(stock=500)}


@pytest.mark.parametrize("value", ["true", "True", "1", "TRUE"])
def test_in_stock_true(api, stocked, value):
    assert ids(api.get(PRODUCTS, {"in_stock": value})) == [stocked["some"].pk, stocked["lots"].pk]


@pytest.mark.parametrize("value", ["false", "False", "0"])
def test_in_stock_false(api, stocked, value):
    assert ids(api.get(PRODUCTS, {"in_stock": value})) == [stocked["none"].pk]


def test_in_stock_empty_is_no_filter(api, stocked):
    assert ids(api.get(PRODUCTS, {"in_stock": ""})) == [p.pk for p in stocked.values()]


@pytest.mark.parametrize("value", ["maybe", "yes", "2", "\x00"])
def test_in_stock_bad_value(api, stocked, value):
    response = api.get(PRODUCTS, {"in_stock": value})
    assert response.status_code == 400
    assert response.json() == {"in_stock": ["Use true or false."]}


# --- combined -------------------------------------------------------------------------------------------------------


def test_filters_combine(api, tree, make_product):
    match = make_product(category=tree["leaf"], name="Blue towel", price=Decimal("20.00"), stock=4)
    make_product(category=tree["leaf"], name="Blue towel XL", price=Decimal("20.00"), stock=0)
    make_product(category=tree["leaf"], name="Red towel", price=Decimal("20.00"), stock=4)
    make_product(category=tree["other"], name="Blue towel", price=Decimal("20.00"), stock=4)
    make_product(category=tree["leaf"], name="Blue towel cheap", price=Decimal("2.00"), stock=4)
    response = api.get(PRODUCTS, {"category": tree["root"].pk, "search": "blue", "min_price": "10",
                                  "max_price": "30", "in_stock": "true"})
    assert ids(response) == [match.pk]
    assert response.json()["count"] == 1


def test_inactive_never_listed_by_filters_for_customers(api, make_product):
    make_product(name="Hidden", is_active=False)
    assert ids(api.get(PRODUCTS, {"search": "hidden"})) == []


# --- ordering -------------------------------------------------------------------------------------------------------


@pytest.fixture
def assorted(make_product) -> list[Product]:
    now = timezone.now()
    return [
        make_product(name="Delta", price=Decimal("20.00"), stock=5, created_at=now - timedelta(days=1)),
        make_product(name="alpha", price=Decimal("10.00"), stock=7, created_at=now - timedelta(days=3)),
        make_product(name="Charlie", price=Decimal("20.00"), stock=5, created_at=now - timedelta(days=2)),
        make_product(name="Bravo", price=Decimal("5.00"), stock=1, created_at=now),
    ]


def test_default_ordering_is_id(api, assorted):
    assert ids(api.get(PRODUCTS)) == [p.pk for p in assorted]


@pytest.mark.parametrize(
    ("ordering", "order"),
    [
        ("price", [3, 1, 0, 2]),   # ties (20.00) broken by id
        ("-price", [0, 2, 1, 3]),  # ties still ascending by id
        ("created_at", [1, 2, 0, 3]),
        ("-created_at", [3, 0, 2, 1]),
        ("id", [0, 1, 2, 3]),
        ("-id", [3, 2, 1, 0]),
        ("stock", [3, 0, 2, 1]),
        ("-stock", [1, 0, 2, 3]),
        ("stock,-price", [3, 0, 2, 1]),
        ("price,-id", [3, 1, 2, 0]),
        (" price , ", [3, 1, 0, 2]),
        ("", [0, 1, 2, 3]),
    ],
)
def test_ordering(api, assorted, ordering, order):
    assert ids(api.get(PRODUCTS, {"ordering": ordering})) == [assorted[i].pk for i in order]


def test_ordering_by_name(api, assorted):
    names = [item["name"] for item in api.get(PRODUCTS, {"ordering": "name"}).json()["results"]]
    assert names == sorted(names)  # the database's collation decides where "alpha" goes; the order is still total
    reverse = [item["name"] for item in api.get(PRODUCTS, {"ordering": "-name"}).json()["results"]]
    assert reverse == names[::-1]


@pytest.mark.parametrize(
    "ordering", ["bogus", "price,bogus", "--price", "category__name", "description", "sku", "\x00", "price\x00"]
)
def test_ordering_unknown_field_400(api, assorted, ordering):
    response = api.get(PRODUCTS, {"ordering": ordering})
    assert response.status_code == 400
    assert response.json() == ORDERING_ERROR


def test_ties_never_overlap_between_pages(api, make_product):
    made = [make_product(price=Decimal("7.00")) for _ in range(7)]
    seen = []
    for page in (1, 2, 3):
        seen += ids(api.get(PRODUCTS, {"ordering": "-price", "page_size": 3, "page": page}))
    assert seen == [p.pk for p in made]


# --- pagination -----------------------------------------------------------------------------------------------------


@pytest.fixture
def many(category) -> list[Product]:
    now = timezone.now()
    Product.objects.bulk_create(
        Product(sku=f"MANY-{n:04d}", name=f"Many {n}", price=Decimal("1.00"), stock=1, category=category,
                created_at=now, updated_at=now)
        for n in range(105)
    )
    return list(Product.objects.order_by("id"))


def test_default_page_size_20(api, many):
    body = api.get(PRODUCTS).json()
    assert body["count"] == 105
    assert len(body["results"]) == 20
    assert body["previous"] is None
    assert body["next"] == "http://testserver/api/catalog/products/?page=2"


def test_page_and_page_size(api, many):
    response = api.get(PRODUCTS, {"page": 3, "page_size": 10})
    assert ids(response) == [p.pk for p in many[20:30]]
    body = response.json()
    assert body["next"] == "http://testserver/api/catalog/products/?page=4&page_size=10"
    assert body["previous"] == "http://testserver/api/catalog/products/?page=2&page_size=10"


def test_last_page(api, many):
    body = api.get(PRODUCTS, {"page": "last", "page_size": 50}).json()
    assert [item["id"] for item in body["results"]] == [p.pk for p in many[100:]]
    assert body["next"] is None


@pytest.mark.parametrize("size", ["101", "1000", "9" * 30, "9" * 5000])
def test_page_size_capped_at_100(api, many, size):
    response = api.get(PRODUCTS, {"page_size": size})
    assert ids(response) == [p.pk for p in many[:100]]


@pytest.mark.parametrize("size", ["0", "-1", "-100", "ten", "1.5", "1e3", " ", "\x00", "１０"])
def test_page_size_invalid_400(api, many, size):
    response = api.get(PRODUCTS, {"page_size": size})
    assert response.status_code == 400
    assert response.json() == {"page_size": ["Enter a whole number from 1 up."]}


def test_page_size_empty_is_default(api, many):
    assert len(ids(api.get(PRODUCTS, {"page_size": ""}))) == 20


@pytest.mark.parametrize("page", ["0", "-1", "7", "99999999999999999999", "abc", "1.5", "1e400", "NaN", "\x00"])
def test_page_invalid_404(api, many, page):
    response = api.get(PRODUCTS, {"page": page})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_page_one_of_empty_list(api, db):
    response = api.get(PRODUCTS, {"page": 1})
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
