"""The cart service in process, against fakes of the catalog and of the monolith's sessions: what the contract
test (against the real monolith) cannot set up, or would take long to: the owners down, a product deleted
under a line, quantities and their caps, and what is asked of whom."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from extracted.cart.models import cart_items, carts
from tests.extracted.cart.conftest import CART, ITEMS, FakeCatalog, FakeSessions, user


def rows(engine: Engine) -> tuple[list[Any], list[Any]]:
    with engine.connect() as conn:
        return (list(conn.execute(select(carts.c.id, carts.c.user_id).order_by(carts.c.id))),
                list(conn.execute(select(cart_items.c.cart_id, cart_items.c.product_id, cart_items.c.quantity)
                                  .order_by(cart_items.c.id))))


def test_a_user_s_cart_priced_at_the_catalog_s_current_prices(client, catalog: FakeCatalog, engine) -> None:
    assert client.get(CART, headers=user(7)).json() == {"id": None, "items": [], "item_count": 0, "total": "0.00"}
    response = client.post(ITEMS, json={"product": 1, "quantity": 2}, headers=user(7))
    assert response.status_code == 201
    assert response.json() == {"id": 1, "items": [{"id": 1, "product": {"id": 1, "sku": "SKU-0000001",
                                                                      "name": "Product 1", "price": "12.50"},
                                                   "quantity": 2, "line_total": "25.00"}],
                               "item_count": 2, "total": "25.00"}
    assert "vary" not in response.headers  # a Token caller: the monolith never looked at the session
    catalog.products[1]["price"] = "7.15"
    body = client.get(CART, headers=user(7)).json()
    assert (body["items"][0]["line_total"], body["total"]) == ("14.30", "14.30")
    assert rows(engine) == ([(1, 7)], [(1, 1, 2)])


def test_anonymous_cart_lives_in_the_monolith_s_session(client, sessions: FakeSessions, engine) -> None:
    response = client.post(ITEMS, json={"product": 2, "quantity": 3})
    assert response.status_code == 201
    cookie = response.headers["set-cookie"]
    key = cookie.split(";")[0].split("=", 1)[1]
    assert sessions.sessions[key] == {"cart_id": 1} and response.headers["vary"] == "Cookie"
    # The TestClient keeps the cookie: the next call finds the same cart, and no cookie is answered.
    again = client.post(ITEMS, json={"product": 2, "quantity": 4})
    assert again.json()["items"][0]["quantity"] == 7
    assert "set-cookie" not in again.headers
    assert rows(engine) == ([(1, None)], [(1, 2, 7)])


def test_a_stale_session_cookie_is_removed_even_on_a_405(client) -> None:
    client.cookies.set("sessionid", "nosuchsession0123456789")
    response = client.put(CART, json={})
    assert response.status_code == 405
    assert response.headers["set-cookie"].startswith('sessionid=""; expires=Thu, 01 Jan 1970')


@pytest.mark.parametrize("value", ["bad!", "short", "x" * 41, ""])
def test_a_malformed_session_cookie_is_removed_from_every_answer(client, sessions: FakeSessions, value) -> None:
    client.cookies.set("sessionid", value)
    for path in (CART, "/healthz", "/api/cart/nothing/", CART + "?format=xml"):
        response = client.get(path)
        assert response.headers["set-cookie"] == ('sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; '
                                                  "Path=/; SameSite=Lax"), path
        assert "Cookie" in response.headers["vary"]
    created = client.post(ITEMS, json={"product": 1})
    assert created.status_code == 201 and created.headers.get_list("set-cookie")[0].startswith("sessionid=")
    assert len(created.headers.get_list("set-cookie")) == 1 and 'sessionid=""' not in created.headers["set-cookie"]


def test_line_cap_and_stock(client, engine) -> None:
    assert client.post(ITEMS, json={"product": 2, "quantity": 999}, headers=user(1)).status_code == 201
    capped = client.post(ITEMS, json={"product": 2, "quantity": 2}, headers=user(1))
    assert (capped.status_code, capped.json()) == (400, {"quantity": [
        "A cart line holds at most 1000; this one has 999 already."]})
    short = client.post(ITEMS, json={"product": 3, "quantity": 3}, headers=user(1))
    assert (short.status_code, short.json()) == (409, {
        "detail": "Only 2 of SKU-0000003 in stock.", "code": "out_of_stock",
        "items": [{"product": 3, "sku": "SKU-0000003", "requested": 3, "available": 2}]})
    assert rows(engine)[1] == [(1, 2, 999)]


def test_validation_asks_the_catalog_only_about_ids_that_can_exist(client, catalog: FakeCatalog) -> None:
    for body in ({"product": "x"}, {"product": -1}, {"product": 10**30}, {"product": None}, {}):
        response = client.post(ITEMS, json=body, headers=user(1))
        assert response.status_code == 400
    assert catalog.asked == []
    inactive = client.post(ITEMS, json={"product": 4}, headers=user(1))
    assert inactive.json() == {"product": ['Invalid pk "4" - object does not exist.']}
    assert [r.url.params["ids"] for r in catalog.asked] == ["4"]


def test_a_line_whose_product_is_gone(client, catalog: FakeCatalog) -> None:
    client.post(ITEMS, json={"product": 1}, headers=user(1))
    client.post(ITEMS, json={"product": 2}, headers=user(1))
    del catalog.products[1]
    body = client.get(CART, headers=user(1)).json()
    assert [i["product"]["id"] for i in body["items"]] == [2] and body["item_count"] == 1
    assert client.patch(ITEMS + "1/", json={"quantity": 1}, headers=user(1)).json() == {
        "detail": "No such item in your cart."}


def test_owners_down_are_503_with_a_code(client, catalog: FakeCatalog, sessions: FakeSessions, engine) -> None:
    catalog.down = True
    response = client.post(ITEMS, json={"product": 1}, headers=user(1))
    assert (response.status_code, response.json()["code"]) == (503, "catalog_unavailable")
    assert rows(engine) == ([], [])
    catalog.down = False
    sessions.down = True
    response = client.post(ITEMS, json={"product": 1})  # anonymous without a session: a cart, then the session
    assert (response.status_code, response.json()["code"]) == (503, "session_unavailable")
    client.cookies.set("sessionid", "somesession0123456789")
    assert client.get(CART).json()["code"] == "session_unavailable"


def test_tokens_not_set_are_503_not_configured(client, monkeypatch) -> None:
    monkeypatch.delenv("CATALOG_SERVICE_TOKEN")
    response = client.post(ITEMS, json={"product": 1}, headers=user(1))
    assert (response.status_code, response.json()["code"]) == (503, "not_configured")
    assert "CATALOG_SERVICE_TOKEN" in response.json()["detail"]


def test_only_the_router_s_token_says_who_calls(client) -> None:
    client.post(ITEMS, json={"product": 1}, headers=user(5))
    for forged in ({"X-User-Id": "5"}, {"Authorization": "Token abc"}, {"X-Remote-User": "5"}):
        assert client.get(CART, headers=forged).json()["id"] is None  # anonymous: someone else's cart is not theirs
    bad = client.get(CART, headers={"X-Identity-Token": "not.a.jwt"})
    assert (bad.status_code, bad.json()) == (401, {"detail": "Invalid token."})
