"""Oversell through the whole checkout: 50 customers, each with the last product in their cart, check out at the
same moment for the last 10 units: exactly 10 orders are placed, 40 are told the monolith's 409 out_of_stock,
the stock ends at 0 with nothing held, and the 40 keep their carts."""

from __future__ import annotations

import threading

import httpx

from tests.extracted.orders.conftest import Stage


def test_fifty_customers_race_for_the_last_ten_units(running: Stage) -> None:
    last = running.product(stock=10)
    users = [running.new_user() for _ in range(50)]
    for user in users:
        running.fill_cart(user, {last: 1})
    start = threading.Barrier(len(users))
    answers: dict[int, httpx.Response] = {}

    def buy(user: int) -> None:
        start.wait()
        answers[user] = running.checkout(user, key=f"race-{user}", timeout=120)

    threads = [threading.Thread(target=buy, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    statuses = sorted(answer.status_code for answer in answers.values())
    assert statuses == [201] * 10 + [409] * 40, statuses
    for user, answer in answers.items():
        if answer.status_code == 409:
            body = answer.json()
            assert body["code"] == "out_of_stock" and body["items"][0]["product"] == last, body
            assert running.cart_of(user) == {last: 1} and running.orders_of(user) == []
        else:
            assert running.cart_of(user) == {} and [o["status"] for o in running.orders_of(user)] == ["placed"]
    assert running.stock(last) == 0
    placed = [running.workflow_of(user)[0] for user, answer in answers.items() if answer.status_code == 201]
    assert all(running.reservations_of(w) == [(w, "committed")] for w in placed)
