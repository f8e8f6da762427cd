"""The internal stock endpoints the monolith's catalog gateway calls after cutover: reserve and release.

``POST /api/catalog/stock/reserve/`` takes stock all or nothing in one transaction (409 ``out_of_stock`` in the
monolith's body shape on a shortage); ``POST /api/catalog/stock/release/`` gives it back. Both answer only
``X-Service-Token`` equal to ``CATALOG_SERVICE_TOKEN``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from extracted.catalog import services
from extracted.catalog.db import make_engine
from extracted.catalog.errors import OutOfStock
from extracted.catalog.models import products
from strangler.processes import ManagedProcess, free_port
from tests.extracted.catalog.conftest import SERVICE_TOKEN as TOKEN
from tests.extracted.catalog.conftest import items
from tests.extracted.catalog.dataset import load, monolith_rows

RESERVE = "/api/catalog/stock/reserve/"
RELEASE = "/api/catalog/stock/release/"
AUTH = {"X-Service-Token": TOKEN}
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def client(client, monkeypatch):  # the shared client, with the service token configured
    monkeypatch.setenv("CATALOG_SERVICE_TOKEN", TOKEN)
    return client


# --- reserve ---------------------------------------------------------------------------------------------------


def test_reserve_takes_stock_and_answers_snapshots(client, shop, stock):
    response = client.post(RESERVE, json=items((2, 3), (1, 2)), headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == {"items": [
        {"product": 1, "sku": shop[1]["sku"], "name": shop[1]["name"], "price": f"{shop[1]['price']:.2f}",
         "stock": 3},
        {"product": 2, "sku": shop[2]["sku"], "name": shop[2]["name"], "price": f"{shop[2]['price']:.2f}",
         "stock": 0},
    ]}
    assert stock(1, 2) == {1: 3, 2: 0}


def test_price_is_rendered_like_the_rest_of_the_api(client, shop):
    body = client.post(RESERVE, json=items((5, 1)), headers=AUTH).json()
    assert body["items"][0]["price"] == "10.00"  # product 5 costs exactly 10
    assert body["items"][0]["price"] == client.get("/api/catalog/products/5/").json()["price"]


def test_duplicate_products_are_summed(client, shop, stock):
    response = client.post(RESERVE, json=items((1, 2), (1, 2)), headers=AUTH)
    assert response.status_code == 200
    assert [i["product"] for i in response.json()["items"]] == [1]
    assert stock(1) == {1: 1}
    refused = client.post(RESERVE, json=items((1, 1), (1, 1)), headers=AUTH)
    assert refused.status_code == 409
    assert refused.json()["items"] == [{"product": 1, "sku": shop[1]["sku"], "requested": 2, "available": 1}]


def test_shortage_is_409_in_the_monoliths_shape_and_takes_nothing(client, shop, stock):
    response = client.post(RESERVE, json=items((1, 2), (2, 4), (3, 1)), headers=AUTH)
    assert response.status_code == 409
    sku2 = shop[2]["sku"]
    assert response.json() == {
        "detail": f"Not enough stock for: {sku2} (requested 4, available 3).",
        "code": "out_of_stock",
        "items": [{"product": 2, "sku": sku2, "requested": 4, "available": 3}],
    }
    assert stock(1, 2, 3) == {1: 5, 2: 3, 3: 1}  # product 1's update was rolled back


def test_every_short_product_is_named(client, shop, stock):
    body = client.post(RESERVE, json=items((3, 2), (2, 9)), headers=AUTH).json()
    assert [(i["product"], i["requested"], i["available"]) for i in body["items"]] == [(2, 9, 3), (3, 2, 1)]
    assert body["detail"] == (f"Not enough stock for: {shop[2]['sku']} (requested 9, available 3), "
                              f"{shop[3]['sku']} (requested 2, available 1).")


def test_inactive_product_has_nothing_available(client, shop, stock):
    response = client.post(RESERVE, json=items((11, 1)), headers=AUTH)
    assert response.status_code == 409
    assert response.json()["items"] == [{"product": 11, "sku": shop[11]["sku"], "requested": 1, "available": 0}]
    assert stock(11) == {11: 9}


def test_unknown_product_is_400_and_takes_nothing(client, shop, stock):
    response = client.post(RESERVE, json=items((1, 1), (999, 1)), headers=AUTH)
    assert response.status_code == 400
    assert response.json() == {"items": ['Invalid pk "999" - object does not exist.']}
    assert stock(1) == {1: 5}


# --- release ---------------------------------------------------------------------------------------------------


def test_release_adds_back(client, shop, stock):
    assert client.post(RESERVE, json=items((1, 5), (3, 1)), headers=AUTH).status_code == 200
    response = client.post(RELEASE, json=items((1, 5), (3, 1)), headers=AUTH)
    assert response.status_code == 200
    assert [(i["product"], i["stock"]) for i in response.json()["items"]] == [(1, 5), (3, 1)]
    assert stock(1, 3) == {1: 5, 3: 1}


def test_release_of_an_inactive_or_vanished_product(client, shop, stock):
    response = client.post(RELEASE, json=items((11, 2), (999, 1)), headers=AUTH)
    assert response.status_code == 200
    assert [i["product"] for i in response.json()["items"]] == [11]
    assert stock(11) == {11: 11}


# --- authorisation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [RESERVE, RELEASE])
def test_missing_or_wrong_token_is_401(client, shop, stock, path):
    missing = client.post(path, json=items((1, 1)))
    assert missing.status_code == 401
    assert missing.json()["code"] == "not_authenticated"
    assert missing.headers["www-authenticate"] == "X-Service-Token"
    wrong = client.post(path, json=items((1, 1)), headers={"X-Service-Token": TOKEN + "x"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Invalid service token.", "code": "not_authenticated"}
    # The router's identity token (even a staff one) is not the service token.
    from tests.extracted.catalog.conftest import mint

    staff = client.post(path, json=items((1, 1)), headers={"X-Identity-Token": mint(1, staff=True)})
    assert staff.status_code == 401
    assert stock(1) == {1: 5}


def test_unset_token_variable_is_503_naming_it(client, shop, stock, monkeypatch):
    monkeypatch.delenv("CATALOG_SERVICE_TOKEN")
    response = client.post(RESERVE, json=items((1, 1)), headers=AUTH)
    assert response.status_code == 503
    assert response.json()["code"] == "not_configured"
    assert "CATALOG_SERVICE_TOKEN" in response.json()["detail"]
    assert stock(1) == {1: 5}


def test_only_post(client, shop):
    assert client.get(RESERVE).status_code == 401  # authorisation first, like every other view
    response = client.get(RESERVE, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST, OPTIONS"


# --- validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"items": ["This field is required."]}),
    ({"items": None}, {"items": ["This field may not be null."]}),
    ({"items": {"product": 1}}, {"items": ['Expected a list of items but got type "dict".']}),
    ({"items": []}, {"items": ["This list may not be empty."]}),
    ({"items": [{"product": 1, "quantity": 1}] * 101}, {"items": ["Ensure this field has no more than 100 elements."]}),
    ({"items": [{"product": 1, "quantity": 0}]},
     {"items": [{"quantity": ["Ensure this value is greater than or equal to 1."]}]}),
    ({"items": [{"product": 1, "quantity": 1001}]},
     {"items": [{"quantity": ["Ensure this value is less than or equal to 1000."]}]}),
    ({"items": [{"product": 1, "quantity": 1}, {"product": 0, "quantity": 1}]},
     {"items": [{}, {"product": ["Ensure this value is greater than or equal to 1."]}]}),
    ({"items": [{"product": 1.5, "quantity": 1}]}, {"items": [{"product": ["A valid integer is required."]}]}),
    ({"items": [{"product": "x", "quantity": True}]},
     {"items": [{"product": ["A valid integer is required."], "quantity": ["A valid integer is required."]}]}),
    ({"items": [{"quantity": 1}]}, {"items": [{"product": ["This field is required."]}]}),
    ({"items": ["1"]}, {"items": [{"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}]}),
    ([1], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_bad_bodies_are_400_with_field_errors(client, shop, stock, body, errors):
    response = client.post(RESERVE, json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json() == errors
    assert client.post(RELEASE, json=body, headers=AUTH).json() == errors
    assert stock(1) == {1: 5}


def test_malformed_json_is_400(client, shop):
    response = client.post(RESERVE, content=b"{", headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_whole_numbers_as_strings_are_accepted(client, shop, stock):
    response = client.post(RESERVE, json={"items": [{"product": "1", "quantity": "2"}]}, headers=AUTH)
    assert response.status_code == 200
    assert stock(1) == {1: 3}


# --- concurrency: the last unit is sold exactly once ---------------------------------------------------------------


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_reserves_of_the_last_unit_one_wins(db_url, shop, stock):
    # Each thread has its own engine (own connections) on the same SQLite file, like separate workers.
    engines = [make_engine(db_url) for _ in range(8)]
    try:
        results = _race([lambda e=e: services.stock_reserve(e, lambda: items((2, 1), (3, 1))) for e in engines])
    finally:
        for e in engines:
            e.dispose()
    won = [r for r in results if isinstance(r, dict)]
    lost = [r for r in results if isinstance(r, OutOfStock)]
    assert len(won) == 1, results
    assert len(lost) == 7, results
    assert all(r.extra["items"][0]["product"] == 3 and r.extra["items"][0]["available"] == 0 for r in lost)
    assert stock(2, 3) == {2: 2, 3: 0}  # the losers' decrement of product 2 was rolled back


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    engine = make_engine(url)
    from extracted.catalog.migrate import upgrade_head

    upgrade_head(engine)
    cats, rows = monolith_rows(10)
    for row in rows:
        row.update(stock=1, is_active=True, price=Decimal("3.50"))
    load(engine, cats, rows)
    port = free_port()
    process = ManagedProcess("catalog", [sys.executable, "-m", "extracted.catalog", "--port", str(port),
                                         "--workers", "2"],
                             log_path=tmp_path / "catalog.log",
                             env={"CATALOG_DATABASE_URL": url, "CATALOG_SERVICE_TOKEN": TOKEN}, cwd=REPO)
    with process:
        process.wait_healthy(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", engine
    engine.dispose()


@pytest.mark.slow
def test_concurrent_reserves_against_the_real_process(served):
    base, engine = served

    def buy() -> httpx.Response:
        with httpx.Client(base_url=base, timeout=30) as c:
            return c.post(RESERVE, json=items((4, 1)), headers=AUTH)

    responses = _race([buy for _ in range(10)])
    assert all(isinstance(r, httpx.Response) for r in responses), responses
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 9
    winner = next(r for r in responses if r.status_code == 200)
    assert winner.json()["items"] == [{"product": 4, "sku": "SKU-0000004", "name": winner.json()["items"][0]["name"],
                                       "price": "3.50", "stock": 0}]
    with engine.connect() as conn:
        assert conn.execute(select(products.c.stock).where(products.c.id == 4)).scalar() == 0
    with httpx.Client(base_url=base) as c:
        assert c.post(RELEASE, json=items((4, 1)), headers=AUTH).json()["items"][0]["stock"] == 1
