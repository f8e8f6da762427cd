"""The catalog's stock events (extracted/catalog/services.py ``stock_changed``, events/outbox.py): every stock
change the service makes writes ``catalog.stock.changed`` in its own transaction, with the stock after it; a
change refused or rolled back writes none. In the PostgreSQL pass the service's database is PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from extracted.catalog import reservations
from extracted.catalog.events.outbox import record
from extracted.catalog.models import outbox, products
from extracted.catalog.models import reservations as reservation_table
from tests.extracted.catalog.conftest import PRODUCTS, SERVICE_TOKEN, items
from tests.support.servers import scratch_database

RESERVATIONS = "/api/catalog/reservations/"
AUTH = {"X-Service-Token": SERVICE_TOKEN}


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    with scratch_database(tmp_path / "db") as url:
        yield url


@pytest.fixture
def client(client, monkeypatch):  # the shared client, with the service token configured
    monkeypatch.setenv("CATALOG_SERVICE_TOKEN", SERVICE_TOKEN)
    return client


def events(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event_id, outbox.c.subject, outbox.c.payload).order_by(outbox.c.id))
        out = []
        for row in rows:
            body = json.loads(row.payload)
            assert body["id"] == row.event_id and body["subject"] == row.subject == "catalog.stock.changed"
            assert body["source"] == "catalog" and body["at"].endswith("Z")
            out.append(body["data"])
        return out


def test_each_stock_change_writes_its_event_with_the_stock_after_it(client, engine, shop, staff_headers) -> None:
    held = client.post(RESERVATIONS, json=items((1, 2), (2, 1)), headers={**AUTH, "Idempotency-Key": "c1"}).json()
    client.post(RESERVATIONS, json=items((1, 2), (2, 1)), headers={**AUTH, "Idempotency-Key": "c1"})  # a retry
    assert client.post(f"{RESERVATIONS}{held['id']}/release/", headers=AUTH).status_code == 200
    assert client.post(f"{PRODUCTS}5/stock/", json={"delta": -3, "reason": "breakage"},
                       headers=staff_headers).status_code == 200
    kept = client.post(RESERVATIONS, json=items((3, 1)), headers={**AUTH, "Idempotency-Key": "c2"}).json()
    client.post(f"{RESERVATIONS}{kept['id']}/commit/", headers=AUTH)   # the stock stays taken: no event
    forgotten = client.post(RESERVATIONS, json=items((2, 3)), headers={**AUTH, "Idempotency-Key": "c3"}).json()
    with engine.begin() as conn:
        conn.execute(update(reservation_table).where(reservation_table.c.id == forgotten["id"])
                     .values(expires_at=reservation_table.c.created_at))
    assert reservations.expire_due(engine) == 1
    r1, r3 = held["id"], forgotten["id"]
    assert events(engine) == [
        {"product": 1, "stock": 3, "delta": -2, "reason": "reserved", "reservation": r1},
        {"product": 2, "stock": 2, "delta": -1, "reason": "reserved", "reservation": r1},
        {"product": 1, "stock": 5, "delta": 2, "reason": "released", "reservation": r1},
        {"product": 2, "stock": 3, "delta": 1, "reason": "released", "reservation": r1},
        {"product": 5, "stock": 1, "delta": -3, "reason": "adjusted"},
        {"product": 3, "stock": 0, "delta": -1, "reason": "reserved", "reservation": kept["id"]},
        {"product": 2, "stock": 0, "delta": -3, "reason": "reserved", "reservation": r3},
        {"product": 2, "stock": 3, "delta": 3, "reason": "expired", "reservation": r3},
    ]


def test_a_refused_change_writes_no_event(client, engine, shop, staff_headers) -> None:
    short = client.post(RESERVATIONS, json=items((1, 1), (3, 2)), headers={**AUTH, "Idempotency-Key": "s"})
    assert short.status_code == 409 and short.json()["code"] == "out_of_stock"   # product 1 was taken, then undone
    assert client.post(f"{PRODUCTS}2/stock/", json={"delta": -99}, headers=staff_headers).status_code == 409
    assert events(engine) == []


def test_an_event_rolls_back_with_its_transaction(engine, shop) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(update(products).where(products.c.id == 1).values(stock=0))
        record(conn, outbox, "catalog.stock.changed", {"product": 1}, source="catalog")
        raise RuntimeError("the change failed after its event was written")
    assert events(engine) == []
