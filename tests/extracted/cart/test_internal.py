"""The cart service's internal API (``extracted/cart/internal.py``): the token, the owner in the body, the cart
routes the monolith's gateway calls, and clear/restore's idempotency by key (the orders' checkout saga)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from extracted.cart import internal
from extracted.cart.models import cart_items, cart_requests
from tests.extracted.cart.conftest import SERVICE_TOKEN, FakeCatalog

TOKEN = {"X-Service-Token": SERVICE_TOKEN}
BASE = "/api/cart/internal/"


def post(client: Any, name: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post(f"{BASE}{name}/", json=body, headers=TOKEN if headers is None else headers)


def lines(answer: dict[str, Any]) -> dict[int, int]:
    return {line["product"]: line["quantity"] for line in answer["lines"]}


def test_every_route_wants_the_service_token(client: Any) -> None:
    for name in ("read", "add", "set-quantity", "remove", "clear", "restore"):
        refused = post(client, name, {"user": 1}, headers={})
        assert refused.status_code == 401, name
        assert refused.json()["code"] == "not_authenticated"
        wrong = post(client, name, {"user": 1}, headers={"X-Service-Token": "nope"})
        assert wrong.status_code == 401, name
    # A shopper's identity says nothing here either: only the token authorises.
    assert client.post(f"{BASE}read/", json={"user": 1}, headers={"X-Identity-Token": "x"}).status_code == 401


def test_the_owner_is_exactly_one_of_user_and_session(client: Any) -> None:
    for body in ({}, {"user": 1, "session": 2}, {"user": "1"}, {"user": True}, {"user": 0}, {"session": -3}, []):
        answer = post(client, "read", body)
        assert answer.status_code == 400, body
    assert post(client, "read", {"session": None}).json() == {"cart": None, "lines": []}
    assert post(client, "read", {"user": 7}).json() == {"cart": None, "lines": []}


def test_user_and_anonymous_carts_through_the_gateway_routes(client: Any, catalog: FakeCatalog) -> None:
    added = post(client, "add", {"user": 7, "product": 1, "quantity": 2})
    assert added.status_code == 200, added.text
    cart = added.json()["cart"]
    assert lines(added.json()) == {1: 2}
    again = post(client, "add", {"user": 7, "product": 1, "quantity": 1}).json()
    assert again["cart"] == cart and lines(again) == {1: 3}
    # Beyond stock (5), a product not on sale, a product that does not exist: the public API's answers.
    short = post(client, "add", {"user": 7, "product": 1, "quantity": 3})
    assert short.status_code == 409 and short.json()["code"] == "out_of_stock"
    assert post(client, "add", {"user": 7, "product": 4, "quantity": 1}).status_code == 400
    assert post(client, "add", {"user": 7, "product": 99, "quantity": 1}).json() == {
        "product": ['Invalid pk "99" - object does not exist.']}
    line = again["lines"][0]["id"]
    assert lines(post(client, "set-quantity", {"user": 7, "item": line, "quantity": 5}).json()) == {1: 5}
    assert post(client, "set-quantity", {"user": 7, "item": line, "quantity": 6}).status_code == 409
    # Another owner's line is not found.
    assert post(client, "set-quantity", {"user": 8, "item": line, "quantity": 1}).json() == {
        "detail": "No such item in your cart."}
    assert post(client, "remove", {"session": cart, "item": line}).status_code == 404  # a user's, not anonymous
    assert post(client, "remove", {"user": 7, "item": line}).json() == {"cart": cart, "lines": []}

    anonymous = post(client, "add", {"session": None, "product": 2, "quantity": 4}).json()
    assert anonymous["cart"] not in (None, cart) and lines(anonymous) == {2: 4}
    assert post(client, "read", {"session": anonymous["cart"]}).json() == anonymous
    # A session naming a cart that is not an anonymous one gets a new cart, as the monolith's create=True does.
    other = post(client, "add", {"session": cart, "product": 2, "quantity": 1}).json()
    assert other["cart"] not in (cart, anonymous["cart"])


def _filled(client: Any, user: int, items: dict[int, int]) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for product, quantity in items.items():
        answer = post(client, "add", {"user": user, "product": product, "quantity": quantity}).json()
    return answer


def test_clear_answers_what_it_cleared_and_a_repeat_clears_nothing_more(client: Any, engine: Engine) -> None:
    before = _filled(client, 3, {1: 2, 2: 10})
    body = {"user": 3, "idempotency_key": "order-1:clear"}
    first = post(client, "clear", body)
    assert first.status_code == 200, first.text
    assert first.json() == {"cart": before["cart"], "lines": before["lines"]}
    assert post(client, "read", {"user": 3}).json() == {"cart": before["cart"], "lines": []}
    # The shopper adds again; a repeat of the clear (a retried saga step) answers the same, clears nothing.
    _filled(client, 3, {3: 1})
    repeat = post(client, "clear", {"idempotency_key": "order-1:clear", "user": 3})  # key order is no matter
    assert repeat.status_code == 200 and repeat.json() == first.json()
    assert lines(post(client, "read", {"user": 3}).json()) == {3: 1}
    # The same key with another body, or for a restore: refused, naming the key; nothing changes.
    reused = post(client, "clear", {"user": 4, "idempotency_key": "order-1:clear"})
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused" and "'order-1:clear'" in reused.json()["detail"]
    as_restore = post(client, "restore", {"user": 3, "lines": [], "idempotency_key": "order-1:clear"})
    assert as_restore.status_code == 422 and "'order-1:clear'" in as_restore.json()["detail"]
    assert lines(post(client, "read", {"user": 3}).json()) == {3: 1}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cart_requests)).scalar() == 1
    # Clearing a cart nobody has: an empty answer, kept for its key like any other.
    assert post(client, "clear", {"session": None, "idempotency_key": "k2"}).json() == {"cart": None, "lines": []}


def test_restore_puts_the_lines_back_once(client: Any, engine: Engine) -> None:
    before = _filled(client, 5, {1: 2, 2: 10})
    cleared = post(client, "clear", {"user": 5, "idempotency_key": "o-9:clear"}).json()
    _filled(client, 5, {2: 1})  # added again meanwhile: the restored line adds up
    body = {"user": 5, "lines": cleared["lines"], "idempotency_key": "o-9:restore"}
    first = post(client, "restore", body)
    assert first.status_code == 200, first.text
    assert lines(first.json()) == {1: 2, 2: 11}
    # The line of product 1 comes back under its old id (free); product 2's line is the new one.
    old_ids = {line["product"]: line["id"] for line in before["lines"]}
    assert {line["product"]: line["id"] for line in first.json()["lines"]}[1] == old_ids[1]
    repeat = post(client, "restore", body)
    assert repeat.status_code == 200 and repeat.json() == first.json()
    assert lines(post(client, "read", {"user": 5}).json()) == {1: 2, 2: 11}  # not 4 and 21
    changed = post(client, "restore", {**body, "lines": [{"product": 1, "quantity": 1}]})
    assert changed.status_code == 422 and "'o-9:restore'" in changed.json()["detail"]
    assert lines(post(client, "read", {"user": 5}).json()) == {1: 2, 2: 11}
    # A user without a cart gets one; at most 1000 a line; bad lines are named.
    made = post(client, "restore", {"user": 6, "lines": [{"product": 2, "quantity": 1000}], "idempotency_key": "r6"})
    assert lines(made.json()) == {2: 1000}
    capped = post(client, "restore", {"user": 6, "lines": [{"product": 2, "quantity": 5}], "idempotency_key": "r7"})
    assert lines(capped.json()) == {2: 1000}
    bad = post(client, "restore", {"user": 6, "lines": [{"product": 2}, {"product": 0, "quantity": 1}],
                                   "idempotency_key": "r8"})
    assert bad.status_code == 400 and set(bad.json()) == {"lines[0].quantity", "lines[1].product"}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(cart_items)).scalar() == 3


def test_concurrent_repeats_of_one_clear_clear_once(engine: Engine) -> None:
    from extracted.cart import services

    cart = services.user_cart_get_or_create(engine, 11)
    with engine.begin() as conn:
        conn.execute(cart_items.insert().values(cart_id=cart, product_id=1, quantity=3, added_at=services.now_in(conn)))
    owner = internal.Owner(user=11, session=None)
    asked = internal.digest("clear", {"user": 11})
    answers: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda: answers.append(internal.cart_clear_keyed(engine, owner, "same", asked)))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 6
    assert all(a == answers[0] for a in answers) and lines(answers[0]) == {1: 3}


def test_concurrent_first_calls_of_one_key_on_the_suites_database(tmp_path: Path) -> None:
    """Twelve threads send the same clear, then the same restore, for the first time at once, on the suite's kind
    of database (PostgreSQL in its pass: the losers' INSERT of the key fails once the winner commits, and they run
    again to find its answer): one clear, one restore, every thread told the same."""
    from extracted.cart import services
    from extracted.cart.db import make_engine
    from extracted.cart.migrate import upgrade_head
    from tests.support.servers import scratch_database

    with scratch_database(tmp_path / "cart") as url:
        engine = make_engine(url)
        try:
            upgrade_head(engine)
            cart = services.user_cart_get_or_create(engine, 21)
            with engine.begin() as conn:
                for product, quantity in ((1, 3), (2, 1)):
                    conn.execute(cart_items.insert().values(cart_id=cart, product_id=product, quantity=quantity,
                                                            added_at=services.now_in(conn)))
            owner = internal.Owner(user=21, session=None)

            def race(call: Any) -> list[Any]:
                answers: list[Any] = []
                barrier = threading.Barrier(12)

                def one() -> None:
                    barrier.wait()
                    try:
                        answers.append(call())
                    except Exception as exc:  # noqa: BLE001 - the test reports it
                        answers.append(exc)

                threads = [threading.Thread(target=one) for _ in range(12)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                return answers

            cleared = race(lambda: internal.cart_clear_keyed(engine, owner, "race", internal.digest("clear", {})))
            assert all(a == cleared[0] for a in cleared) and lines(cleared[0]) == {1: 3, 2: 1}, cleared
            back = [(line["id"], line["product"], line["quantity"]) for line in cleared[0]["lines"]]
            restored = race(lambda: internal.cart_restore_keyed(engine, owner, back, "race:restore",
                                                                internal.digest("restore", {})))
            assert all(a == restored[0] for a in restored) and lines(restored[0]) == {1: 3, 2: 1}, restored
            with engine.connect() as conn:
                assert conn.execute(select(func.sum(cart_items.c.quantity))).scalar() == 4
                assert conn.execute(select(func.count()).select_from(cart_requests)).scalar() == 2
        finally:
            engine.dispose()


@pytest.mark.parametrize("key", ["", "x" * 201, 5, None])
def test_a_key_is_required(client: Any, key: Any) -> None:
    answer = post(client, "clear", {"user": 1, "idempotency_key": key})
    assert answer.status_code == 400 and "idempotency_key" in answer.json()


def test_the_models_match_the_migrations(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from extracted.cart.models import Base

    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in differences if not (d[0] == "remove_table" and d[1].name.startswith("alembic_version"))] == []
