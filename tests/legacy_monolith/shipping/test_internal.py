"""The internal shipping API the orders service's checkout saga calls: a shipment per order, asked for and
cancelled by the order's id, the same answer however often a step is run again."""

from __future__ import annotations

import pytest
from django.test import Client

from legacy_monolith import switches
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.orders import services as order_services
from legacy_monolith.orders.models import Order
from legacy_monolith.orders.receivers import ORDERS_SERVICE_SWITCH
from legacy_monolith.shipping.models import Shipment, ShipmentEvent
from legacy_monolith.shipping.services import shipment_set_status

pytestmark = pytest.mark.django_db

CREATE = "/api/shipping/internal/shipments/"
CANCEL = "/api/shipping/internal/shipments/cancel/"
TOKEN = "orders-service-token-for-tests-0123456789"  # noqa: S105 - a test's own token
AUTH = {"X-Service-Token": TOKEN}
SHIP_TO = {"full_name": "A", "line1": "B", "city": "C", "postal_code": "1", "country": "SE"}


@pytest.fixture(autouse=True)
def _token(settings):
    settings.ORDERS_SERVICE_TOKEN = TOKEN


def post(url: str, body: object, headers: dict[str, str] | None = None):
    return Client().post(url, body, content_type="application/json", headers=AUTH if headers is None else headers)


def test_a_shipment_for_an_order_the_monolith_has_no_row_of_yet():
    """The orders service's order reaches this database later (the data split): the shipment comes first."""
    assert not Order.objects.filter(pk=4242).exists()
    first = post(CREATE, {"order": 4242, "user": 3, "carrier": "dhl"})
    assert first.status_code == 201
    body = first.json()
    assert body == {"id": body["id"], "order": 4242, "carrier": "dhl", "tracking_number": "", "status": "pending"}
    assert list(ShipmentEvent.objects.filter(shipment_id=body["id"]).values_list("status", flat=True)) == ["pending"]
    assert Shipment.objects.get(pk=body["id"]).user_id == 3  # the customer's shipments are found by it


def test_the_customer_sees_the_shipment_before_the_order_reaches_this_database(customer, other_customer):
    """Shipping scopes by the shipment's own user, not by a join to an order this database may not have yet."""
    made = post(CREATE, {"order": 4343, "user": customer.pk}).json()
    mine = Client()
    mine.force_login(customer)
    assert [s["id"] for s in mine.get("/api/shipping/shipments/").json()["results"]] == [made["id"]]
    assert mine.get(f"/api/shipping/shipments/{made['id']}/").status_code == 200
    theirs = Client()
    theirs.force_login(other_customer)
    assert theirs.get("/api/shipping/shipments/").json()["results"] == []
    assert theirs.get(f"/api/shipping/shipments/{made['id']}/").status_code == 404


def test_asking_again_answers_the_same_shipment_and_makes_no_second():
    first = post(CREATE, {"order": 7, "user": 3, "carrier": "ups"}).json()
    again = post(CREATE, {"order": 7, "user": 3, "carrier": "ups"})
    assert (again.status_code, again.json()) == (200, first)
    assert Shipment.objects.filter(order_id=7).count() == 1
    assert ShipmentEvent.objects.filter(shipment_id=first["id"]).count() == 1


def test_the_same_order_with_another_carrier_is_an_idempotency_conflict():
    post(CREATE, {"order": 8, "user": 3})  # postal by default, as checkout's
    other = post(CREATE, {"order": 8, "user": 3, "carrier": "fedex"})
    assert other.status_code == 409
    assert other.json() == {"detail": "Order 8 has a shipment by postal for user 3 already, not by fedex for user 3.",
                            "code": "idempotency_conflict"}
    another_user = post(CREATE, {"order": 8, "user": 4})
    assert (another_user.status_code, another_user.json()["code"]) == (409, "idempotency_conflict")
    assert Shipment.objects.get(order_id=8).user_id == 3


