"""Shipping API: shipments of one's orders, their events, and staff moving them along."""

from __future__ import annotations

import pytest

from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog.models import Product
from legacy_monolith.orders import services as order_services
from legacy_monolith.orders.models import Order
from legacy_monolith.shipping.models import Shipment, ShipmentEvent

pytestmark = pytest.mark.django_db

SHIPMENTS = "/api/shipping/shipments/"
SHIP_TO = {"full_name": "A", "line1": "B", "city": "C", "postal_code": "1", "country": "SE"}


def detail(shipment_id) -> str:
    return f"{SHIPMENTS}{shipment_id}/"


def status_url(shipment_id) -> str:
    return f"{SHIPMENTS}{shipment_id}/status/"


@pytest.fixture
def place(make_product):
    def place(user, carrier="postal") -> Shipment:
        cart, _ = Cart.objects.get_or_create(user=user)
        CartItem.objects.create(cart=cart, product=make_product(stock=5), quantity=1)
        order = order_services.checkout(user=user, cart=cart, shipping=SHIP_TO, carrier=carrier)
        return Shipment.objects.get(order=order)

    return place


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
def alice_shipment(place, customer) -> Shipment:
    return place(customer)


@pytest.fixture
def bob_shipment(place, other_customer) -> Shipment:
    return place(other_customer, carrier="ups")


def order_status(shipment: Shipment) -> str:
    return Order.objects.get(pk=shipment.order_id).status


def events(shipment: Shipment) -> list[tuple[str, str]]:
    return list(ShipmentEvent.objects.filter(shipment=shipment).order_by("id").values_list("status", "note"))


# --- reading -------------------------------------------------------------------------------------------------


def test_list_shows_only_own_shipments(alice, alice_shipment, bob_shipment):
    response = alice.get(SHIPMENTS)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [s["id"] for s in body["results"]] == [alice_shipment.pk]


def test_staff_list_sees_all(boss, alice_shipment, bob_shipment):
    body = boss.get(SHIPMENTS).json()
    assert sorted(s["id"] for s in body["results"]) == sorted([alice_shipment.pk, bob_shipment.pk])


