"""Orders API: list, detail, cancel; who may see what; the order following its shipment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legacy_monolith.catalog.models import Product
from legacy_monolith.orders.models import Order
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment

pytestmark = pytest.mark.django_db

ORDERS = "/api/orders/"


def detail(order_id) -> str:
    return f"{ORDERS}{order_id}/"


def cancel_url(order_id) -> str:
    return f"{ORDERS}{order_id}/cancel/"


def stock(product: Product) -> int:
    return Product.objects.get(pk=product.pk).stock


@pytest.fixture
def alice(client_for, customer):
    return client_for(customer)


@pytest.fixture
def bob(client_for, other_customer):
    return client_for(other_customer)


@pytest.fixture
def boss(client_for, staff):
    return client_for(staff)


@pytest.fixture
def alice_order(place_order, customer, make_product) -> Order:
    return place_order(customer, {make_product(price=Decimal("4.00"), stock=10): 3})


@pytest.fixture
def bob_order(place_order, other_customer, make_product) -> Order:
    return place_order(other_customer, {make_product(stock=10): 1})


# --- permission matrix ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/orders/"),
        ("get", "/api/orders/{id}/"),
        ("post", "/api/orders/{id}/cancel/"),
        ("post", "/api/orders/checkout/"),
    ],
)
def test_anonymous_is_401_everywhere(api, alice_order, method, path):
    response = getattr(api, method)(path.format(id=alice_order.pk), {}, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    alice_order.refresh_from_db()
    assert alice_order.status == "placed"


def test_bad_token_is_401(api, alice_order):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get(ORDERS).status_code == 401


def test_list_shows_only_own_orders(alice, alice_order, bob_order):
    response = alice.get(ORDERS)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [o["id"] for o in body["results"]] == [alice_order.pk]


def test_list_is_newest_first_and_paginated(alice, customer, place_order, make_product):
    product = make_product(stock=100)
    ids = [place_order(customer, {product: 1}).pk for _ in range(3)]
    body = alice.get(ORDERS, {"page_size": 2}).json()
    assert body["count"] == 3
    assert [o["id"] for o in body["results"]] == [ids[2], ids[1]]
    assert body["next"] is not None
    assert [o["id"] for o in alice.get(ORDERS, {"page_size": 2, "page": 2}).json()["results"]] == [ids[0]]


def test_empty_list(alice):
    assert alice.get(ORDERS).json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_staff_list_sees_everyone(boss, alice_order, bob_order):
    body = boss.get(ORDERS).json()
    assert sorted(o["id"] for o in body["results"]) == sorted([alice_order.pk, bob_order.pk])


def test_detail_body(alice, alice_order):
    response = alice.get(detail(alice_order.pk))
    assert response.status_code == 200
    body = response.json()
    shipment = alice_order.shipment
    line = alice_order.lines.get()
    assert body["id"] == alice_order.pk
    assert body["number"] == alice_order.number
    assert body["status"] == "placed"
    assert body["total"] == "12.00"
    assert body["lines"] == [{"id": line.pk, "product": line.product_id, "sku": line.sku, "name": line.name,
                              "unit_price": "4.00", "quantity": 3, "line_total": "12.00"}]
    assert body["shipment"] == {"id": shipment.pk, "carrier": "postal", "tracking_number": "", "status": "pending"}
    assert body["shipping_address"]["country"] == "GB"
    assert set(body) == {"id", "number", "status", "total", "lines", "shipping_address", "shipment", "created_at",
                         "updated_at"}


def test_other_users_order_is_404(bob, alice_order):
    response = bob.get(detail(alice_order.pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "No Order matches the given query."}


def test_staff_sees_any_order(boss, alice_order):
    assert boss.get(detail(alice_order.pk)).status_code == 200


@pytest.mark.parametrize("order_id", ["999999", "abc", "9" * 19, "0"])
def test_unknown_order_is_404(alice, alice_order, order_id):
    assert alice.get(f"{ORDERS}{order_id}/").status_code == 404


def test_orders_are_read_only(alice, alice_order):
    assert alice.post(ORDERS, {}, format="json").status_code == 405
    assert alice.patch(detail(alice_order.pk), {"status": "delivered"}, format="json").status_code == 405
    assert alice.put(detail(alice_order.pk), {"status": "delivered"}, format="json").status_code == 405
    assert alice.delete(detail(alice_order.pk)).status_code == 405
    alice_order.refresh_from_db()
    assert alice_order.status == "placed"


# --- cancel --------------------------------------------------------------------------------------------------


def test_cancel_restocks_exactly_and_cancels_shipment(alice, customer, place_order, make_product):
    a = make_product(stock=10)
    b = make_product(stock=4)
    bystander = make_product(stock=6)
    order = place_order(customer, {a: 3, b: 4})
    assert (stock(a), stock(b)) == (7, 0)

    response = alice.post(cancel_url(order.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["shipment"]["status"] == "cancelled"
    assert (stock(a), stock(b), stock(bystander)) == (10, 4, 6)
    order.refresh_from_db()
    assert order.status == "cancelled"
    shipment = Shipment.objects.get(order=order)
    assert shipment.status == "cancelled"
    assert list(shipment.events.values_list("status", "note")) == [("pending", "Order placed"),
                                                                   ("cancelled", "Order cancelled")]
    # The order's lines stay: cancelling is not deleting.
    assert order.lines.count() == 2


def test_cancel_twice_is_409_and_restocks_once(alice, customer, place_order, make_product):
    product = make_product(stock=5)
    order = place_order(customer, {product: 2})
    assert alice.post(cancel_url(order.pk)).status_code == 200
    response = alice.post(cancel_url(order.pk))
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert response.json()["current"] == "cancelled"
    assert stock(product) == 5


def test_cancel_while_processing_is_allowed(alice, customer, place_order, make_product):
    product = make_product(stock=5)
    order = place_order(customer, {product: 2})
    shipping_services.shipment_set_status(order.shipment.pk, status="packed")
    order.refresh_from_db()
    assert order.status == "processing"
    assert alice.post(cancel_url(order.pk)).status_code == 200
    assert stock(product) == 5
    assert Shipment.objects.get(order=order).status == "cancelled"


@pytest.mark.parametrize("moves, status", [
    (["packed", "shipped"], "shipped"),
    (["packed", "shipped", "in_transit"], "shipped"),
    (["packed", "shipped", "delivered"], "delivered"),
])
def test_cancel_after_shipping_is_409_and_changes_nothing(alice, customer, place_order, make_product, moves,
                                                         status):
    product = make_product(stock=5)
    order = place_order(customer, {product: 2})
    for move in moves:
        shipping_services.shipment_set_status(order.shipment.pk, status=move, tracking_number="TRACK-1")
    response = alice.post(cancel_url(order.pk))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert body["current"] == status
    assert order.number in body["detail"]
    assert stock(product) == 3
    order.refresh_from_db()
    assert order.status == status
    assert Shipment.objects.get(order=order).status == moves[-1]


def test_cancel_other_users_order_is_404(bob, alice_order):
    response = bob.post(cancel_url(alice_order.pk))
    assert response.status_code == 404
    alice_order.refresh_from_db()
    assert alice_order.status == "placed"
    assert Shipment.objects.get(order=alice_order).status == "pending"


def test_staff_can_cancel_any_order(boss, alice_order):
    product = alice_order.lines.get().product
    before = stock(product)
    assert boss.post(cancel_url(alice_order.pk)).status_code == 200
    assert stock(product) == before + 3


def test_cancel_unknown_order_is_404(alice):
    assert alice.post(cancel_url(424242)).status_code == 404


def test_cancel_get_is_405(alice, alice_order):
    assert alice.get(cancel_url(alice_order.pk)).status_code == 405


def test_cancel_is_atomic(alice, alice_order, monkeypatch):
    # A failure after the restock must leave stock and statuses untouched.
    product = alice_order.lines.get().product
    before = stock(product)

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(shipping_services, "shipment_cancel", explode)
    response = alice.post(cancel_url(alice_order.pk))
    assert response.status_code == 500
    assert stock(product) == before
    alice_order.refresh_from_db()
    assert alice_order.status == "placed"


# --- the order follows its shipment (signal) ------------------------------------------------------------------


def test_order_status_follows_each_shipment_move(alice, alice_order):
    shipment_id = alice_order.shipment.pk
    seen = []
    for move, tracking in [("packed", ""), ("shipped", "1Z-999"), ("in_transit", ""), ("delivered", "")]:
        shipping_services.shipment_set_status(shipment_id, status=move, tracking_number=tracking)
        seen.append(alice.get(detail(alice_order.pk)).json()["status"])
    assert seen == ["processing", "shipped", "shipped", "delivered"]
    alice_order.refresh_from_db()
    assert alice_order.status == "delivered"


def test_refused_shipment_move_leaves_order_alone(alice_order):
    with pytest.raises(Exception, match="Cannot move"):
        shipping_services.shipment_set_status(alice_order.shipment.pk, status="delivered")
    alice_order.refresh_from_db()
    assert alice_order.status == "placed"


def test_signal_only_moves_that_order(alice_order, bob_order):
    shipping_services.shipment_set_status(alice_order.shipment.pk, status="packed")
    bob_order.refresh_from_db()
    assert bob_order.status == "placed"


def test_product_references_for_the_catalog_service(api, client_for, customer, staff, make_product, place_order,
                                                    settings):
    """What the catalog service asks before it deletes a product (it has no orders): staff, or the catalog's
    service token; nobody else. Not in the API's schema."""
    ordered, other = make_product(sku="ORD-1", stock=5), make_product(sku="ORD-2", stock=5)
    place_order(customer, {ordered: 2})
    url = "/api/orders/product-references/{}/"
    as_staff = client_for(staff)
    assert as_staff.get(url.format(ordered.pk)).json() == {"product": ordered.pk, "order_lines": 1}
    assert as_staff.get(url.format(other.pk)).json() == {"product": other.pk, "order_lines": 0}
    assert client_for(customer).get(url.format(ordered.pk)).status_code == 403
    assert api.get(url.format(ordered.pk)).status_code == 401
    settings.CATALOG_SERVICE_TOKEN = "catalog-service-token-for-tests"
    assert api.get(url.format(ordered.pk), HTTP_X_SERVICE_TOKEN="wrong").status_code == 401
    answer = api.get(url.format(ordered.pk), HTTP_X_SERVICE_TOKEN="catalog-service-token-for-tests")
    assert (answer.status_code, answer.json()["order_lines"]) == (200, 1)
    schema = api.get("/api/schema/?format=json").json()
    assert not any("product-references" in path for path in schema["paths"])
