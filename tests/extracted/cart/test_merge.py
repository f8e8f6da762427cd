"""``POST /api/cart/internal/merge/``: the monolith's merge of an anonymous cart into the user's on login
(``legacy_monolith/cart/receivers.py`` and ``services.cart_merge``), for the monolith's gateway to call.

Quantities add up, capped by the product's current stock and by 1000, never below what the user had; a product
the user's cart lacks comes with its quantity as it is; the anonymous cart is deleted. A second call finds it
gone and changes nothing. Only ``X-Service-Token`` = ``CART_SERVICE_TOKEN`` opens it.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from extracted.cart import services
from extracted.cart.catalog import Product
from extracted.cart.models import cart_items, carts
from extracted.cart.services import now_in
from tests.extracted.cart.conftest import MERGE, SERVICE_TOKEN, FakeCatalog

AUTH = {"X-Service-Token": SERVICE_TOKEN}


def make_cart(engine: Engine, user_id: int | None, lines: dict[int, int]) -> int:
    with engine.begin() as conn:
        now = now_in(conn)
        key = conn.execute(insert(carts).values(user_id=user_id, created_at=now, updated_at=now)).inserted_primary_key
        assert key is not None
        for product, quantity in lines.items():
            conn.execute(insert(cart_items).values(cart_id=key[0], product_id=product, quantity=quantity, added_at=now))
        return int(key[0])


def contents(engine: Engine) -> dict[int | None, dict[int, int]]:
    """{user id (None: anonymous): {product: quantity}} over every cart."""
    with engine.connect() as conn:
        owners = dict(conn.execute(select(carts.c.id, carts.c.user_id)).all())
        found: dict[int | None, dict[int, int]] = {owner: {} for owner in owners.values()}
        for cart, product, quantity in conn.execute(select(cart_items.c.cart_id, cart_items.c.product_id,
                                                           cart_items.c.quantity)):
            found[owners[cart]][product] = quantity
    return found


def test_quantities_add_up_capped_by_stock_and_1000_never_below_what_the_user_had(client, engine,
                                                                                  catalog: FakeCatalog) -> None:
    catalog.add(5, stock=0)      # sold out since: the user's line stays as it was
    catalog.add(6, stock=5000)   # the line cap applies
    catalog.add(7, stock=3)      # only the user's cart has it
    catalog.add(8, stock=1)      # only the anonymous cart has it: it comes as it is, beyond stock
    mine = make_cart(engine, 42, {1: 2, 5: 4, 6: 990, 7: 1, 2: 1})
    anonymous = make_cart(engine, None, {1: 2, 5: 3, 6: 20, 8: 4, 2: 5})
    response = client.post(MERGE, json={"cart": anonymous, "user": 42}, headers=AUTH)
    assert (response.status_code, response.json()) == (200, {"cart": mine, "merged": True, "lines": 5})
    # 1: 2+2 within stock 5; 5: max(4, min(7, 0)); 6: min(1010, 5000, 1000); 8: 4 (new line); 2: 1+5
    assert contents(engine) == {42: {1: 4, 5: 4, 6: 1000, 7: 1, 8: 4, 2: 6}}
    assert "vary" not in response.headers and "set-cookie" not in response.headers


def test_stock_caps_what_is_added(client, engine, catalog: FakeCatalog) -> None:
    mine = make_cart(engine, 42, {3: 1})
    anonymous = make_cart(engine, None, {3: 5})  # product 3: stock 2
    client.post(MERGE, json={"cart": anonymous, "user": 42}, headers=AUTH)
    assert contents(engine) == {42: {3: 2}}
    assert mine


def test_a_user_without_a_cart_gets_one(client, engine) -> None:
    anonymous = make_cart(engine, None, {1: 3})
    response = client.post(MERGE, json={"cart": anonymous, "user": 9}, headers=AUTH)
    assert response.json() == {"cart": anonymous + 1, "merged": True, "lines": 1}
    assert contents(engine) == {9: {1: 3}}
    empty = make_cart(engine, None, {})  # an empty anonymous cart is merged (deleted) too, like the monolith's
    assert client.post(MERGE, json={"cart": empty, "user": 9}, headers=AUTH).json()["merged"] is True
    assert contents(engine) == {9: {1: 3}}


def test_idempotent(client, engine) -> None:
    mine = make_cart(engine, 42, {1: 1})
    anonymous = make_cart(engine, None, {1: 1, 2: 2})
    first = client.post(MERGE, json={"cart": anonymous, "user": 42}, headers=AUTH).json()
    after = contents(engine)
    second = client.post(MERGE, json={"cart": anonymous, "user": 42}, headers=AUTH)
    assert (second.status_code, second.json()) == (200, {"cart": mine, "merged": False, "lines": 0})
    assert contents(engine) == after == {42: {1: 2, 2: 2}}
    assert first["merged"] is True
    # Unknown carts and other users' carts are no anonymous carts: nothing happens, no cart is made.
    other = make_cart(engine, 43, {2: 1})
    for body in ({"cart": 999, "user": 44}, {"cart": other, "user": 44}, {"cart": mine, "user": 44}):
        assert client.post(MERGE, json=body, headers=AUTH).json() == {"cart": None, "merged": False, "lines": 0}
    assert contents(engine) == {42: {1: 2, 2: 2}, 43: {2: 1}}


def test_concurrent_merges_of_one_cart_merge_once(engine: Engine) -> None:
    make_cart(engine, 42, {1: 1})
    anonymous = make_cart(engine, None, {1: 2, 2: 3})
    products = {1: Product(1, "A", "a", Decimal("1"), 100, True),
                2: Product(2, "B", "b", Decimal("1"), 100, True)}
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(services.cart_merge(engine, anonymous, 42, products)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.merged for r in results) == [False, False, False, True]
    assert contents(engine) == {42: {1: 3, 2: 3}}


def test_a_product_gone_from_the_catalog_is_dropped_with_the_cart(client, engine, catalog: FakeCatalog) -> None:
    anonymous = make_cart(engine, None, {1: 1, 99: 2})
    assert client.post(MERGE, json={"cart": anonymous, "user": 3}, headers=AUTH).json()["lines"] == 1
    assert contents(engine) == {3: {1: 1}}


def test_the_catalog_down_changes_nothing(client, engine, catalog: FakeCatalog) -> None:
    anonymous = make_cart(engine, None, {1: 1})
    catalog.down = True
    response = client.post(MERGE, json={"cart": anonymous, "user": 3}, headers=AUTH)
    assert (response.status_code, response.json()["code"]) == (503, "catalog_unavailable")
    assert contents(engine) == {None: {1: 1}}


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"cart": ["This field is required."], "user": ["This field is required."]}),
    ({"cart": "x", "user": 0}, {"cart": ["A valid integer is required."],
                                "user": ["Ensure this value is greater than or equal to 1."]}),
    ([1, 2], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_bad_bodies(client, body: Any, errors: dict[str, Any]) -> None:
    response = client.post(MERGE, json=body, headers=AUTH)
    assert (response.status_code, response.json()) == (400, errors)


@pytest.mark.parametrize(("headers", "detail"), [
    ({}, "Service token not provided (X-Service-Token)."),
    ({"X-Service-Token": "wrong"}, "Invalid service token."),
    ({"X-Identity-Token": "a.b.c", "Authorization": "Token abc"}, "Service token not provided (X-Service-Token)."),
])
def test_refused_without_the_token(client, engine, headers: dict[str, str], detail: str) -> None:
    anonymous = make_cart(engine, None, {1: 1})
    response = client.post(MERGE, json={"cart": anonymous, "user": 3}, headers=headers)
    assert (response.status_code, response.json()) == (401, {"detail": detail, "code": "not_authenticated"})
    assert response.headers["www-authenticate"] == "X-Service-Token"
    assert client.get(MERGE, headers=headers).status_code == 401  # the token first, then the method
    assert contents(engine) == {None: {1: 1}}


def test_only_post(client) -> None:
    response = client.get(MERGE, headers=AUTH)
    assert (response.status_code, response.headers["allow"]) == (405, "POST, OPTIONS")


def test_disabled_while_the_token_is_not_set(client, monkeypatch) -> None:
    monkeypatch.delenv("CART_SERVICE_TOKEN")
    response = client.post(MERGE, json={"cart": 1, "user": 1}, headers=AUTH)
    assert (response.status_code, response.json()["code"]) == (503, "not_configured")
