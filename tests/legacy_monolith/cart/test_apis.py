"""Cart API: /api/cart/ and /api/cart/items/, for users (token) and anonymous visitors (session)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.cart.selectors import SESSION_KEY
from tests.conftest import PASSWORD

CART = "/api/cart/"
ITEMS = "/api/cart/items/"

pytestmark = pytest.mark.django_db


def item_url(item_id: int) -> str:
    return f"{ITEMS}{item_id}/"


@pytest.fixture
def alice(client_for, customer) -> APIClient:
    return client_for(customer)


@pytest.fixture
def bob(client_for, other_customer) -> APIClient:
    return client_for(other_customer)


def lines(user) -> list[tuple[int, int]]:
    return list(CartItem.objects.filter(cart__user=user).order_by("id").values_list("product_id", "quantity"))


# --- reading and adding -----------------------------------------------------------------------------------


def test_empty_cart_for_user_without_one_creates_nothing(alice):
    response = alice.get(CART)
    assert response.status_code == 200
    assert response.json() == {"id": None, "items": [], "item_count": 0, "total": "0.00"}
    assert Cart.objects.count() == 0


def test_add_item_returns_201_and_full_cart(alice, customer, make_product):
    product = make_product(price=Decimal("12.50"), stock=5)
    response = alice.post(ITEMS, {"product": product.pk, "quantity": 2}, format="json")
    assert response.status_code == 201
    body = response.json()
    cart = Cart.objects.get(user=customer)
    item = CartItem.objects.get(cart=cart)
    assert body == {
        "id": cart.pk,
        "items": [
            {
                "id": item.pk,
                "product": {"id": product.pk, "sku": product.sku, "name": product.name, "price": "12.50"},
                "quantity": 2,
                "line_total": "25.00",
            }
        ],
        "item_count": 2,
        "total": "25.00",
    }
    # Adding to the cart never touches stock.
    product.refresh_from_db()
    assert product.stock == 5


def test_quantity_defaults_to_one(alice, customer, make_product):
    product = make_product()
    assert alice.post(ITEMS, {"product": product.pk}, format="json").status_code == 201
    assert lines(customer) == [(product.pk, 1)]


def test_repeated_add_sums_into_one_line(alice, customer, make_product):
    product = make_product(stock=10)
    assert alice.post(ITEMS, {"product": product.pk, "quantity": 2}, format="json").status_code == 201
    response = alice.post(ITEMS, {"product": product.pk, "quantity": 3}, format="json")
    assert response.status_code == 201
    assert lines(customer) == [(product.pk, 5)]
    assert response.json()["item_count"] == 5
    assert len(response.json()["items"]) == 1


def test_several_products_total_and_item_count(alice, make_product):
    a = make_product(price=Decimal("1.10"))
    b = make_product(price=Decimal("2.25"))
    alice.post(ITEMS, {"product": a.pk, "quantity": 3}, format="json")
    body = alice.post(ITEMS, {"product": b.pk, "quantity": 2}, format="json").json()
    assert [i["product"]["id"] for i in body["items"]] == [a.pk, b.pk]
    assert body["item_count"] == 5
    assert body["total"] == "7.80"
    assert alice.get(CART).json() == body


def test_totals_follow_current_prices(alice, make_product):
    product = make_product(price=Decimal("10.00"))
    alice.post(ITEMS, {"product": product.pk, "quantity": 3}, format="json")
    product.price = Decimal("7.15")
    product.save()
    body = alice.get(CART).json()
    assert body["items"][0]["product"]["price"] == "7.15"
    assert body["items"][0]["line_total"] == "21.45"
    assert body["total"] == "21.45"


def test_more_than_stock_is_409_out_of_stock(alice, customer, make_product):
    product = make_product(stock=2)
    response = alice.post(ITEMS, {"product": product.pk, "quantity": 3}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "out_of_stock"
    assert body["items"] == [{"product": product.pk, "sku": product.sku, "requested": 3, "available": 2}]
    assert lines(customer) == []


def test_repeat_add_beyond_stock_is_409_and_keeps_line(alice, customer, make_product):
    product = make_product(stock=4)
    alice.post(ITEMS, {"product": product.pk, "quantity": 3}, format="json")
    response = alice.post(ITEMS, {"product": product.pk, "quantity": 2}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"
    assert response.json()["items"][0]["requested"] == 5
    assert lines(customer) == [(product.pk, 3)]


def test_exactly_the_stock_is_allowed(alice, customer, make_product):
    product = make_product(stock=3)
    assert alice.post(ITEMS, {"product": product.pk, "quantity": 3}, format="json").status_code == 201
    assert lines(customer) == [(product.pk, 3)]


def test_inactive_product_is_400(alice, customer, make_product):
    product = make_product(is_active=False)
    response = alice.post(ITEMS, {"product": product.pk, "quantity": 1}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["product"]
    assert lines(customer) == []


def test_missing_product_is_400(alice, make_product):
    product = make_product()
    response = alice.post(ITEMS, {"product": product.pk + 1000, "quantity": 1}, format="json")
    assert response.status_code == 400
    assert "product" in response.json()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"quantity": 1}, "product"),
        ({"product": "abc", "quantity": 1}, "product"),
        ({"product": None, "quantity": 1}, "product"),
        ({"product": True, "quantity": 1}, "product"),
        ({"product": [1], "quantity": 1}, "product"),
        ({"product": {"id": 1}, "quantity": 1}, "product"),
        ({"product": 10**20, "quantity": 1}, "product"),
        ({"product": -1, "quantity": 1}, "product"),
        ({"product": "PK+0.5", "quantity": 1}, "product"),
        ({"product": "", "quantity": 1}, "product"),
        ({"product": "PK", "quantity": 0}, "quantity"),
        ({"product": "PK", "quantity": -1}, "quantity"),
        ({"product": "PK", "quantity": 10**20}, "quantity"),
        ({"product": "PK", "quantity": "abc"}, "quantity"),
        ({"product": "PK", "quantity": 1.5}, "quantity"),
        ({"product": "PK", "quantity": None}, "quantity"),
        ({"product": "PK", "quantity": 1001}, "quantity"),
    ],
)
def test_bad_add_input_is_400_naming_the_field(alice, customer, make_product, payload, field):
    product = make_product(stock=5000)
    payload = {k: {"PK": product.pk, "PK+0.5": product.pk + 0.5}.get(v, v) if isinstance(v, str) else v
               for k, v in payload.items()}
    response = alice.post(ITEMS, payload, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert lines(customer) == []


def test_malformed_json_is_400(alice, customer):
    response = alice.post(ITEMS, data='{"product": 1,', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert Cart.objects.count() == 0


def test_form_encoded_add_works(alice, customer, make_product):
    product = make_product()
    response = alice.post(ITEMS, {"product": product.pk, "quantity": 2}, format="multipart")
    assert response.status_code == 201
    assert lines(customer) == [(product.pk, 2)]


# --- changing and removing lines --------------------------------------------------------------------------


@pytest.fixture
def alice_line(alice, customer, make_product) -> CartItem:
    product = make_product(stock=10, price=Decimal("3.00"))
    alice.post(ITEMS, {"product": product.pk, "quantity": 2}, format="json")
    return CartItem.objects.get(cart__user=customer)


def test_patch_sets_quantity(alice, alice_line):
    response = alice.patch(item_url(alice_line.pk), {"quantity": 7}, format="json")
    assert response.status_code == 200
    assert response.json()["items"][0]["quantity"] == 7
    assert response.json()["total"] == "21.00"
    alice_line.refresh_from_db()
    assert alice_line.quantity == 7


def test_put_behaves_like_patch(alice, alice_line):
    assert alice.put(item_url(alice_line.pk), {"quantity": 4}, format="json").status_code == 200
    alice_line.refresh_from_db()
    assert alice_line.quantity == 4


def test_patch_beyond_stock_is_409(alice, alice_line):
    response = alice.patch(item_url(alice_line.pk), {"quantity": 11}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "out_of_stock"
    alice_line.refresh_from_db()
    assert alice_line.quantity == 2


@pytest.mark.parametrize("quantity", [0, -1, 10**20, "abc", None, 1001])
def test_patch_bad_quantity_is_400(alice, alice_line, quantity):
    response = alice.patch(item_url(alice_line.pk), {"quantity": quantity}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["quantity"]
    alice_line.refresh_from_db()
    assert alice_line.quantity == 2


def test_patch_missing_quantity_is_400(alice, alice_line):
    response = alice.patch(item_url(alice_line.pk), {}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["quantity"]


def test_delete_line(alice, alice_line, customer):
    response = alice.delete(item_url(alice_line.pk))
    assert response.status_code == 204
    assert lines(customer) == []
    assert alice.get(CART).json()["items"] == []


def test_another_users_line_is_404_for_patch_and_delete(bob, alice_line, other_customer, make_product):
    # Bob has a cart of his own, and Alice's line id still does not resolve for him.
    bob.post(ITEMS, {"product": make_product().pk, "quantity": 1}, format="json")
    assert bob.patch(item_url(alice_line.pk), {"quantity": 1}, format="json").status_code == 404
    assert bob.delete(item_url(alice_line.pk)).status_code == 404
    alice_line.refresh_from_db()
    assert alice_line.quantity == 2


def test_another_users_line_is_404_without_a_cart(bob, alice_line):
    assert bob.patch(item_url(alice_line.pk), {"quantity": 1}, format="json").status_code == 404
    assert bob.delete(item_url(alice_line.pk)).status_code == 404
    assert CartItem.objects.filter(pk=alice_line.pk).exists()


def test_anonymous_cannot_touch_a_users_line(api, alice_line):
    assert api.patch(item_url(alice_line.pk), {"quantity": 1}, format="json").status_code == 404
    assert api.delete(item_url(alice_line.pk)).status_code == 404
    alice_line.refresh_from_db()
    assert alice_line.quantity == 2


@pytest.mark.parametrize("item_id", ["0", "99999", "9" * 19, "abc", "-1"])
def test_unknown_or_odd_item_ids_are_404(alice, alice_line, item_id):
    response = alice.patch(f"{ITEMS}{item_id}/", {"quantity": 1}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"]


def test_clear_cart(alice, alice_line, customer, make_product):
    alice.post(ITEMS, {"product": make_product().pk, "quantity": 1}, format="json")
    response = alice.delete(CART)
    assert response.status_code == 204
    assert lines(customer) == []
    assert Cart.objects.filter(user=customer).count() == 1
    assert alice.get(CART).json()["item_count"] == 0


def test_clear_without_cart_is_204(alice):
    assert alice.delete(CART).status_code == 204
    assert Cart.objects.count() == 0


def test_clear_only_clears_own_cart(alice, bob, alice_line, other_customer, make_product):
    bob.post(ITEMS, {"product": make_product().pk, "quantity": 1}, format="json")
    assert alice.delete(CART).status_code == 204
    assert len(lines(other_customer)) == 1


def test_carts_are_private(alice, bob, alice_line):
    body = bob.get(CART).json()
    assert body["items"] == []


# --- anonymous carts in the session -----------------------------------------------------------------------


def test_anonymous_cart_lives_in_session(api, make_product):
    product = make_product(price=Decimal("4.00"))
    response = api.post(ITEMS, {"product": product.pk, "quantity": 2}, format="json")
    assert response.status_code == 201
    cart = Cart.objects.get()
    assert cart.user is None
    assert api.session[SESSION_KEY] == cart.pk
    assert response.json()["id"] == cart.pk
    body = api.get(CART).json()
    assert body["id"] == cart.pk and body["total"] == "8.00"
    # Another visitor (no cookie) sees an empty cart.
    assert APIClient().get(CART).json()["items"] == []


def test_anonymous_get_does_not_create_a_cart(api):
    assert api.get(CART).json()["id"] is None
    assert Cart.objects.count() == 0


def test_anonymous_can_patch_and_delete_own_line(api, make_product):
    product = make_product()
    api.post(ITEMS, {"product": product.pk, "quantity": 1}, format="json")
    item = CartItem.objects.get()
    assert api.patch(item_url(item.pk), {"quantity": 3}, format="json").status_code == 200
    item.refresh_from_db()
    assert item.quantity == 3
    assert api.delete(item_url(item.pk)).status_code == 204
    assert CartItem.objects.count() == 0


def test_session_pointing_at_a_users_cart_is_ignored(api, alice_line):
    session = api.session
    session[SESSION_KEY] = alice_line.cart_id
    session.save()
    assert api.get(CART).json() == {"id": None, "items": [], "item_count": 0, "total": "0.00"}
    assert api.delete(CART).status_code == 204
    assert CartItem.objects.filter(pk=alice_line.pk).exists()


def _login_api(client: APIClient, email: str) -> None:
    response = client.post("/api/accounts/login/", {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content


def test_anonymous_cart_is_merged_at_login(api, customer, make_product):
    a = make_product(stock=10)
    b = make_product(stock=10)
    # The user's own cart already holds some of a.
    user_cart = Cart.objects.create(user=customer)
    CartItem.objects.create(cart=user_cart, product=a, quantity=2)
    api.post(ITEMS, {"product": a.pk, "quantity": 3}, format="json")
    api.post(ITEMS, {"product": b.pk, "quantity": 1}, format="json")
    anonymous_id = api.session[SESSION_KEY]

    _login_api(api, customer.email)

    assert sorted(lines(customer)) == sorted([(a.pk, 5), (b.pk, 1)])
    assert not Cart.objects.filter(pk=anonymous_id).exists()
    assert SESSION_KEY not in api.session
    assert Cart.objects.count() == 1
    body = api.get(CART).json()  # now through the session login
    assert body["id"] == user_cart.pk and body["item_count"] == 6


def test_merge_creates_user_cart_when_missing(api, customer, make_product):
    product = make_product()
    api.post(ITEMS, {"product": product.pk, "quantity": 2}, format="json")
    _login_api(api, customer.email)
    assert lines(customer) == [(product.pk, 2)]
    assert Cart.objects.count() == 1


def test_merge_caps_added_quantity_by_stock(api, customer, make_product):
    product = make_product(stock=4)
    CartItem.objects.create(cart=Cart.objects.create(user=customer), product=product, quantity=3)
    api.post(ITEMS, {"product": product.pk, "quantity": 3}, format="json")
    _login_api(api, customer.email)
    assert lines(customer) == [(product.pk, 4)]


def test_merge_never_leaves_an_empty_line_when_stock_ran_out(api, customer, make_product):
    product = make_product(stock=5)
    CartItem.objects.create(cart=Cart.objects.create(user=customer), product=product, quantity=2)
    api.post(ITEMS, {"product": product.pk, "quantity": 1}, format="json")
    product.stock = 0
    product.save()
    _login_api(api, customer.email)
    # The line the user already had is kept as it was (checkout reports the shortage); never a 0 line.
    assert lines(customer) == [(product.pk, 2)]
    assert not CartItem.objects.filter(quantity__lt=1).exists()


def test_login_without_anonymous_cart_keeps_user_cart(api, customer, make_product):
    product = make_product()
    CartItem.objects.create(cart=Cart.objects.create(user=customer), product=product, quantity=2)
    _login_api(api, customer.email)
    assert lines(customer) == [(product.pk, 2)]


def test_token_user_ignores_session_cart(client_for, customer, make_product):
    # A logged-in user's cart is found by user, never by session['cart_id'].
    client = client_for(customer)
    orphan = Cart.objects.create()
    CartItem.objects.create(cart=orphan, product=make_product(), quantity=1)
    session = client.session
    session[SESSION_KEY] = orphan.pk
    session.save()
    assert client.get(CART).json()["id"] is None


def test_user_model_is_default(customer):
    # Guard for the fixtures this file relies on.
    assert isinstance(customer, get_user_model())


def test_adding_beyond_the_line_limit_is_refused_and_leaves_the_line(alice, customer, make_product):
    product = make_product(stock=5000)
    assert alice.post(ITEMS, {"product": product.pk, "quantity": 999}, format="json").status_code == 201
    response = alice.post(ITEMS, {"product": product.pk, "quantity": 2}, format="json")
    assert response.status_code == 400
    assert response.json() == {"quantity": ["A cart line holds at most 1000; this one has 999 already."]}
    assert lines(customer) == [(product.pk, 999)]
    assert alice.post(ITEMS, {"product": product.pk, "quantity": 1}, format="json").status_code == 201
    assert lines(customer) == [(product.pk, 1000)]
