"""POST /api/orders/checkout/: one transaction that takes stock, writes the order and opens the shipment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legacy_monolith.accounts.models import Address
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog import services as catalog_services
from legacy_monolith.catalog.models import Product
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment, ShipmentEvent

CHECKOUT = "/api/orders/checkout/"


def stocks(*products: Product) -> list[int]:
    return [Product.objects.get(pk=p.pk).stock for p in products]


def cart_lines(user) -> list[tuple[int, int]]:
    return list(CartItem.objects.filter(cart__user=user).order_by("product_id").values_list("product_id", "quantity"))


def assert_nothing_written(user, products, expected_stock, expected_lines) -> None:
    assert Order.objects.count() == 0
    assert OrderLine.objects.count() == 0
    assert Shipment.objects.count() == 0
    assert ShipmentEvent.objects.count() == 0
    assert stocks(*products) == expected_stock
    assert cart_lines(user) == expected_lines


@pytest.fixture
def alice(client_for, customer):
    return client_for(customer)


# --- the happy path ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_checkout_writes_order_lines_shipment_and_takes_stock(alice, customer, make_product, fill_cart, ship_to):
    a = make_product(price=Decimal("10.00"), stock=5, name="Chef knife", sku="KN-1")
    b = make_product(price=Decimal("2.50"), stock=3, name="Whetstone", sku="WS-1")
    untouched = make_product(stock=7)
    fill_cart(customer, {a: 2, b: 3})

    response = alice.post(CHECKOUT, {"shipping_address": ship_to, "carrier": "dhl"}, format="json")

    assert response.status_code == 201, response.content
    order = Order.objects.get()
    body = response.json()
    assert body["id"] == order.pk
    assert body["number"] == f"ORD-{order.pk:08d}"
    assert body["status"] == "placed"
    assert body["total"] == "27.50"
    assert body["shipping_address"] == {**ship_to, "line2": "", "country": "GB"}
    assert [(line["sku"], line["name"], line["unit_price"], line["quantity"], line["line_total"])
            for line in body["lines"]] == [("KN-1", "Chef knife", "10.00", 2, "20.00"),
                                           ("WS-1", "Whetstone", "2.50", 3, "7.50")]
    shipment = Shipment.objects.get()
    assert body["shipment"] == {"id": shipment.pk, "carrier": "dhl", "tracking_number": "", "status": "pending"}

    assert order.user == customer
    assert order.total == Decimal("27.50")
    assert (order.ship_full_name, order.ship_city, order.ship_country) == ("Alice Liddell", "Oxford", "GB")
    assert shipment.order == order and shipment.carrier == "dhl" and shipment.status == "pending"
    assert list(shipment.events.values_list("status", "note")) == [("pending", "Order placed")]
    assert stocks(a, b, untouched) == [3, 0, 7]
    assert cart_lines(customer) == []
    assert Cart.objects.filter(user=customer).exists()


@pytest.mark.django_db
def test_default_carrier_is_postal(alice, customer, make_product, fill_cart, ship_to):
    fill_cart(customer, {make_product(): 1})
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 201
    assert response.json()["shipment"]["carrier"] == "postal"
    assert Shipment.objects.get().carrier == "postal"


@pytest.mark.django_db
def test_checkout_to_saved_address(alice, customer, make_product, fill_cart):
    address = Address.objects.create(user=customer, full_name="Alice L", line1="2 Garden", line2="Flat 3",
                                     city="Wonder", postal_code="12345", country="se", phone="123")
    fill_cart(customer, {make_product(): 1})
    response = alice.post(CHECKOUT, {"address": address.pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"] == {"full_name": "Alice L", "line1": "2 Garden", "line2": "Flat 3",
                                                   "city": "Wonder", "postal_code": "12345", "country": "SE"}
    order = Order.objects.get()
    assert (order.ship_line2, order.ship_country) == ("Flat 3", "SE")
    # The address is copied: editing the address book later does not rewrite the order.
    address.city = "Elsewhere"
    address.save()
    order.refresh_from_db()
    assert order.ship_city == "Wonder"


@pytest.mark.django_db
def test_order_lines_snapshot_price_name_and_sku(alice, customer, make_product, fill_cart, ship_to):
    product = make_product(price=Decimal("9.99"), name="Old name", sku="OLD-1")
    fill_cart(customer, {product: 2})
    order_id = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json").json()["id"]
    product.price, product.name, product.sku = Decimal("50.00"), "New name", "NEW-1"
    product.save()
    body = alice.get(f"/api/orders/{order_id}/").json()
    assert body["total"] == "19.98"
    assert [(line["sku"], line["name"], line["unit_price"], line["product"]) for line in body["lines"]] == [
        ("OLD-1", "Old name", "9.99", product.pk)
    ]


@pytest.mark.django_db
def test_checkout_uses_current_price_not_price_when_added(alice, customer, make_product, fill_cart, ship_to):
    product = make_product(price=Decimal("5.00"))
    fill_cart(customer, {product: 2})
    product.price = Decimal("6.00")
    product.save()
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.json()["total"] == "12.00"
    assert OrderLine.objects.get().unit_price == Decimal("6.00")


@pytest.mark.django_db
def test_checkout_with_exactly_the_stock(alice, customer, make_product, fill_cart, ship_to):
    product = make_product(stock=2)
    fill_cart(customer, {product: 2})
    assert alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json").status_code == 201
    assert stocks(product) == [0]


@pytest.mark.django_db
def test_second_checkout_of_emptied_cart_is_400(alice, customer, make_product, fill_cart, ship_to):
    fill_cart(customer, {make_product(): 1})
    assert alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json").status_code == 201
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 400
    assert response.json() == {"cart": ["Your cart is empty."]}
    assert Order.objects.count() == 1


# --- refusals: nothing is written ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_of_several_items_out_of_stock_writes_nothing(alice, customer, make_product, fill_cart, ship_to):
    a = make_product(stock=5)
    b = make_product(stock=1, sku="SHORT-1")
    c = make_product(stock=9)
    fill_cart(customer, {a: 2, b: 2, c: 3})
    before = cart_lines(customer)

    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "out_of_stock"
    assert body["items"] == [{"product": b.pk, "sku": "SHORT-1", "requested": 2, "available": 1}]
    assert "SHORT-1" in body["detail"]
    assert_nothing_written(customer, [a, b, c], [5, 1, 9], before)


@pytest.mark.django_db
def test_every_short_item_is_listed(alice, customer, make_product, fill_cart, ship_to):
    a = make_product(stock=0)
    b = make_product(stock=3)
    c = make_product(stock=1)
    fill_cart(customer, {a: 1, b: 1, c: 4})
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 409
    assert [(i["product"], i["requested"], i["available"]) for i in response.json()["items"]] == [
        (a.pk, 1, 0), (c.pk, 4, 1)
    ]
    assert_nothing_written(customer, [a, b, c], [0, 3, 1], [(a.pk, 1), (b.pk, 1), (c.pk, 4)])


@pytest.mark.django_db
def test_inactive_product_in_cart_is_out_of_stock(alice, customer, make_product, fill_cart, ship_to):
    a = make_product(stock=5)
    gone = make_product(stock=5)
    fill_cart(customer, {a: 1, gone: 1})
    Product.objects.filter(pk=gone.pk).update(is_active=False)
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 409
    assert response.json()["items"] == [{"product": gone.pk, "sku": gone.sku, "requested": 1, "available": 0}]
    assert_nothing_written(customer, [a, gone], [5, 5], [(a.pk, 1), (gone.pk, 1)])


@pytest.mark.django_db
def test_empty_cart_is_400(alice, customer, ship_to):
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 400
    assert response.json() == {"cart": ["Your cart is empty."]}
    Cart.objects.create(user=customer)  # a cart without lines is empty too
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 400
    assert response.json() == {"cart": ["Your cart is empty."]}
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_anonymous_checkout_is_401_even_with_a_session_cart(api, make_product, ship_to):
    product = make_product(stock=3)
    api.post("/api/cart/items/", {"product": product.pk, "quantity": 1}, format="json")
    response = api.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 401
    assert response.has_header("WWW-Authenticate")
    assert Order.objects.count() == 0
    assert stocks(product) == [3]
    assert CartItem.objects.count() == 1


@pytest.mark.django_db
def test_checkout_does_not_touch_other_users_carts(alice, customer, other_customer, make_product, fill_cart,
                                                   ship_to):
    product = make_product(stock=10)
    fill_cart(customer, {product: 1})
    fill_cart(other_customer, {product: 4})
    assert alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json").status_code == 201
    assert cart_lines(other_customer) == [(product.pk, 4)]
    assert stocks(product) == [9]


# --- fault injection: a failure after stock was taken rolls everything back ---------------------------------


def _explode(*args, **kwargs):
    raise RuntimeError("carrier API down")


def _check_fault_rolls_back(alice, customer, make_product, fill_cart, ship_to, monkeypatch):
    a = make_product(stock=5)
    b = make_product(stock=2)
    fill_cart(customer, {a: 3, b: 2})
    taken = []

    real_reserve = catalog_services.stock_reserve

    def reserve_and_record(quantities):
        real_reserve(quantities)
        taken.append(stocks(a, b))  # seen inside the transaction: stock really was decremented

    monkeypatch.setattr(catalog_services, "stock_reserve", reserve_and_record)
    monkeypatch.setattr(shipping_services, "shipment_create", _explode)

    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "carrier API down" not in response.content.decode()
    assert taken == [[2, 0]]
    assert_nothing_written(customer, [a, b], [5, 2], [(a.pk, 3), (b.pk, 2)])


@pytest.mark.django_db
def test_failure_after_stock_taken_rolls_back(alice, customer, make_product, fill_cart, ship_to, monkeypatch):
    _check_fault_rolls_back(alice, customer, make_product, fill_cart, ship_to, monkeypatch)


@pytest.mark.django_db(transaction=True)
def test_failure_after_stock_taken_rolls_back_real_transaction(alice, customer, make_product, fill_cart, ship_to,
                                                               monkeypatch):
    # Outside a test-wrapping transaction: checkout's own atomic block is the outermost one and must roll back.
    _check_fault_rolls_back(alice, customer, make_product, fill_cart, ship_to, monkeypatch)


@pytest.mark.django_db
def test_failure_in_shipment_event_rolls_back(alice, customer, make_product, fill_cart, ship_to, monkeypatch):
    # Fails after the Shipment row itself was inserted.
    product = make_product(stock=4)
    fill_cart(customer, {product: 4})

    def explode(*args, **kwargs):
        raise RuntimeError("event store down")

    monkeypatch.setattr(ShipmentEvent.objects, "create", explode)
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 500
    assert_nothing_written(customer, [product], [4], [(product.pk, 4)])


# --- bad input: a 400 naming the field, never a 500 ----------------------------------------------------------


@pytest.fixture
def alice_with_cart(alice, customer, make_product, fill_cart):
    product = make_product(stock=5)
    fill_cart(customer, {product: 1})
    return alice, product


BAD_ADDRESS = {"full_name": "X", "line1": "Y", "city": "Z", "postal_code": "1", "country": "SE"}


@pytest.mark.parametrize(
    "payload, expected",
    [
        ({}, {"non_field_errors": ["Give either address (a saved address id) or shipping_address."]}),
        ({"address": 1, "shipping_address": BAD_ADDRESS},
         {"non_field_errors": ["Give either address (a saved address id) or shipping_address."]}),
        ({"address": "abc"}, {"address": ["A valid integer is required."]}),
        ({"address": 0}, {"address": ["Ensure this value is greater than or equal to 1."]}),
        ({"address": -1}, {"address": ["Ensure this value is greater than or equal to 1."]}),
        ({"address": 10**20}, {"address": ["Ensure this value is less than or equal to 9223372036854775807."]}),
        ({"address": 999999}, {"address": ["No such address in your address book."]}),
        ({"shipping_address": "Main street"},
         {"shipping_address": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}}),
        ({"shipping_address": {**BAD_ADDRESS, "country": "Sweden"}},
         {"shipping_address": {"country": ["Ensure this field has no more than 2 characters.",
                                           "Use a two-letter country code (ISO 3166-1)."]}}),
        ({"shipping_address": {**BAD_ADDRESS, "country": "S1"}},
         {"shipping_address": {"country": ["Use a two-letter country code (ISO 3166-1)."]}}),
        ({"shipping_address": {**BAD_ADDRESS, "full_name": "x" * 121}},
         {"shipping_address": {"full_name": ["Ensure this field has no more than 120 characters."]}}),
        ({"shipping_address": {**BAD_ADDRESS, "carrier": "dhl", "city": ""}},
         {"shipping_address": {"city": ["This field may not be blank."]}}),
        ({"shipping_address": BAD_ADDRESS, "carrier": "pigeon"}, {"carrier": ['"pigeon" is not a valid choice.']}),
        ({"shipping_address": BAD_ADDRESS, "carrier": None}, {"carrier": ["This field may not be null."]}),
    ],
)
@pytest.mark.django_db
def test_bad_checkout_input_is_400(alice_with_cart, customer, payload, expected):
    client, product = alice_with_cart
    response = client.post(CHECKOUT, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == expected
    assert Order.objects.count() == 0
    assert stocks(product) == [5]
    assert cart_lines(customer) == [(product.pk, 1)]


@pytest.mark.django_db
def test_missing_address_fields_are_each_named(alice_with_cart):
    client, _ = alice_with_cart
    response = client.post(CHECKOUT, {"shipping_address": {"line2": "only this"}}, format="json")
    assert response.status_code == 400
    errors = response.json()["shipping_address"]
    assert sorted(errors) == ["city", "country", "full_name", "line1", "postal_code"]
    assert errors["city"] == ["This field is required."]
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_address_of_another_user_is_400(alice_with_cart, other_customer, customer):
    client, product = alice_with_cart
    theirs = Address.objects.create(user=other_customer, full_name="Bob", line1="B", city="C", postal_code="1",
                                    country="SE")
    response = client.post(CHECKOUT, {"address": theirs.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"address": ["No such address in your address book."]}
    assert Order.objects.count() == 0
    assert cart_lines(customer) == [(product.pk, 1)]


@pytest.mark.django_db
def test_malformed_json_is_400(alice_with_cart):
    client, product = alice_with_cart
    response = client.post(CHECKOUT, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_json_array_body_is_400(alice_with_cart):
    client, _ = alice_with_cart
    response = client.post(CHECKOUT, data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


@pytest.mark.django_db
def test_validation_happens_before_the_cart_is_looked_at(alice, ship_to):
    # Empty cart and a bad carrier: the input error is reported.
    response = alice.post(CHECKOUT, {"shipping_address": ship_to, "carrier": "x"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["carrier"]


@pytest.mark.django_db
def test_get_on_checkout_is_405(alice):
    assert alice.get(CHECKOUT).status_code == 405
