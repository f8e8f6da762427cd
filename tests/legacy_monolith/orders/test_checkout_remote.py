"""Checkout and cancel after the catalog's cutover: the catalog gateway in remote mode, against the real catalog
service process. The service owns the stock; the monolith writes orders, lines, cart and shipment only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from legacy_monolith import switches
from legacy_monolith.cart.models import CartItem
from legacy_monolith.catalog import gateway
from legacy_monolith.catalog.models import Product
from legacy_monolith.orders import services
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment, ShipmentEvent
from strangler.processes import free_port

pytestmark = pytest.mark.django_db(transaction=True)  # real commits: on_commit runs, the service is separate

CHECKOUT = "/api/orders/checkout/"


@pytest.fixture
def remote(catalog_service):
    switches.set_switch(gateway.SWITCH, True)
    return catalog_service


@pytest.fixture
def alice(client_for, customer):
    return client_for(customer)


def local_stock(*products: Product) -> list[int]:
    return [Product.objects.get(pk=p.pk).stock for p in products]


def cart_lines(user) -> list[tuple[int, int]]:
    return list(CartItem.objects.filter(cart__user=user).order_by("product_id").values_list("product_id", "quantity"))


def assert_nothing_written_locally(user, products, stock, lines) -> None:
    assert Order.objects.count() == 0
    assert OrderLine.objects.count() == 0
    assert Shipment.objects.count() == 0
    assert ShipmentEvent.objects.count() == 0
    assert local_stock(*products) == stock
    assert cart_lines(user) == lines


def test_checkout_takes_stock_at_the_service_not_locally(remote, alice, customer, make_product, fill_cart, ship_to):
    a = make_product(price=Decimal("10.00"), stock=5, name="Chef knife", sku="KN-1")
    b = make_product(price=Decimal("2.50"), stock=3, name="Whetstone", sku="WS-1")
    remote.mirror(a, b)
    # The owner's data is what the order keeps (after cutover the local copy follows it by reverse sync).
    remote.set(a, price=Decimal("12.00"), name="Chef knife (new)")
    fill_cart(customer, {a: 2, b: 3})

    response = alice.post(CHECKOUT, {"shipping_address": ship_to, "carrier": "dhl"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total"] == "31.50"
    assert [(line["sku"], line["name"], line["unit_price"], line["quantity"]) for line in body["lines"]] == [
        ("KN-1", "Chef knife (new)", "12.00", 2), ("WS-1", "Whetstone", "2.50", 3)]
    assert body["shipment"]["carrier"] == "dhl" and body["shipment"]["status"] == "pending"
    assert (remote.stock(a), remote.stock(b)) == (3, 0)
    assert local_stock(a, b) == [5, 3]  # never taken locally: the service's change comes back by reverse sync
    assert cart_lines(customer) == []
    assert Order.objects.get().total == Decimal("31.50")


def test_service_shortage_is_the_same_409_and_writes_nothing(remote, alice, customer, make_product, fill_cart,
                                                             ship_to):
    a = make_product(stock=5, sku="KN-1")
    b = make_product(stock=5, sku="WS-1")
    remote.mirror(a, b)
    remote.set(b, stock=1)  # locally it still looks in stock: the owner decides
    fill_cart(customer, {a: 1, b: 2})

    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": "Not enough stock for: WS-1 (requested 2, available 1).",
                               "code": "out_of_stock",
                               "items": [{"product": b.pk, "sku": "WS-1", "requested": 2, "available": 1}]}
    assert_nothing_written_locally(customer, [a, b], [5, 5], [(a.pk, 1), (b.pk, 2)])
    assert (remote.stock(a), remote.stock(b)) == (5, 1)


def test_inactive_at_the_service_is_out_of_stock(remote, alice, customer, make_product, fill_cart, ship_to):
    a = make_product(stock=5, sku="KN-1")
    remote.mirror(a, is_active=False)
    fill_cart(customer, {a: 1})
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 409
    assert response.json()["items"] == [{"product": a.pk, "sku": "KN-1", "requested": 1, "available": 0}]


def test_local_failure_after_the_reservation_releases_it(remote, alice, customer, make_product, fill_cart, ship_to,
                                                         monkeypatch):
    a = make_product(stock=4)
    remote.mirror(a)
    fill_cart(customer, {a: 3})
    seen_at_service = []

    def explode(order, **kwargs):
        seen_at_service.append(remote.stock(a))  # the reservation is in place when the local part fails
        raise RuntimeError("shipment service exploded")

    monkeypatch.setattr(shipping_services, "shipment_create", explode)
    alice.raise_request_exception = False

    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")

    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert seen_at_service == [1]
    assert remote.stock(a) == 4  # compensated
    assert_nothing_written_locally(customer, [a], [4], [(a.pk, 3)])


def test_failed_compensation_is_logged_and_the_error_goes_on(remote, customer, make_product, fill_cart, ship_to,
                                                             monkeypatch, caplog):
    a = make_product(stock=4)
    remote.mirror(a)
    cart = fill_cart(customer, {a: 1})
    def release_fails(self, quantities):
        raise OSError("catalog service went away")

    monkeypatch.setattr(shipping_services, "shipment_create", lambda order, **kw: 1 / 0)
    monkeypatch.setattr(gateway.RemoteStock, "release", release_fails)
    with pytest.raises(ZeroDivisionError):
        services.checkout(user=customer, cart=cart, shipping=ship_to)
    assert remote.stock(a) == 3  # the reservation could not be given back...
    record = next(r for r in caplog.records if "could not release a reservation" in r.getMessage())
    assert record.release == {a.pk: 1}  # ...and the log says what to give back


def test_cart_changed_during_checkout_gives_the_reservation_back(remote, customer, make_product, fill_cart,
                                                                 ship_to, monkeypatch):
    """A double-clicked "Place order": the other request emptied the cart between our read and our lock."""
    a = make_product(stock=4)
    remote.mirror(a)
    cart = fill_cart(customer, {a: 2})
    real_reserve = gateway.RemoteStock.reserve

    def reserve_then_other_checkout_wins(self, quantities):
        snapshots = real_reserve(self, quantities)
        CartItem.objects.filter(cart=cart).delete()
        return snapshots

    monkeypatch.setattr(gateway.RemoteStock, "reserve", reserve_then_other_checkout_wins)
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError) as empty:
        services.checkout(user=customer, cart=cart, shipping=ship_to)
    assert empty.value.detail == {"cart": ["Your cart is empty."]}
    assert remote.stock(a) == 4
    assert Order.objects.count() == 0


def test_service_down_is_a_503_never_a_500(remote, alice, customer, make_product, fill_cart, ship_to, settings):
    a = make_product(stock=4)
    fill_cart(customer, {a: 1})
    settings.CATALOG_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # nobody listens there

    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")

    assert response.status_code == 503
    assert response.json() == {"detail": "The catalog service is unavailable; please try again in a moment.",
                               "code": "catalog_unavailable"}
    assert_nothing_written_locally(customer, [a], [4], [(a.pk, 1)])


def test_service_down_on_the_checkout_page_is_a_message(remote, client, customer, make_product, fill_cart, ship_to,
                                                        settings):
    a = make_product(stock=4)
    fill_cart(customer, {a: 1})
    settings.CATALOG_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    client.force_login(customer)
    response = client.post("/checkout/", ship_to, follow=True)
    assert response.status_code == 200
    assert "The catalog service is unavailable" in response.content.decode()
    assert Order.objects.count() == 0


def test_wrong_token_is_a_503(remote, alice, customer, make_product, fill_cart, ship_to, settings):
    a = make_product(stock=4)
    remote.mirror(a)
    fill_cart(customer, {a: 1})
    settings.CATALOG_SERVICE_TOKEN = "not-the-token"
    response = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "catalog_unavailable"
    assert remote.stock(a) == 4


def test_cancel_gives_the_stock_back_at_the_service(remote, alice, customer, make_product, fill_cart, ship_to):
    a = make_product(stock=5)
    b = make_product(stock=5)
    remote.mirror(a, b)
    fill_cart(customer, {a: 2, b: 1})
    order_id = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json").json()["id"]
    assert (remote.stock(a), remote.stock(b)) == (3, 4)

    response = alice.post(f"/api/orders/{order_id}/cancel/")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert (remote.stock(a), remote.stock(b)) == (5, 5)
    assert local_stock(a, b) == [5, 5]


def test_cancel_that_fails_locally_gives_nothing_back(remote, alice, customer, make_product, fill_cart, ship_to,
                                                      monkeypatch):
    a = make_product(stock=5)
    remote.mirror(a)
    fill_cart(customer, {a: 2})
    order_id = alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json").json()["id"]
    monkeypatch.setattr(shipping_services, "shipment_cancel", lambda shipment: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        services.cancel(order_id)
    assert Order.objects.get(pk=order_id).status == "placed"
    assert remote.stock(a) == 3  # released only once the cancel commits


def test_cancel_when_the_service_is_down_still_cancels_and_logs(remote, alice, customer, make_product, fill_cart,
                                                                ship_to, settings, caplog):
    a = make_product(stock=5)
    remote.mirror(a)
    fill_cart(customer, {a: 2})
    order = Order.objects.get(pk=alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json").json()["id"])
    settings.CATALOG_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    response = alice.post(f"/api/orders/{order.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    record = next(r for r in caplog.records if "could not give its stock back" in r.getMessage())
    assert record.release == {a.pk: 2} and record.order == order.number


def test_switching_back_to_local_takes_stock_locally_again(remote, alice, customer, make_product, fill_cart,
                                                           ship_to):
    a = make_product(stock=5)
    remote.mirror(a)
    fill_cart(customer, {a: 1})
    assert alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json").status_code == 201
    switches.set_switch(gateway.SWITCH, False)
    fill_cart(customer, {a: 1})
    assert alice.post(CHECKOUT, {"shipping_address": ship_to}, format="json").status_code == 201
    assert remote.stock(a) == 4
    assert local_stock(a) == [4]