def test_detail_with_events(alice, alice_shipment):
    response = alice.get(detail(alice_shipment.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == alice_shipment.pk
    assert body["order"] == alice_shipment.order_id
    assert body["carrier"] == "postal"
    assert body["tracking_number"] == ""
    assert body["status"] == "pending"
    assert [(e["status"], e["note"]) for e in body["events"]] == [("pending", "Order placed")]
    assert set(body) == {"id", "order", "carrier", "tracking_number", "status", "created_at", "updated_at",
                         "events"}


def test_filter_by_order(boss, alice_shipment, bob_shipment):
    body = boss.get(SHIPMENTS, {"order": bob_shipment.order_id}).json()
    assert [s["id"] for s in body["results"]] == [bob_shipment.pk]


def test_customer_filtering_by_another_users_order_finds_nothing(alice, alice_shipment, bob_shipment):
    body = alice.get(SHIPMENTS, {"order": bob_shipment.order_id}).json()
    assert body["count"] == 0


def test_filter_by_status(boss, alice_shipment, bob_shipment):
    Shipment.objects.filter(pk=bob_shipment.pk).update(status="packed")
    assert [s["id"] for s in boss.get(SHIPMENTS, {"status": "packed"}).json()["results"]] == [bob_shipment.pk]
    assert [s["id"] for s in boss.get(SHIPMENTS, {"status": "pending"}).json()["results"]] == [alice_shipment.pk]
    assert boss.get(SHIPMENTS, {"status": "delivered"}).json()["count"] == 0


@pytest.mark.parametrize("params, field", [
    ({"order": "abc"}, "order"),
    ({"order": "-1"}, "order"),
    ({"order": "1.5"}, "order"),
    ({"order": str(10**20)}, "order"),
    ({"status": "lost"}, "status"),
])
def test_bad_filters_are_400(boss, alice_shipment, params, field):
    response = boss.get(SHIPMENTS, params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_other_users_shipment_is_404(bob, alice_shipment):
    response = bob.get(detail(alice_shipment.pk))
    assert response.status_code == 404


@pytest.mark.parametrize("shipment_id", ["999999", "abc", "9" * 19])
def test_unknown_shipment_is_404(boss, shipment_id):
    assert boss.get(f"{SHIPMENTS}{shipment_id}/").status_code == 404


def test_shipments_are_read_only(boss, alice_shipment):
    assert boss.post(SHIPMENTS, {"order": alice_shipment.order_id}, format="json").status_code == 405
    assert boss.patch(detail(alice_shipment.pk), {"status": "delivered"}, format="json").status_code == 405
    assert boss.delete(detail(alice_shipment.pk)).status_code == 405
    assert Shipment.objects.get(pk=alice_shipment.pk).status == "pending"


# --- permission matrix ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [
    ("get", SHIPMENTS),
    ("get", SHIPMENTS + "{id}/"),
    ("post", SHIPMENTS + "{id}/status/"),
])
def test_anonymous_is_401(api, alice_shipment, method, path):
    response = getattr(api, method)(path.format(id=alice_shipment.pk), {"status": "packed"}, format="json")
    assert response.status_code == 401
    assert Shipment.objects.get(pk=alice_shipment.pk).status == "pending"


def test_customer_cannot_move_own_shipment(alice, alice_shipment):
    response = alice.post(status_url(alice_shipment.pk), {"status": "packed"}, format="json")
    assert response.status_code == 403
    assert Shipment.objects.get(pk=alice_shipment.pk).status == "pending"
    assert order_status(alice_shipment) == "placed"


def test_customer_cannot_move_another_users_shipment(alice, bob_shipment):
    response = alice.post(status_url(bob_shipment.pk), {"status": "packed"}, format="json")
    assert response.status_code == 403
    assert Shipment.objects.get(pk=bob_shipment.pk).status == "pending"


def test_staff_status_on_unknown_shipment_is_404(boss):
    assert boss.post(status_url(999999), {"status": "packed"}, format="json").status_code == 404


# --- moving a shipment ------------------------------------------------------------------------------------------


def move(client, shipment, **data):
    return client.post(status_url(shipment.pk), data, format="json")


def test_full_journey_and_order_follows(boss, alice, alice_shipment):
    r = move(boss, alice_shipment, status="packed", note="Boxed")
    assert r.status_code == 200
    assert r.json()["status"] == "packed"
    assert order_status(alice_shipment) == "processing"

    r = move(boss, alice_shipment, status="shipped", tracking_number="1Z-ABC-123", carrier="dhl")
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["tracking_number"], r.json()["carrier"]) == ("shipped", "1Z-ABC-123", "dhl")
    assert order_status(alice_shipment) == "shipped"

    assert move(boss, alice_shipment, status="in_transit", note="Hub").status_code == 200
    assert order_status(alice_shipment) == "shipped"

    r = move(boss, alice_shipment, status="delivered")
    assert r.status_code == 200
    assert order_status(alice_shipment) == "delivered"

    assert [(e["status"], e["note"]) for e in r.json()["events"]] == [
        ("pending", "Order placed"), ("packed", "Boxed"), ("shipped", ""), ("in_transit", "Hub"),
        ("delivered", ""),
    ]
    # The customer sees the same.
    body = alice.get(detail(alice_shipment.pk)).json()
    assert body["status"] == "delivered" and len(body["events"]) == 5
    order = alice.get(f"/api/orders/{alice_shipment.order_id}/").json()
    assert order["status"] == "delivered"
    assert order["shipment"]["tracking_number"] == "1Z-ABC-123"


def test_shipped_straight_to_delivered(boss, alice_shipment):
    move(boss, alice_shipment, status="packed")
    move(boss, alice_shipment, status="shipped", tracking_number="TRACK-9")
    assert move(boss, alice_shipment, status="delivered").status_code == 200
    assert order_status(alice_shipment) == "delivered"


