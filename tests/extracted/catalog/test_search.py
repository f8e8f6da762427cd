"""The product search index (SQLite FTS5 trigram, migration 0002): the same answers as a scan, always."""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import Engine, delete, insert, text, update

from extracted.catalog import search
from extracted.catalog.app import create_app
from extracted.catalog.db import make_engine
from extracted.catalog.filters import product_query
from extracted.catalog.migrate import alembic_config, upgrade_head
from extracted.catalog.models import products
from extracted.catalog.selectors import Reader
from tests.extracted.catalog.dataset import load, monolith_rows

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TERMS = ["oak", "Santoku", "SANTOKU", "santoku", "über", "Über", "ÜBER", "crème", "Crème", "100%", "snake_case",
         "e_c", "%", "_", "ku s", "Item 1", "✨ Ca", 'a"b', "zzz", "ab", "SKU-00000", "sku-0000042", "\\", "Bread"]


def scan(engine: Engine, term: str, **params: str) -> tuple[int, list[int]]:
    """The answer without the index (Reader never looks it up when told it is not there)."""
    reader = Reader(engine)
    reader._indexed = False
    count, _, rows = reader.product_page(product_query({"search": term, **params}), include_inactive=True)
    return count, [row[0] for row in rows]


def indexed(engine: Engine, term: str, **params: str) -> tuple[int, list[int]]:
    count, _, rows = Reader(engine).product_page(product_query({"search": term, **params}), include_inactive=True)
    return count, [row[0] for row in rows]


def stale(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM products_search_stale")).scalar_one())


@pytest.fixture
def catalog(engine: Engine) -> Engine:
    load(engine, *monolith_rows(300))
    while search.refresh(engine):
        pass
    return engine


def test_the_index_is_there_on_sqlite(catalog):
    assert search.available(catalog)
    assert stale(catalog) == 0


@pytest.mark.parametrize("term", TERMS)
def test_indexed_answers_are_the_scan_s(catalog, term):
    # Unicode case folding finds more candidates than LIKE (ASCII-only folding) would: the exact test decides.
    for params in ({}, {"ordering": "-price"}, {"page_size": "3", "page": "2"}, {"ordering": "name,-stock"}):
        try:
            expected = scan(catalog, term, **params)
        except TypeError:  # no such page
            expected = None
        try:
            got = indexed(catalog, term, **params)
        except TypeError:
            got = None
        assert got == expected, (term, params)


def test_rows_not_yet_indexed_are_found_and_old_text_is_not(catalog):
    now = datetime(2026, 12, 4, tzinfo=UTC)
    with catalog.begin() as conn:  # written as the data split's sync writes: straight into the table
        conn.execute(insert(products).values(id=9001, sku="NEW-9001", name="Walnut board", description="",
                                             price=Decimal("1.00"), stock=1, is_active=True, category_id=1,
                                             created_at=now, updated_at=now))
        conn.execute(update(products).where(products.c.id == 1).values(name="Renamed thing"))
        conn.execute(delete(products).where(products.c.id == 2))
    assert stale(catalog) == 3
    assert indexed(catalog, "walnut") == scan(catalog, "walnut") == (1, [9001])
    assert indexed(catalog, "renamed") == (1, [1])
    old_name = monolith_rows(300)[1][0]["name"]
    assert indexed(catalog, old_name) == scan(catalog, old_name)
    assert 2 not in indexed(catalog, "SKU-0000002")[1]
    assert search.refresh(catalog) == 3 and stale(catalog) == 0
    assert indexed(catalog, "walnut") == (1, [9001])
    assert indexed(catalog, old_name) == scan(catalog, old_name)


def test_many_rows_waiting_means_a_scan_until_caught_up(catalog):
    with catalog.begin() as conn:
        conn.execute(update(products).values(description=products.c.description + " refreshed"))
    assert stale(catalog) == 300
    with catalog.connect() as conn:
        cursor = conn.connection.cursor()
        assert search.candidates(cursor, "?") is not None  # 300 <= MAX_STALE: index + waiting rows
    for term in TERMS:
        assert indexed(catalog, term) == scan(catalog, term)
    assert search.refresh(catalog, batch=100) == 100
    assert stale(catalog) == 200


def test_the_service_refreshes_the_index_in_the_background(catalog, monkeypatch):
    monkeypatch.setattr(search, "INTERVAL_SECONDS", 0.05)
    with catalog.begin() as conn:
        conn.execute(update(products).where(products.c.id <= 50).values(name="Background"))
    assert stale(catalog) == 50
    with TestClient(create_app(catalog), base_url="http://testserver") as client:
        deadline = time.monotonic() + 10
        while stale(catalog) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stale(catalog) == 0
        assert client.get("/api/catalog/products/?search=background&page_size=100").json()["count"] == len(
            [r for r in monolith_rows(300)[1][:50] if r["is_active"]])


def test_upgrading_a_populated_database_indexes_its_rows(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
        load(engine, *monolith_rows(40))
        upgrade_head(engine)
        assert stale(engine) == 0
        for term in TERMS:
            assert indexed(engine, term) == scan(engine, term)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'products_search%'")
                                ).scalar_one() == 0
    finally:
        engine.dispose()


def test_upserts_mark_rows_too(catalog):
    """The data split's copy and sync write with INSERT ... ON CONFLICT DO UPDATE, whose ABORT policy overrides a
    trigger's own: marking a row twice must not be a conflict (it was, with INSERT OR IGNORE)."""
    upsert = text("INSERT INTO products (id, sku, name, description, price, stock, is_active, category_id, "
                  "created_at, updated_at) VALUES (:id, :sku, :name, '', 1, 1, 1, 1, '2026-12-04 00:00:00', "
                  "'2026-12-04 00:00:00') ON CONFLICT (id) DO UPDATE SET name = excluded.name")
    with catalog.begin() as conn:
        for _ in range(2):
            conn.execute(upsert, {"id": 3, "sku": "SKU-0000003", "name": "Upserted teak"})
            conn.execute(upsert, {"id": 9002, "sku": "NEW-9002", "name": "Upserted teak too"})
    assert stale(catalog) == 2
    assert indexed(catalog, "upserted teak") == scan(catalog, "upserted teak") == (2, [3, 9002])