def test_cancel_is_the_same_answer_every_time_and_fine_when_nothing_was_made():
    assert post(CANCEL, {"order": 9}).json() == {"shipment": None}
    made = post(CREATE, {"order": 9, "user": 3}).json()
    first = post(CANCEL, {"order": 9})
    assert (first.status_code, first.json()) == (200, {**made, "status": "cancelled"})
    again = post(CANCEL, {"order": 9})
    assert again.json() == first.json()
    assert list(ShipmentEvent.objects.filter(shipment_id=made["id"]).values_list("status", flat=True)) == [
        "pending", "cancelled"]


def test_a_shipment_on_its_way_cannot_be_cancelled(staff):
    made = post(CREATE, {"order": 10, "user": 3}).json()
    shipment_set_status(made["id"], status="packed")
    shipment_set_status(made["id"], status="shipped", tracking_number="TRACK-1")
    refused = post(CANCEL, {"order": 10})
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid_transition"
    assert Shipment.objects.get(pk=made["id"]).status == "shipped"


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"user": 1}, "order", "This field is required."),
    ({"order": 0, "user": 1}, "order", "Ensure this value is greater than or equal to 1."),
    ({"order": "x", "user": 1}, "order", "A valid integer is required."),
    ({"order": 2**63, "user": 1}, "order", "Ensure this value is less than or equal to 9223372036854775807."),
    ({"order": 1}, "user", "This field is required."),
    ({"order": 1, "user": -1}, "user", "Ensure this value is greater than or equal to 1."),
    ({"order": 1, "user": 1, "carrier": "pigeon"}, "carrier", '"pigeon" is not a valid choice.'),
])
def test_bad_requests_name_the_field(body, field, message):
    response = post(CREATE, body)
    assert (response.status_code, response.json()) == (400, {field: [message]})
    assert not Shipment.objects.exists()


@pytest.mark.parametrize("url", [CREATE, CANCEL])
def test_only_the_orders_service_token_opens_it(url, settings):
    assert post(url, {"order": 1}, headers={}).status_code == 401
    wrong = post(url, {"order": 1}, headers={"X-Service-Token": "nope"})
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "Invalid service token.")
    settings.ORDERS_SERVICE_TOKEN = ""
    assert post(url, {"order": 1}).status_code == 503
    assert not Shipment.objects.exists()


def test_once_the_orders_service_owns_the_orders_the_monolith_no_longer_moves_them(make_product, customer):
    """The signal receiver steps aside: the monolith's copy of the orders refuses writes after the cutover,
    and the service follows the shipment by its event instead."""
    cart, _ = Cart.objects.get_or_create(user=customer)
    CartItem.objects.create(cart=cart, product=make_product(stock=5), quantity=1)
    order = order_services.checkout(user=customer, cart=cart, shipping=SHIP_TO)
    shipment = Shipment.objects.get(order=order)
    switches.set_switch(ORDERS_SERVICE_SWITCH, True)
    switches.clear_cache()
    shipment_set_status(shipment.pk, status="packed")
    assert Order.objects.get(pk=order.pk).status == "placed"
    switches.set_switch(ORDERS_SERVICE_SWITCH, False)
    switches.clear_cache()
    shipment_set_status(shipment.pk, status="shipped", tracking_number="T-2")
    assert Order.objects.get(pk=order.pk).status == "shipped"


# --- the address book, for the checkout's saved addresses ------------------------------------------------------------

ADDRESSES = "/api/accounts/internal/addresses/"


def test_a_users_saved_address_is_answered_and_anothers_is_not_found(customer, other_customer):
    from legacy_monolith.accounts.models import Address

    mine = Address.objects.create(user=customer, full_name="Alice", line1="1 Road", city="Oxford",
                                  postal_code="OX1", country="GB", phone="123")
    found = post(ADDRESSES, {"user": customer.pk, "address": mine.pk})
    assert (found.status_code, found.json()) == (200, {"full_name": "Alice", "line1": "1 Road", "line2": "",
                                                       "city": "Oxford", "postal_code": "OX1", "country": "GB"})
    theirs = post(ADDRESSES, {"user": other_customer.pk, "address": mine.pk})
    assert (theirs.status_code, theirs.json()["detail"]) == (404, "No such address in your address book.")
    assert post(ADDRESSES, {"user": customer.pk}).json() == {"address": ["This field is required."]}
    assert post(ADDRESSES, {"user": customer.pk, "address": 1}, headers={}).status_code == 401
