"""The orders service SIGKILLed inside each step of a checkout, after the step's effect and before DBOS records
it (the worst moment), then started again: the saga resumes by itself, and the client asking again with its
Idempotency-Key gets the one order. Every owner is checked for exactly-once effects: one order, stock taken
once, one reservation (committed), the cart emptied once, one shipment, one ``orders.order.placed`` event.

And a checkout whose shipment cannot be had (the shipping API unreachable) killed inside its compensations:
started again, it finishes them: no order, the stock back, the cart as it was, no shipment.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.extracted.orders.conftest import CSRF, Stage, mint

FORWARD_POINTS = ["after_reserve", "after_create_order", "after_clear_cart", "after_request_shipment",
                  "after_commit", "after_place_order"]


def _placed_by_itself(stage: Stage, user: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if [o["status"] for o in stage.orders_of(user)] == ["placed"]:
            return
        time.sleep(0.1)
    raise AssertionError(f"the checkout was not resumed: orders {stage.orders_of(user)}\n"
                         f"{stage.process.log_tail() if stage.process else ''}")


def _killed_during(stage: Stage, user: int, key: str) -> None:
    with pytest.raises(httpx.HTTPError):
        stage.checkout(user, key=key, timeout=30)
    stage.wait_killed()


@pytest.mark.parametrize("point", FORWARD_POINTS)
def test_killed_inside_a_step_the_checkout_resumes_and_places_one_order(stage: Stage, point: str) -> None:
    knife, cork = stage.product(stock=5), stage.product(stock=2)
    user = stage.new_user()
    stage.fill_cart(user, {knife: 2, cork: 1})
    stage.start_orders(ORDERS_CRASH_AT=f"checkout.{point}")
    _killed_during(stage, user, key=f"crash-{point}")
    stage.start_orders()   # DBOS resumes the checkout in the background as it launches
    try:
        _placed_by_itself(stage, user)   # before anyone asks again
        answer = stage.checkout(user, key=f"crash-{point}")
        assert answer.status_code == 201, answer.text
        order = answer.json()
        [placed] = stage.orders_of(user)
        assert (placed["id"], placed["status"]) == (order["id"], "placed")
        assert stage.lines_of(order["id"]) == {knife: 2, cork: 1}
        assert (stage.stock(knife), stage.stock(cork)) == (3, 1)
        [workflow] = stage.workflow_of(user)
        assert stage.reservations_of(workflow) == [(workflow, "committed")]
        assert stage.cart_of(user) == {}
        assert [status for _, status in stage.shipments_of(order["id"])] == ["pending"]
        events = [e for e in map(json.loads, stage.events("orders.order.placed")) if e["data"]["order"] == order["id"]]
        assert len(events) == 1
    finally:
        stage.stop_orders()


@pytest.mark.parametrize("point", ["after_restore_cart", "after_release"])
def test_killed_inside_its_compensations_a_failed_checkout_still_undoes_everything(stage: Stage, point: str) -> None:
    knife = stage.product(stock=5)
    user = stage.new_user()
    stage.fill_cart(user, {knife: 2})
    # The shipment step fails (as if the shipping API did not answer): the saga compensates, and dies inside.
    stage.start_orders(ORDERS_CRASH_AT=f"checkout.{point}", ORDERS_FAIL_AT="checkout.request_shipment")
    _killed_during(stage, user, key=f"undo-{point}")
    stage.start_orders()
    try:
        answer = stage.checkout(user, key=f"undo-{point}")
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "checkout_unavailable" and "did not answer" in answer.json()["detail"]
        assert stage.orders_of(user) == []
        assert stage.stock(knife) == 5
        [workflow] = stage.workflow_of(user)
        assert stage.reservations_of(workflow) == [(workflow, "released")]
        assert stage.cart_of(user) == {knife: 2}
    finally:
        stage.stop_orders()


@pytest.mark.parametrize("point", ["after_cancel_shipment", "after_mark_cancelled", "after_return_stock"])
def test_killed_inside_a_cancel_it_finishes_and_gives_the_stock_back_once(stage: Stage, point: str) -> None:
    knife = stage.product(stock=5)
    user = stage.new_user()
    stage.fill_cart(user, {knife: 2})
    stage.start_orders(ORDERS_CRASH_AT=f"cancel.{point}")
    order = stage.checkout(user).json()
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"{stage.orders_url}/api/orders/{order['id']}/cancel/", timeout=30,
                   headers={"X-Identity-Token": mint(user), "Host": "localhost", **CSRF})
    stage.wait_killed()
    stage.start_orders()
    try:
        deadline = time.monotonic() + 30
        while [o["status"] for o in stage.orders_of(user)] != ["cancelled"] or stage.stock(knife) != 5:
            assert time.monotonic() < deadline, (stage.orders_of(user), stage.stock(knife))
            time.sleep(0.1)
        time.sleep(0.5)   # nothing more comes: the stock was given back once
        assert stage.stock(knife) == 5
        assert [status for _, status in stage.shipments_of(order["id"])] == ["cancelled"]
        assert len([e for e in map(json.loads, stage.events("orders.order.cancelled"))
                    if e["data"]["order"] == order["id"]]) == 1
    finally:
        stage.stop_orders()


@pytest.mark.parametrize("point", ["reserve.answer_lost", "clear_cart.answer_lost"])
def test_a_step_whose_answers_were_lost_is_still_undone(stage: Stage, point: str) -> None:
    """The step's call had its effect every time but no answer came back (its tries ran out): the compensation
    finds the effect by the checkout's key (the reservation released by key, the cart's keyed clear asked again
    for the lines it took) and undoes it."""
    knife = stage.product(stock=5)
    user = stage.new_user()
    stage.fill_cart(user, {knife: 2})
    stage.start_orders(ORDERS_FAIL_AT=f"checkout.{point}")
    try:
        answer = stage.checkout(user, key=f"lost-{point}")
        assert (answer.status_code, answer.json()["code"]) == (503, "checkout_unavailable"), answer.text
        assert stage.orders_of(user) == [] and stage.stock(knife) == 5
        [workflow] = stage.workflow_of(user)
        assert stage.reservations_of(workflow) == [(workflow, "released")]
        assert stage.cart_of(user) == {knife: 2}
    finally:
        stage.stop_orders()