@pytest.mark.parametrize("path, target", [
    ([], "shipped"),
    ([], "delivered"),
    ([], "in_transit"),
    ([], "pending"),
    (["packed"], "packed"),
    (["packed"], "delivered"),
    (["packed"], "pending"),
    (["packed", "shipped"], "packed"),
    (["packed", "shipped", "in_transit"], "shipped"),
    (["packed", "shipped", "delivered"], "in_transit"),
    (["packed", "shipped", "delivered"], "delivered"),
])
def test_invalid_transitions_are_409(boss, alice_shipment, path, target):
    for step in path:
        assert move(boss, alice_shipment, status=step, tracking_number="TRACK-1").status_code == 200
    before_status = Shipment.objects.get(pk=alice_shipment.pk).status
    before_order = order_status(alice_shipment)
    before_events = events(alice_shipment)

    response = move(boss, alice_shipment, status=target, tracking_number="TRACK-1")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition"
    assert body["current"] == before_status
    assert Shipment.objects.get(pk=alice_shipment.pk).status == before_status
    assert order_status(alice_shipment) == before_order
    assert events(alice_shipment) == before_events


def test_cancelled_shipment_cannot_move(boss, alice, alice_shipment):
    assert alice.post(f"/api/orders/{alice_shipment.order_id}/cancel/").status_code == 200
    response = move(boss, alice_shipment, status="packed")
    assert response.status_code == 409
    assert response.json()["current"] == "cancelled"
    assert order_status(alice_shipment) == "cancelled"


def test_staff_cannot_cancel_through_shipping(boss, alice_shipment):
    response = move(boss, alice_shipment, status="cancelled")
    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    assert Shipment.objects.get(pk=alice_shipment.pk).status == "pending"


def test_shipping_needs_a_tracking_number(boss, alice_shipment):
    move(boss, alice_shipment, status="packed")
    response = move(boss, alice_shipment, status="shipped", carrier="ups")
    assert response.status_code == 400
    assert response.json() == {"tracking_number": ["A tracking number is required to ship."]}
    shipment = Shipment.objects.get(pk=alice_shipment.pk)
    # Nothing of the refused request stuck, not even the carrier.
    assert (shipment.status, shipment.carrier, shipment.tracking_number) == ("packed", "postal", "")
    assert order_status(alice_shipment) == "processing"
    assert [s for s, _ in events(alice_shipment)] == ["pending", "packed"]


def test_tracking_number_given_earlier_is_enough_to_ship(boss, alice_shipment):
    move(boss, alice_shipment, status="packed", tracking_number="EARLY-1")
    response = move(boss, alice_shipment, status="shipped")
    assert response.status_code == 200
    assert response.json()["tracking_number"] == "EARLY-1"


@pytest.mark.parametrize("data, field", [
    ({}, "status"),
    ({"status": "lost"}, "status"),
    ({"status": None}, "status"),
    ({"status": "packed", "carrier": "pigeon"}, "carrier"),
    ({"status": "packed", "tracking_number": "abc"}, "tracking_number"),
    ({"status": "packed", "tracking_number": "has spaces 1"}, "tracking_number"),
    ({"status": "packed", "tracking_number": "x" * 65}, "tracking_number"),
    ({"status": "packed", "note": "n" * 501}, "note"),
])
def test_bad_status_input_is_400(boss, alice_shipment, data, field):
    response = move(boss, alice_shipment, **data)
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert Shipment.objects.get(pk=alice_shipment.pk).status == "pending"
    assert events(alice_shipment) == [("pending", "Order placed")]


def test_malformed_json_is_400(boss, alice_shipment):
    response = boss.post(status_url(alice_shipment.pk), data="{", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_status_change_is_atomic_with_the_order(boss, alice_shipment, monkeypatch):
    # The order's receiver runs inside the shipment's transaction: if it fails, the shipment does not move.
    from legacy_monolith.orders import receivers

    def explode(*args, **kwargs):
        raise RuntimeError("order table on fire")

    monkeypatch.setattr(receivers.Order.objects, "filter", explode)
    response = move(boss, alice_shipment, status="packed")
    assert response.status_code == 500
    assert Shipment.objects.get(pk=alice_shipment.pk).status == "pending"
    assert events(alice_shipment) == [("pending", "Order placed")]
    monkeypatch.undo()
    assert order_status(alice_shipment) == "placed"


def test_moving_a_shipment_does_not_touch_stock(boss, alice_shipment):
    product = Product.objects.get(pk=alice_shipment.order.lines.get().product_id)
    move(boss, alice_shipment, status="packed")
    assert Product.objects.get(pk=product.pk).stock == product.stock
