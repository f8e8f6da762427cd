"""Checkout as a saga across four real processes: what the client is told, and what every owner holds after.

Each outcome is checked in every database it touches: the order (orders), the stock and its reservation
(catalog), the cart (cart), the shipment (the monolith), the event (the orders' outbox).
"""

from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from tests.extracted.orders.conftest import CSRF, SHIP_TO, Stage, mint


def test_a_checkout_places_the_order_and_every_owner_agrees(running: Stage) -> None:
    knife, cork = running.product(stock=5, price="12.50"), running.product(stock=3, price="0.99")
    user = running.new_user()
    running.fill_cart(user, {knife: 2, cork: 1})
    answer = running.checkout(user, key="first-try")
    assert answer.status_code == 201, answer.text
    order = answer.json()
    assert order["status"] == "placed" and order["number"] == f"ORD-{order['id']:08d}"
    assert order["total"] == "25.99"
    assert [(line["product"], line["quantity"], line["unit_price"]) for line in order["lines"]] == [
        (knife, 2, "12.50"), (cork, 1, "0.99")]
    assert order["shipping_address"] == {**SHIP_TO, "line2": "", "country": "SE"}
    assert order["shipment"]["status"] == "pending" and order["shipment"]["carrier"] == "postal"
    # every owner
    assert (running.stock(knife), running.stock(cork)) == (3, 2)
    [workflow] = running.workflow_of(user)
    assert running.reservations_of(workflow) == [(workflow, "committed")]
    assert running.cart_of(user) == {}
    assert running.shipments_of(order["id"]) == [(order["shipment"]["id"], "pending")]
    [event] = [json.loads(e) for e in running.events("orders.order.placed") if json.loads(e)["data"]["order"]
               == order["id"]]
    assert event["data"]["lines"] == [{"product": knife, "quantity": 2}, {"product": cork, "quantity": 1}]
    # the order reads back as the API renders it
    again = running.checkout(user, key="first-try")
    assert (again.status_code, again.json()) == (201, order)   # the same key: the same order, nothing twice
    assert (running.stock(knife), len(running.orders_of(user)), len(running.shipments_of(order["id"]))) == (3, 1, 1)


def test_the_same_key_with_another_body_is_refused(running: Stage) -> None:
    knife = running.product(stock=5)
    user = running.new_user()
    running.fill_cart(user, {knife: 1})
    assert running.checkout(user, key="k-1").status_code == 201
    other = running.checkout(user, {"shipping_address": {**SHIP_TO, "city": "Lund"}}, key="k-1")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused" and "'k-1'" in other.json()["detail"]
    # another user's same key is another checkout
    someone = running.new_user()
    running.fill_cart(someone, {knife: 1})
    assert running.checkout(someone, key="k-1").status_code == 201
    assert running.stock(knife) == 3


def test_out_of_stock_is_the_monoliths_409_and_leaves_everything_as_it_was(running: Stage) -> None:
    knife, cork = running.product(stock=5), running.product(stock=1)
    user = running.new_user()
    running.fill_cart(user, {knife: 2, cork: 3})
    answer = running.checkout(user)
    assert answer.status_code == 409
    body = answer.json()
    assert body["code"] == "out_of_stock"
    assert [(i["product"], i["requested"], i["available"]) for i in body["items"]] == [(cork, 3, 1)]
    assert (running.stock(knife), running.stock(cork)) == (5, 1)
    assert running.cart_of(user) == {knife: 2, cork: 3}
    assert running.orders_of(user) == []


