"""Concurrent checkouts on real connections: the last unit is sold once, a cart is checked out once.

Each thread gets its own database connection (Django's connections are per thread) and closes it when done;
``transaction=True`` so the threads see each other's committed rows.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog import services as catalog_services
from legacy_monolith.catalog.models import Product
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.shipping.models import Shipment

CHECKOUT = "/api/orders/checkout/"
THREADS = 8
SHIP_TO = {"full_name": "Racer", "line1": "1 Track", "city": "Monza", "postal_code": "20900", "country": "IT"}


def _run_concurrently(calls) -> list:
    """Runs each zero-argument callable in its own thread, released together; returns results (or exceptions)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a checkout thread hung"
    return results


def _client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def _post(client: APIClient):
    def call():
        response = client.post(CHECKOUT, {"shipping_address": SHIP_TO}, format="json")
        return response.status_code, response.json()

    return call


@pytest.mark.django_db(transaction=True)
def test_last_unit_is_sold_exactly_once(category):
    product = Product.objects.create(sku="LAST-1", name="The last one", price="99.00", stock=1, category=category)
    plenty = Product.objects.create(sku="MANY-1", name="Plenty", price="1.00", stock=1000, category=category)
    users = [User.objects.create_user(username=f"racer{i}@example.com", email=f"racer{i}@example.com",
                                      password="x-long-password-1") for i in range(THREADS)]
    for user in users:
        cart = Cart.objects.create(user=user)
        CartItem.objects.create(cart=cart, product=plenty, quantity=2)
        CartItem.objects.create(cart=cart, product=product, quantity=1)
    clients = [_client(user) for user in users]

    results = _run_concurrently([_post(client) for client in clients])

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    statuses = Counter(status for status, _ in results)
    assert statuses == Counter({201: 1, 409: THREADS - 1}), results
    for status, body in results:
        if status == 409:
            assert body["code"] == "out_of_stock"
            assert body["items"] == [{"product": product.pk, "sku": "LAST-1", "requested": 1, "available": 0}]
    winner_body = next(body for status, body in results if status == 201)

    assert Product.objects.get(pk=product.pk).stock == 0
    assert Product.objects.get(pk=plenty.pk).stock == 1000 - 2  # the losers took nothing, not even "plenty"
    assert Order.objects.count() == 1
    order = Order.objects.get()
    assert order.pk == winner_body["id"]
    assert sorted(OrderLine.objects.values_list("product_id", "quantity")) == sorted([(product.pk, 1),
                                                                                       (plenty.pk, 2)])
    assert Shipment.objects.filter(order=order).count() == 1
    assert Shipment.objects.count() == 1
    # The winner's cart is empty; every loser's cart is intact.
    for user in users:
        expected = 0 if user.pk == order.user_id else 2
        assert CartItem.objects.filter(cart__user=user).count() == expected


@pytest.mark.django_db(transaction=True)
def test_same_cart_checked_out_twice_at_once_makes_one_order(customer, make_product, monkeypatch):
    # A double-clicked "Place order": two requests for the same cart, with plenty of stock. The first holds its
    # transaction open a moment after taking stock, so the second has certainly started by the time it commits.
    product = make_product(stock=50)
    cart = Cart.objects.create(user=customer)
    CartItem.objects.create(cart=cart, product=product, quantity=3)
    real_reserve = catalog_services.stock_reserve

    def slow_reserve(quantities):
        real_reserve(quantities)
        time.sleep(0.5)

    monkeypatch.setattr(catalog_services, "stock_reserve", slow_reserve)
    clients = [_client(customer), _client(customer)]

    results = _run_concurrently([_post(client) for client in clients])

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sorted(status for status, _ in results) == [201, 400], results
    assert next(body for status, body in results if status == 400) == {"cart": ["Your cart is empty."]}
    assert Order.objects.count() == 1
    assert OrderLine.objects.count() == 1
    assert Shipment.objects.count() == 1
    assert Product.objects.get(pk=product.pk).stock == 47
    assert CartItem.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_cancel_restocks_once(customer, make_product, fill_cart, ship_to):
    from legacy_monolith.orders import services

    product = make_product(stock=5)
    order = services.checkout(user=customer, cart=fill_cart(customer, {product: 2}), shipping=ship_to)
    clients = [_client(customer) for _ in range(4)]

    def cancel(client):
        def call():
            response = client.post(f"/api/orders/{order.pk}/cancel/")
            return response.status_code, response.json()

        return call

    results = _run_concurrently([cancel(c) for c in clients])

    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sorted(status for status, _ in results) == [200, 409, 409, 409], results
    assert Product.objects.get(pk=product.pk).stock == 5
    assert Order.objects.get(pk=order.pk).status == "cancelled"

