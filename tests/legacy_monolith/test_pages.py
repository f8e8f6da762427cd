"""Server-rendered pages: catalog, cart forms, checkout, orders, login/logout; with real CSRF checks where it
matters."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from legacy_monolith.accounts.models import Address
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.cart.selectors import SESSION_KEY
from legacy_monolith.catalog.models import Product
from legacy_monolith.orders import services as order_services
from legacy_monolith.orders.models import Order
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

SHIP_FORM = {"full_name": "Alice Liddell", "line1": "1 Rabbit Hole", "line2": "", "city": "Oxford",
             "postal_code": "OX1", "country": "gb"}


@pytest.fixture
def web() -> Client:
    return Client()


@pytest.fixture
def alice_web(customer) -> Client:
    client = Client()
    client.force_login(customer)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def user_lines(user) -> list[tuple[int, int]]:
    return list(CartItem.objects.filter(cart__user=user).order_by("id").values_list("product_id", "quantity"))


# --- catalog -------------------------------------------------------------------------------------------------


def test_home_lists_active_products(web, make_product):
    shown = make_product(name="Santoku knife", price=Decimal("45.00"), stock=3)
    sold_out = make_product(name="Paring knife", stock=0)
    hidden = make_product(name="Withdrawn knife", is_active=False)
    response = web.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Santoku knife" in html and "€45.00" in html and "3 in stock" in html
    assert "Paring knife" in html and "Sold out" in html
    assert hidden.name not in html
    assert f'href="/products/{shown.pk}/"' in html
    assert f'href="/products/{sold_out.pk}/"' in html
    assert "Cart (0)" in html
    assert "Log in" in html


def test_home_search(web, make_product):
    make_product(name="Santoku knife")
    make_product(name="Cutting board", sku="BOARD-1")
    response = web.get("/", {"search": "board"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Results for “board”" in html
    assert "Cutting board" in html
    assert "Santoku knife" not in html


def test_home_search_finds_nothing(web, make_product):
    make_product(name="Santoku knife")
    html = web.get("/", {"search": "zzz"}).content.decode()
    assert "No products found." in html


def test_home_escapes_search(web):
    html = web.get("/", {"search": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize("query", [{"page": "abc"}, {"page": "999"}, {"category": "abc"}, {"min_price": "x"},
                                   {"search": "x" * 500}, {"page": "-1"}])
def test_home_odd_queries_never_500(web, make_product, query):
    make_product(name="Santoku knife")
    assert web.get("/", query).status_code == 200


def test_home_pagination(web, make_product):
    for _ in range(25):
        make_product()
    html = web.get("/").content.decode()
    assert "Page 1 of 2" in html
    assert "page=2" in html
    assert "Page 2 of 2" in web.get("/", {"page": 2}).content.decode()


def test_product_page(web, make_product):
    product = make_product(name="Chef knife", description="Sharp\nvery sharp", price=Decimal("80.00"), stock=4)
    response = web.get(f"/products/{product.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Chef knife</h1>" in html
    assert "Sharp<br>very sharp" in html
    assert "Knives" in html  # the category
    assert 'action="/cart/add/"' in html
    assert f'name="product" value="{product.pk}"' in html
    assert 'max="4"' in html


def test_product_page_sold_out_has_no_form(web, make_product):
    product = make_product(stock=0)
    html = web.get(f"/products/{product.pk}/").content.decode()
    assert "Sold out." in html
    assert 'action="/cart/add/"' not in html


@pytest.mark.parametrize("path", ["/products/999999/", "/products/abc/", "/products/" + "9" * 19 + "/"])
def test_unknown_product_is_html_404(web, path):
    response = web.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "<h1>404</h1>" in response.content.decode()


def test_inactive_product_page_is_404(web, make_product):
    assert web.get(f"/products/{make_product(is_active=False).pk}/").status_code == 404


def test_post_to_home_is_405(web):
    assert web.post("/").status_code == 405


# --- cart pages ----------------------------------------------------------------------------------------------


def test_empty_cart_page(web):
    response = web.get("/cart/")
    assert response.status_code == 200
    assert "Your cart is empty." in response.content.decode()
    assert Cart.objects.count() == 0


def test_add_to_cart_as_anonymous_then_see_it(web, make_product):
    product = make_product(name="Chef knife", price=Decimal("5.50"), stock=5)
    response = web.post("/cart/add/", {"product": product.pk, "quantity": 2})
    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    assert texts(response) == ["Added Chef knife to your cart."]
    cart = Cart.objects.get()
    assert cart.user is None and web.session[SESSION_KEY] == cart.pk
    assert list(cart.items.values_list("product_id", "quantity")) == [(product.pk, 2)]

    html = web.get("/cart/").content.decode()
    assert "Chef knife" in html
    assert "€11.00" in html
    assert "Cart (2)" in html
    assert 'href="/checkout/"' in html


def test_add_to_cart_sums_up(alice_web, customer, make_product):
    product = make_product(stock=10)
    alice_web.post("/cart/add/", {"product": product.pk, "quantity": 2})
    alice_web.post("/cart/add/", {"product": product.pk, "quantity": 3})
    assert user_lines(customer) == [(product.pk, 5)]


def test_add_more_than_stock_shows_message(alice_web, customer, make_product):
    product = make_product(stock=1, sku="ONE-1")
    response = alice_web.post("/cart/add/", {"product": product.pk, "quantity": 2})
    assert response.status_code == 302 and response["Location"] == "/cart/"
    assert texts(response) == ["Only 1 of ONE-1 in stock."]
    assert user_lines(customer) == []


@pytest.mark.parametrize("data", [
    {"product": "PK", "quantity": 0},
    {"product": "PK", "quantity": -1},
    {"product": "PK", "quantity": 10**20},
    {"product": "PK", "quantity": "abc"},
    {"product": "PK"},
    {"quantity": 1},
    {"product": "abc", "quantity": 1},
    {"product": "INACTIVE", "quantity": 1},
    {"product": 10**20, "quantity": 1},
])
def test_add_bad_input_redirects_home_with_message(alice_web, customer, make_product, data):
    product = make_product()
    inactive = make_product(is_active=False)
    data = {k: {"PK": product.pk, "INACTIVE": inactive.pk}.get(v, v) for k, v in data.items()}
    response = alice_web.post("/cart/add/", data)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert texts(response) == ["That product cannot be added."]
    assert CartItem.objects.count() == 0


def test_get_cart_add_is_405(web):
    assert web.get("/cart/add/").status_code == 405


@pytest.fixture
def alice_line(customer, make_product) -> CartItem:
    cart = Cart.objects.create(user=customer)
    return CartItem.objects.create(cart=cart, product=make_product(stock=5), quantity=2)


def test_update_quantity(alice_web, alice_line):
    response = alice_web.post(f"/cart/items/{alice_line.pk}/", {"quantity": 4})
    assert response.status_code == 302 and response["Location"] == "/cart/"
    alice_line.refresh_from_db()
    assert alice_line.quantity == 4


def test_update_to_zero_removes(alice_web, alice_line):
    alice_web.post(f"/cart/items/{alice_line.pk}/", {"quantity": 0})
    assert not CartItem.objects.filter(pk=alice_line.pk).exists()


def test_update_beyond_stock_shows_message(alice_web, alice_line):
    response = alice_web.post(f"/cart/items/{alice_line.pk}/", {"quantity": 6})
    assert texts(response) == [f"Only 5 of {alice_line.product.sku} in stock."]
    alice_line.refresh_from_db()
    assert alice_line.quantity == 2


@pytest.mark.parametrize("quantity", ["-1", "abc", "", str(10**20), "1001", "1.5"])
def test_update_bad_quantity_shows_message(alice_web, alice_line, quantity):
    response = alice_web.post(f"/cart/items/{alice_line.pk}/", {"quantity": quantity})
    assert response.status_code == 302 and response["Location"] == "/cart/"
    assert texts(response) == ["Quantity must be a whole number from 0 to 1000."]
    alice_line.refresh_from_db()
    assert alice_line.quantity == 2


def test_update_another_users_line_is_refused(other_customer, alice_line):
    bob = Client()
    bob.force_login(other_customer)
    response = bob.post(f"/cart/items/{alice_line.pk}/", {"quantity": 0})
    assert response.status_code == 302
    assert texts(response) == ["No such item in your cart."]
    assert "No such item in your cart." in bob.get("/cart/").content.decode()  # shown, and so consumed
    response = bob.post(f"/cart/items/{alice_line.pk}/", {"quantity": 1})
    assert texts(response) == ["No such item in your cart."]
    alice_line.refresh_from_db()
    assert alice_line.quantity == 2


def test_anonymous_update_of_a_users_line_is_refused(web, alice_line):
    response = web.post(f"/cart/items/{alice_line.pk}/", {"quantity": 0})
    assert texts(response) == ["No such item in your cart."]
    assert CartItem.objects.filter(pk=alice_line.pk).exists()


# --- CSRF ----------------------------------------------------------------------------------------------------


def _csrf_token(client: Client, path: str) -> str:
    html = client.get(path).content.decode()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def test_csrf_is_enforced_on_page_forms(make_product):
    client = Client(enforce_csrf_checks=True)
    product = make_product(stock=5)

    refused = client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    assert refused.status_code == 403
    assert "CSRF verification failed" in refused.content.decode()
    assert refused["Content-Type"].startswith("text/html")
    assert CartItem.objects.count() == 0

    token = _csrf_token(client, f"/products/{product.pk}/")
    accepted = client.post("/cart/add/", {"product": product.pk, "quantity": 1, "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert CartItem.objects.count() == 1


def test_csrf_full_flow_login_checkout_logout(customer, make_product):
    client = Client(enforce_csrf_checks=True)
    product = make_product(stock=5, price=Decimal("3.00"))
    token = _csrf_token(client, f"/products/{product.pk}/")
    client.post("/cart/add/", {"product": product.pk, "quantity": 2, "csrfmiddlewaretoken": token})

    token = _csrf_token(client, "/accounts/login/")
    response = client.post("/accounts/login/", {"username": customer.email, "password": PASSWORD,
                                                "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert user_lines(customer) == [(product.pk, 2)]  # merged at login

    assert client.post("/checkout/", SHIP_FORM).status_code == 403  # no token: refused
    assert Order.objects.count() == 0
    token = _csrf_token(client, "/checkout/")
    response = client.post("/checkout/", {**SHIP_FORM, "csrfmiddlewaretoken": token})
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert Product.objects.get(pk=product.pk).stock == 3

    token = _csrf_token(client, "/")
    assert client.post("/accounts/logout/").status_code == 403
    assert client.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert "_auth_user_id" not in client.session



def test_session_api_calls_need_the_csrf_header(customer, make_product):
    # A browser logged in by session calls the API: without the CSRF header, writes are refused.
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    product = make_product(stock=5)
    refused = client.post("/api/cart/items/", {"product": product.pk, "quantity": 1}, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    assert CartItem.objects.count() == 0
    token = _csrf_token(client, f"/products/{product.pk}/")
    accepted = client.post("/api/cart/items/", {"product": product.pk, "quantity": 1},
                           content_type="application/json", headers={"X-CSRFToken": token})
    assert accepted.status_code == 201
    assert user_lines(customer) == [(product.pk, 1)]
    refused = client.post("/api/orders/checkout/", {"shipping_address": {**SHIP_FORM}},
                          content_type="application/json")
    assert refused.status_code == 403
    assert Order.objects.count() == 0

# --- login / logout ------------------------------------------------------------------------------------------


def test_login_page_renders(web):
    response = web.get("/accounts/login/")
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()
    assert 'name="password"' in response.content.decode()


def test_login_with_email_merges_cart_and_redirects(web, customer, make_product):
    product = make_product(stock=5)
    web.post("/cart/add/", {"product": product.pk, "quantity": 1})
    anonymous_id = web.session[SESSION_KEY]
    response = web.post("/accounts/login/", {"username": "  ALICE@example.com ", "password": PASSWORD,
                                             "next": "/cart/"})
    assert response.status_code == 302
    assert response["Location"] == "/cart/"
    assert int(web.session["_auth_user_id"]) == customer.pk
    assert user_lines(customer) == [(product.pk, 1)]
    assert not Cart.objects.filter(pk=anonymous_id).exists()
    html = web.get("/cart/").content.decode()
    assert "Cart (1)" in html and "alice@example.com" in html and "My orders" in html


def test_login_refuses_offsite_next(web, customer):
    response = web.post("/accounts/login/", {"username": customer.email, "password": PASSWORD,
                                             "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_with_wrong_password(web, customer):
    response = web.post("/accounts/login/", {"username": customer.email, "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in web.session
    assert "Please enter a correct" in response.content.decode()


def test_logout_requires_post(alice_web):
    assert alice_web.get("/accounts/logout/").status_code == 405
    response = alice_web.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert "_auth_user_id" not in alice_web.session


# --- checkout page -------------------------------------------------------------------------------------------


def test_checkout_requires_login(web):
    response = web.get("/checkout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/checkout/"
    assert web.post("/checkout/", SHIP_FORM)["Location"] == "/accounts/login/?next=/checkout/"
    assert Order.objects.count() == 0


def test_checkout_form_prefilled_from_default_address(alice_web, customer):
    Address.objects.create(user=customer, full_name="Other", line1="x", city="y", postal_code="1", country="SE")
    Address.objects.create(user=customer, full_name="Default Alice", line1="Main 1", city="Uppsala",
                           postal_code="75000", country="SE", is_default=True)
    html = alice_web.get("/checkout/").content.decode()
    assert 'value="Default Alice"' in html
    assert 'value="Uppsala"' in html


def test_checkout_page_places_order(alice_web, customer, alice_line):
    response = alice_web.post("/checkout/", SHIP_FORM)
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
    assert texts(response) == [f"Thank you! Order {order.number} is placed."]
    assert order.user == customer and order.ship_country == "GB"
    assert order.lines.get().quantity == 2
    assert Shipment.objects.get(order=order).carrier == "postal"
    assert user_lines(customer) == []
    assert Product.objects.get(pk=alice_line.product_id).stock == 3


def test_checkout_page_invalid_form_rerenders(alice_web, alice_line):
    response = alice_web.post("/checkout/", {**SHIP_FORM, "country": "Sweden", "city": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert "This field is required." in html
    assert Order.objects.count() == 0


def test_checkout_page_out_of_stock(alice_web, customer, alice_line):
    Product.objects.filter(pk=alice_line.product_id).update(stock=1)
    response = alice_web.post("/checkout/", SHIP_FORM)
    assert response.status_code == 302 and response["Location"] == "/cart/"
    assert texts(response) == [f"Not enough stock for: {alice_line.product.sku} (requested 2, available 1)."]
    assert Order.objects.count() == 0
    assert user_lines(customer) == [(alice_line.product_id, 2)]
    assert Product.objects.get(pk=alice_line.product_id).stock == 1


def test_checkout_page_empty_cart(alice_web):
    response = alice_web.post("/checkout/", SHIP_FORM)
    assert response.status_code == 302 and response["Location"] == "/cart/"
    assert texts(response) == ["Your cart is empty."]
    assert Order.objects.count() == 0


def test_checkout_page_rejects_put(alice_web):
    assert alice_web.put("/checkout/").status_code == 405


# --- order pages ---------------------------------------------------------------------------------------------


@pytest.fixture
def alice_order(customer, alice_line) -> Order:
    return order_services.checkout(user=customer, cart=alice_line.cart, shipping={**SHIP_FORM, "country": "GB"})


def test_order_pages_require_login(web, alice_order):
    assert web.get("/orders/")["Location"] == "/accounts/login/?next=/orders/"
    assert web.get(f"/orders/{alice_order.pk}/")["Location"] == f"/accounts/login/?next=/orders/{alice_order.pk}/"


def test_order_list_page(alice_web, alice_order):
    html = alice_web.get("/orders/").content.decode()
    assert alice_order.number in html
    assert "Placed" in html
    assert f"€{alice_order.total}" in html


def test_order_list_page_empty(alice_web):
    assert "No orders yet." in alice_web.get("/orders/").content.decode()


def test_order_list_page_shows_only_own(other_customer, alice_order, staff):
    for user in (other_customer, staff):  # even staff see only their own orders on the page
        client = Client()
        client.force_login(user)
        html = client.get("/orders/").content.decode()
        assert alice_order.number not in html
        assert "No orders yet." in html


def test_order_detail_page(alice_web, alice_order):
    response = alice_web.get(f"/orders/{alice_order.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    line = alice_order.lines.get()
    assert f"Order {alice_order.number}" in html
    assert f"{line.name} ({line.sku})" in html
    assert "Ships to Alice Liddell, 1 Rabbit Hole, OX1 Oxford, GB" in html
    assert "Status: <strong>Placed</strong>" in html


def test_order_detail_page_shows_tracking(alice_web, alice_order):
    shipment = Shipment.objects.get(order=alice_order)
    shipping_services.shipment_set_status(shipment.pk, status="packed")
    shipping_services.shipment_set_status(shipment.pk, status="shipped", tracking_number="1Z-777", carrier="dhl")
    html = alice_web.get(f"/orders/{alice_order.pk}/").content.decode()
    assert "Status: <strong>Shipped</strong>" in html
    assert "Dhl 1Z-777" in html


@pytest.mark.parametrize("who", ["other", "staff"])
def test_order_detail_of_another_user_is_404(alice_order, other_customer, staff, who):
    client = Client()
    client.force_login(other_customer if who == "other" else staff)
    response = client.get(f"/orders/{alice_order.pk}/")
    assert response.status_code == 404
    assert alice_order.number not in response.content.decode()


def test_unknown_page_is_html_404(web):
    response = web.get("/no/such/page/")
    assert response.status_code == 404
    assert "<h1>404</h1>" in response.content.decode()


def test_unknown_api_path_is_json_404(web):
    response = web.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