def test_an_empty_cart_is_the_monoliths_400(running: Stage) -> None:
    answer = running.checkout(running.new_user())
    assert (answer.status_code, answer.json()) == (400, {"cart": ["Your cart is empty."]})


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"non_field_errors": ["Give either address (a saved address id) or shipping_address."]}),
    ({"shipping_address": {**SHIP_TO, "country": "Sweden"}, "carrier": "pigeon"},
     {"shipping_address": {"country": ["Ensure this field has no more than 2 characters.",
                                       "Use a two-letter country code (ISO 3166-1)."]},
      "carrier": ['"pigeon" is not a valid choice.']}),
    ({"shipping_address": "Malmö"},
     {"shipping_address": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}}),
    ({"address": 0}, {"address": ["Ensure this value is greater than or equal to 1."]}),
])
def test_a_bad_body_is_refused_as_the_monolith_refuses_it(running: Stage, body: dict, errors: dict) -> None:
    knife = running.product(stock=5)
    user = running.new_user()
    running.fill_cart(user, {knife: 1})
    answer = running.checkout(user, body)
    assert (answer.status_code, answer.json()) == (400, errors)
    assert running.stock(knife) == 5 and running.workflow_of(user) == []


def _cancel(stage: Stage, user: int, order_id: int) -> httpx.Response:
    return httpx.post(f"{stage.orders_url}/api/orders/{order_id}/cancel/", timeout=60,
                      headers={"X-Identity-Token": mint(user), "Host": "localhost", **CSRF})


def test_cancel_gives_the_stock_back_once_and_cancels_the_shipment(running: Stage) -> None:
    knife = running.product(stock=5)
    user = running.new_user()
    running.fill_cart(user, {knife: 2})
    order = running.checkout(user).json()
    assert running.stock(knife) == 3
    cancelled = _cancel(running, user, order["id"])
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["shipment"]["status"]) == ("cancelled", "cancelled")
    assert {k: v for k, v in body.items() if k not in ("status", "shipment", "updated_at")} == {
        k: v for k, v in order.items() if k not in ("status", "shipment", "updated_at")}
    assert running.stock(knife) == 5
    assert running.shipments_of(order["id"]) == [(order["shipment"]["id"], "cancelled")]
    assert len([e for e in map(json.loads, running.events("orders.order.cancelled"))
                if e["data"]["order"] == order["id"]]) == 1
    again = _cancel(running, user, order["id"])
    assert (again.status_code, again.json()) == (409, {
        "detail": f"Order {order['number']} is cancelled and can no longer be cancelled.",
        "code": "invalid_transition", "current": "cancelled"})
    assert running.stock(knife) == 5
    assert _cancel(running, running.new_user(), order["id"]).status_code == 404   # another's order: not found


def test_a_shipment_on_its_way_is_not_cancelled_and_nothing_changes(running: Stage) -> None:
    knife = running.product(stock=5)
    user = running.new_user()
    running.fill_cart(user, {knife: 1})
    order = running.checkout(user).json()
    with running.shop_db.begin() as conn:
        conn.execute(text("UPDATE shipping_shipment SET status = 'shipped' WHERE order_id = :o"), {"o": order["id"]})
    refused = _cancel(running, user, order["id"])
    assert (refused.status_code, refused.json()) == (409, {
        "detail": f"Shipment {order['shipment']['id']} is already shipped.", "code": "invalid_transition",
        "current": "shipped"})
    assert [o["status"] for o in running.orders_of(user)] == ["placed"] and running.stock(knife) == 4


