"""The catalog API: the category tree, product CRUD, visibility and stock adjustments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.orders.models import Order, OrderLine

pytestmark = pytest.mark.django_db

CATEGORIES = "/api/catalog/categories/"
PRODUCTS = "/api/catalog/products/"

NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}
PRODUCT_404 = {"detail": "No Product matches the given query."}
CATEGORY_404 = {"detail": "No Category matches the given query."}


def product_body(category: Category, /, **overrides) -> dict:
    body = {"sku": "NEW-1", "name": "Chef's knife", "description": "Sharp.", "price": "49.90", "stock": 5,
            "category": category.pk}
    body.update(overrides)
    return body


@pytest.fixture
def tree(db) -> dict[str, Category]:
    """root > mid > leaf, plus an unrelated root."""
    root = Category.objects.create(name="Home", slug="home")
    mid = Category.objects.create(name="Bath", slug="bath", parent=root)
    leaf = Category.objects.create(name="Towels", slug="towels", parent=mid)
    other = Category.objects.create(name="Garden", slug="garden")
    return {"root": root, "mid": mid, "leaf": leaf, "other": other}


@pytest.fixture
def ordered_product(make_product, customer):
    product = make_product(sku="ORDERED")
    order = Order.objects.create(user=customer, total=Decimal("10.00"), ship_full_name="A", ship_line1="L",
                                 ship_city="C", ship_postal_code="1", ship_country="DE")
    OrderLine.objects.create(order=order, product=product, sku=product.sku, name=product.name,
                             unit_price=product.price, quantity=1)
    return product


# --- categories ---------------------------------------------------------------------------------------------------


def test_category_list_is_whole_tree_unpaginated(api, tree):
    response = api.get(CATEGORIES)
    assert response.status_code == 200
    assert response.json() == [
        {"id": tree["root"].pk, "name": "Home", "slug": "home", "parent": None},
        {"id": tree["mid"].pk, "name": "Bath", "slug": "bath", "parent": tree["root"].pk},
        {"id": tree["leaf"].pk, "name": "Towels", "slug": "towels", "parent": tree["mid"].pk},
        {"id": tree["other"].pk, "name": "Garden", "slug": "garden", "parent": None},
    ]


def test_category_retrieve(api, tree):
    response = api.get(f"{CATEGORIES}{tree['leaf'].pk}/")
    assert response.status_code == 200
    assert response.json() == {"id": tree["leaf"].pk, "name": "Towels", "slug": "towels", "parent": tree["mid"].pk}


def test_category_retrieve_missing(api, db):
    response = api.get(f"{CATEGORIES}987654/")
    assert response.status_code == 404
    assert response.json() == CATEGORY_404


def test_category_create_staff(staff, client_for, tree):
    response = client_for(staff).post(CATEGORIES, {"name": "Soap", "slug": "soap", "parent": tree["mid"].pk},
                                      format="json")
    assert response.status_code == 201
    created = Category.objects.get(slug="soap")
    assert response.json() == {"id": created.pk, "name": "Soap", "slug": "soap", "parent": tree["mid"].pk}
    assert created.parent == tree["mid"]


def test_category_create_root(staff, client_for, db):
    response = client_for(staff).post(CATEGORIES, {"name": "Toys", "slug": "toys"}, format="json")
    assert response.status_code == 201
    assert response.json()["parent"] is None


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_category_writes_anonymous_401(api, tree, method):
    url = CATEGORIES if method == "post" else f"{CATEGORIES}{tree['other'].pk}/"
    response = getattr(api, method)(url, {"name": "X", "slug": "x"}, format="json")
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert Category.objects.get(pk=tree["other"].pk).name == "Garden"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_category_writes_customer_403(customer, client_for, tree, method):
    url = CATEGORIES if method == "post" else f"{CATEGORIES}{tree['other'].pk}/"
    response = getattr(client_for(customer), method)(url, {"name": "X", "slug": "x"}, format="json")
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert Category.objects.count() == 4


def test_category_duplicate_slug(staff, client_for, tree):
    response = client_for(staff).post(CATEGORIES, {"name": "Again", "slug": "home"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"slug": ["category with this slug already exists."]}


def test_category_invalid_slug(staff, client_for, db):
    response = client_for(staff).post(CATEGORIES, {"name": "X", "slug": "not a slug!"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "slug": ['Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.']
    }


def test_category_unknown_parent(staff, client_for, db):
    response = client_for(staff).post(CATEGORIES, {"name": "X", "slug": "x", "parent": 424242}, format="json")
    assert response.status_code == 400
    assert response.json() == {"parent": ['Invalid pk "424242" - object does not exist.']}


def test_category_rename_keeps_parent(staff, client_for, tree):
    response = client_for(staff).patch(f"{CATEGORIES}{tree['leaf'].pk}/", {"name": "Bath towels"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"id": tree["leaf"].pk, "name": "Bath towels", "slug": "towels",
                               "parent": tree["mid"].pk}


def test_category_move_to_root(staff, client_for, tree):
    response = client_for(staff).patch(f"{CATEGORIES}{tree['mid'].pk}/", {"parent": None}, format="json")
    assert response.status_code == 200
    tree["mid"].refresh_from_db()
    assert tree["mid"].parent is None


def test_category_move_under_other_branch(staff, client_for, tree):
    response = client_for(staff).patch(f"{CATEGORIES}{tree['root'].pk}/", {"parent": tree["other"].pk},
                                       format="json")
    assert response.status_code == 200
    assert response.json()["parent"] == tree["other"].pk


@pytest.mark.parametrize("new_parent", ["root", "mid", "leaf"])
def test_category_cannot_move_under_itself_or_descendant(staff, client_for, tree, new_parent):
    response = client_for(staff).patch(f"{CATEGORIES}{tree['root'].pk}/", {"parent": tree[new_parent].pk},
                                       format="json")
    assert response.status_code == 400
    assert response.json() == {"parent": ["A category cannot be placed under itself or one of its children."]}
    tree["root"].refresh_from_db()
    assert tree["root"].parent is None


def test_category_put_cycle_refused(staff, client_for, tree):
    response = client_for(staff).put(f"{CATEGORIES}{tree['mid'].pk}/",
                                     {"name": "Bath", "slug": "bath", "parent": tree["leaf"].pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"parent": ["A category cannot be placed under itself or one of its children."]}


def test_category_delete_empty(staff, client_for, tree):
    response = client_for(staff).delete(f"{CATEGORIES}{tree['other'].pk}/")
    assert response.status_code == 204
    assert not Category.objects.filter(pk=tree["other"].pk).exists()


def test_category_delete_with_products_409(staff, client_for, tree, make_product):
    make_product(category=tree["other"])
    response = client_for(staff).delete(f"{CATEGORIES}{tree['other'].pk}/")
    assert response.status_code == 409
    assert response.json() == {"detail": "This category still has products or subcategories.", "code": "protected"}
    assert Category.objects.filter(pk=tree["other"].pk).exists()


def test_category_delete_with_children_409(staff, client_for, tree):
    response = client_for(staff).delete(f"{CATEGORIES}{tree['mid'].pk}/")
    assert response.status_code == 409
    assert response.json()["code"] == "protected"
    assert Category.objects.filter(pk=tree["mid"].pk).exists()


# --- products: reads ----------------------------------------------------------------------------------------------


def test_product_list_shape(api, make_product, category):
    product = make_product(description="desc", price=Decimal("12.50"), stock=3)
    response = api.get(PRODUCTS)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["next"] is None
    assert body["previous"] is None
    item = body["results"][0]
    assert item["id"] == product.pk
    assert item["sku"] == product.sku
    assert item["description"] == "desc"
    assert item["price"] == "12.50"
    assert item["stock"] == 3
    assert item["is_active"] is True
    assert item["category"] == category.pk
    assert set(item) == {"id", "sku", "name", "description", "price", "stock", "is_active", "category",
                         "created_at", "updated_at"}


def test_product_list_hides_inactive_from_customers(api, customer, client_for, make_product):
    visible = make_product()
    make_product(is_active=False)
    for client in (api, client_for(customer)):
        body = client.get(PRODUCTS).json()
        assert body["count"] == 1
        assert [p["id"] for p in body["results"]] == [visible.pk]


def test_product_list_shows_inactive_to_staff(staff, client_for, make_product):
    a, b = make_product(), make_product(is_active=False)
    body = client_for(staff).get(PRODUCTS).json()
    assert [p["id"] for p in body["results"]] == [a.pk, b.pk]


def test_product_detail(api, make_product):
    product = make_product(name="Paring knife")
    response = api.get(f"{PRODUCTS}{product.pk}/")
    assert response.status_code == 200
    assert response.json()["name"] == "Paring knife"
    assert response.json()["id"] == product.pk


def test_product_detail_inactive_404_for_non_staff(api, customer, client_for, make_product):
    product = make_product(is_active=False)
    for client in (api, client_for(customer)):
        response = client.get(f"{PRODUCTS}{product.pk}/")
        assert response.status_code == 404
        assert response.json() == PRODUCT_404


def test_product_detail_inactive_visible_to_staff(staff, client_for, make_product):
    product = make_product(is_active=False)
    response = client_for(staff).get(f"{PRODUCTS}{product.pk}/")
    assert response.status_code == 200
    assert response.json()["is_active"] is False


def test_product_detail_missing(api, db):
    response = api.get(f"{PRODUCTS}424242/")
    assert response.status_code == 404
    assert response.json() == PRODUCT_404


# --- products: writes ---------------------------------------------------------------------------------------------


def test_product_create_staff(staff, client_for, category):
    response = client_for(staff).post(PRODUCTS, product_body(category), format="json")
    assert response.status_code == 201
    body = response.json()
    product = Product.objects.get(sku="NEW-1")
    assert body["id"] == product.pk
    assert body["price"] == "49.90"
    assert body["stock"] == 5
    assert body["is_active"] is True
    assert product.price == Decimal("49.90")
    assert product.category == category


def test_product_create_stock_defaults_to_zero(staff, client_for, category):
    body = product_body(category)
    del body["stock"]
    del body["description"]
    response = client_for(staff).post(PRODUCTS, body, format="json")
    assert response.status_code == 201
    assert response.json()["stock"] == 0
    assert response.json()["description"] == ""


def test_product_create_anonymous_401(api, category):
    response = api.post(PRODUCTS, product_body(category), format="json")
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert not Product.objects.exists()


def test_product_create_customer_403(customer, client_for, category):
    response = client_for(customer).post(PRODUCTS, product_body(category), format="json")
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert not Product.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_product_update_delete_customer_403(customer, client_for, make_product, category, method):
    product = make_product(name="Original")
    response = getattr(client_for(customer), method)(f"{PRODUCTS}{product.pk}/", product_body(category),
                                                     format="json")
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    product.refresh_from_db()
    assert product.name == "Original"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_product_update_delete_anonymous_401(api, make_product, category, method):
    product = make_product(name="Original")
    response = getattr(api, method)(f"{PRODUCTS}{product.pk}/", product_body(category), format="json")
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED
    assert Product.objects.get(pk=product.pk).name == "Original"


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"price": "-0.01"}, {"price": ["Ensure this value is greater than or equal to 0.00."]}),
        ({"price": "123456789"}, {"price": ["Ensure that there are no more than 8 digits before the decimal point."]}),
        ({"price": "123456789.00"}, {"price": ["Ensure that there are no more than 10 digits in total."]}),
        ({"price": "1.005"}, {"price": ["Ensure that there are no more than 2 decimal places."]}),
        ({"price": "ten"}, {"price": ["A valid number is required."]}),
        ({"stock": -1}, {"stock": ["Ensure this value is greater than or equal to 0."]}),
        ({"stock": 2_147_483_648}, {"stock": ["Ensure this value is less than or equal to 2147483647."]}),
        ({"stock": 1.5}, {"stock": ["A valid integer is required."]}),
        ({"sku": "x" * 33}, {"sku": ["Ensure this field has no more than 32 characters."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"category": 424242}, {"category": ['Invalid pk "424242" - object does not exist.']}),
        ({"category": None}, {"category": ["This field may not be null."]}),
        ({"category": "abc"}, {"category": ["A valid integer is required."]}),
        ({"category": 1.5}, {"category": ["A valid integer is required."]}),
        ({"category": True}, {"category": ["A valid integer is required."]}),
        ({"is_active": "sometimes"}, {"is_active": ["Must be a valid boolean."]}),
    ],
)
def test_product_create_validation(staff, client_for, category, overrides, errors):
    response = client_for(staff).post(PRODUCTS, product_body(category, **overrides), format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert not Product.objects.exists()


def test_product_create_duplicate_sku(staff, client_for, make_product, category):
    make_product(sku="DUP")
    response = client_for(staff).post(PRODUCTS, product_body(category, sku="DUP"), format="json")
    assert response.status_code == 400
    assert response.json() == {"sku": ["product with this sku already exists."]}


def test_product_create_required_fields(staff, client_for, db):
    response = client_for(staff).post(PRODUCTS, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {name: ["This field is required."] for name in ("sku", "name", "price", "category")}


def test_product_patch(staff, client_for, make_product):
    product = make_product(price=Decimal("10.00"))
    before = product.updated_at
    response = client_for(staff).patch(f"{PRODUCTS}{product.pk}/", {"price": "8.50", "is_active": False},
                                       format="json")
    assert response.status_code == 200
    assert response.json()["price"] == "8.50"
    assert response.json()["is_active"] is False
    product.refresh_from_db()
    assert product.price == Decimal("8.50")
    assert product.is_active is False
    assert product.updated_at > before


def test_product_put(staff, client_for, make_product, tree):
    product = make_product()
    response = client_for(staff).put(f"{PRODUCTS}{product.pk}/", product_body(tree["leaf"], sku="RENAMED"),
                                     format="json")
    assert response.status_code == 200
    product.refresh_from_db()
    assert product.sku == "RENAMED"
    assert product.category == tree["leaf"]


def test_product_put_missing_fields(staff, client_for, make_product):
    product = make_product()
    response = client_for(staff).put(f"{PRODUCTS}{product.pk}/", {"name": "Only name"}, format="json")
    assert response.status_code == 400
    assert response.json() == {name: ["This field is required."] for name in ("sku", "price", "category")}


def test_product_patch_sku_to_existing(staff, client_for, make_product):
    make_product(sku="TAKEN")
    product = make_product()
    response = client_for(staff).patch(f"{PRODUCTS}{product.pk}/", {"sku": "TAKEN"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"sku": ["product with this sku already exists."]}


def test_product_update_inactive_by_staff(staff, client_for, make_product):
    product = make_product(is_active=False)
    response = client_for(staff).patch(f"{PRODUCTS}{product.pk}/", {"is_active": True}, format="json")
    assert response.status_code == 200
    assert Product.objects.get(pk=product.pk).is_active is True


def test_product_delete(staff, client_for, make_product):
    product = make_product()
    response = client_for(staff).delete(f"{PRODUCTS}{product.pk}/")
    assert response.status_code == 204
    assert not Product.objects.filter(pk=product.pk).exists()


def test_product_delete_referenced_by_order_409(staff, client_for, ordered_product):
    response = client_for(staff).delete(f"{PRODUCTS}{ordered_product.pk}/")
    assert response.status_code == 409
    assert response.json() == {"detail": "Orders reference this product; deactivate it instead of deleting it.",
                               "code": "protected"}
    assert Product.objects.filter(pk=ordered_product.pk).exists()


def test_product_delete_missing_404(staff, client_for, db):
    response = client_for(staff).delete(f"{PRODUCTS}424242/")
    assert response.status_code == 404
    assert response.json() == PRODUCT_404


# --- stock ----------------------------------------------------------------------------------------------------------


def stock_url(product: Product) -> str:
    return f"{PRODUCTS}{product.pk}/stock/"


def test_stock_add(staff, client_for, make_product):
    product = make_product(stock=10)
    response = client_for(staff).post(stock_url(product), {"delta": 5, "reason": "delivery"}, format="json")
    assert response.status_code == 200
    assert response.json()["stock"] == 15
    assert response.json()["id"] == product.pk
    assert Product.objects.get(pk=product.pk).stock == 15


def test_stock_remove_to_exactly_zero(staff, client_for, make_product):
    product = make_product(stock=3)
    response = client_for(staff).post(stock_url(product), {"delta": -3}, format="json")
    assert response.status_code == 200
    assert response.json()["stock"] == 0


def test_stock_below_zero_409(staff, client_for, make_product):
    product = make_product(sku="LOW", stock=2)
    response = client_for(staff).post(stock_url(product), {"delta": -3, "reason": "breakage"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "Stock of LOW is 2; it cannot go down by 3.", "code": "out_of_stock",
                               "available": 2}
    assert Product.objects.get(pk=product.pk).stock == 2


def test_stock_delta_zero_400(staff, client_for, make_product):
    product = make_product(stock=2)
    response = client_for(staff).post(stock_url(product), {"delta": 0}, format="json")
    assert response.status_code == 400
    assert response.json() == {"delta": ["A stock adjustment of 0 changes nothing."]}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"delta": ["This field is required."]}),
        ({"delta": "many"}, {"delta": ["A valid integer is required."]}),
        ({"delta": 1.5}, {"delta": ["A valid integer is required."]}),
        ({"delta": 1_000_001}, {"delta": ["Ensure this value is less than or equal to 1000000."]}),
        ({"delta": -1_000_001}, {"delta": ["Ensure this value is greater than or equal to -1000000."]}),
        ({"delta": 1, "reason": "r" * 201}, {"reason": ["Ensure this field has no more than 200 characters."]}),
    ],
)
def test_stock_validation(staff, client_for, make_product, body, errors):
    product = make_product(stock=2)
    response = client_for(staff).post(stock_url(product), body, format="json")
    assert response.status_code == 400
    assert response.json() == errors
    assert Product.objects.get(pk=product.pk).stock == 2


def test_stock_anonymous_401(api, make_product):
    product = make_product(stock=2)
    response = api.post(stock_url(product), {"delta": 1}, format="json")
    assert response.status_code == 401
    assert response.json() == NOT_AUTHENTICATED


def test_stock_customer_403(customer, client_for, make_product):
    product = make_product(stock=2)
    response = client_for(customer).post(stock_url(product), {"delta": 1}, format="json")
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert Product.objects.get(pk=product.pk).stock == 2


def test_stock_inactive_product_by_staff(staff, client_for, make_product):
    product = make_product(stock=2, is_active=False)
    response = client_for(staff).post(stock_url(product), {"delta": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["stock"] == 3


def test_stock_missing_product_404(staff, client_for, db):
    response = client_for(staff).post(f"{PRODUCTS}424242/stock/", {"delta": 1}, format="json")
    assert response.status_code == 404
    assert response.json() == PRODUCT_404


def test_stock_get_405(staff, client_for, make_product):
    response = client_for(staff).get(stock_url(make_product()))
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "GET" not allowed.'}


def test_staff_flag_comes_from_database(client_for, db, make_product):
    """A user promoted after getting a token gains the rights on the next request."""
    user = User.objects.create_user(username="late@example.com", email="late@example.com", password="x-pass-12345")
    client = client_for(user)
    product = make_product(stock=1)
    assert client.post(stock_url(product), {"delta": 1}, format="json").status_code == 403
    user.is_staff = True
    user.save()
    assert client.post(stock_url(product), {"delta": 1}, format="json").status_code == 200