def test_the_checkout_page_places_its_order_at_the_service_once_the_gateway_is_remote(running: Stage) -> None:
    """The monolith's own checkout page (branch by abstraction): with the orders gateway remote the page sends the
    order to the service (the signed-in user, the form's key), and a form sent twice places one order."""
    customer = 2   # the seeded customer1@example.com
    knife = running.product(stock=5)
    running.fill_cart(customer, {knife: 2})
    running.shop.manage("orders_gateway", "remote")
    try:
        with httpx.Client(base_url=running.shop.url, timeout=60, headers={"Host": "localhost"}) as web:
            web.get("/accounts/login/")
            web.post("/accounts/login/", data={"username": "customer1@example.com", "password": "shop-demo-password",
                                               "csrfmiddlewaretoken": web.cookies["csrftoken"]})
            page = web.get("/checkout/").text
            key = re.search(r'name="checkout_key" value="([0-9a-f]{32})"', page)
            assert key, page[:2000]
            form = {**{k: v for k, v in SHIP_TO.items()}, "line2": "", "checkout_key": key.group(1),
                    "csrfmiddlewaretoken": web.cookies["csrftoken"]}
            placed = web.post("/checkout/", data=form)
            assert (placed.status_code, placed.headers["location"]) == (302, "/orders/"), placed.text[:500]
            again = web.post("/checkout/", data=form)   # the same form once more: the same order
            assert again.status_code == 302
        [order] = running.orders_of(customer)
        assert order["status"] == "placed" and order["ship_country"] == "SE"
        assert running.stock(knife) == 3 and running.cart_of(customer) == {}
    finally:
        running.shop.manage("orders_gateway", "local")


def test_a_saved_address_is_read_from_the_monolith_and_anothers_is_not_found(running: Stage) -> None:
    customer = 2   # the seeded customer1@example.com: the address book is the monolith's
    code = ("from legacy_monolith.accounts.models import Address; "
            "a = Address.objects.create(user_id=2, full_name='Saved Sam', line1='Kungsgatan 2', city='Lund', "
            "postal_code='222 22', country='se'); print(a.pk)")
    address = int(running.shop.manage("shell", "-c", code).stdout.split()[-1])
    knife = running.product(stock=5)
    running.fill_cart(customer, {knife: 1})
    order = running.checkout(customer, {"address": address})
    assert order.status_code == 201, order.text
    assert order.json()["shipping_address"] == {"full_name": "Saved Sam", "line1": "Kungsgatan 2", "line2": "",
                                                "city": "Lund", "postal_code": "222 22", "country": "SE"}
    someone = running.new_user()
    running.fill_cart(someone, {knife: 1})
    refused = running.checkout(someone, {"address": address})
    assert (refused.status_code, refused.json()) == (400, {"address": ["No such address in your address book."]})
    assert running.stock(knife) == 4


def test_checkouts_waiting_on_a_lost_owner_hold_no_thread(running: Stage) -> None:
    """The catalog is down: 45 checkouts (more than the service's 40 threads) each wait their 20 s and answer 503
    checkout_pending while their sagas keep trying; meanwhile the service still answers: an empty cart's checkout
    is refused at once. When the catalog is back, every one of them ends undone (their carts as they were)."""
    knife = running.product(stock=100)
    users = [running.new_user() for _ in range(45)]
    for user in users:
        running.fill_cart(user, {knife: 1})
    assert running.catalog_process is not None
    running.catalog_process.stop()
    try:
        answers: dict[int, httpx.Response] = {}

        def buy(user: int) -> None:
            answers[user] = running.checkout(user, key=f"waiting-{user}", timeout=120)

        threads = [threading.Thread(target=buy, args=(user,)) for user in users]
        for thread in threads:
            thread.start()
        time.sleep(3)
        started = time.monotonic()
        empty = running.checkout(running.new_user())
        assert (empty.status_code, time.monotonic() - started < 10) == (400, True), empty.text
        for thread in threads:
            thread.join(120)
        assert {(a.status_code, a.json()["code"]) for a in answers.values()} <= {
            (503, "checkout_pending"), (503, "checkout_unavailable")}, {a.status_code for a in answers.values()}
    finally:
        running.catalog_process.start()
        running.catalog_process.wait_healthy(f"{running.catalog_url}/healthz")
    deadline = time.monotonic() + 60
    while running.pending_workflows():
        assert time.monotonic() < deadline, running.pending_workflows()
        time.sleep(0.5)
    assert all(running.cart_of(user) == {knife: 1} and running.orders_of(user) == [] for user in users)
    assert running.stock(knife) == 100
