"""The whole data split of the seeded catalog, from the Django test database to a service database of each kind:
provision, capture, copy, live writes, sync, verify, a changed cell caught, the reverse direction, uncapture."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from strangler import crashpoints
from strangler import datasplit as ds

from .conftest import write_plan

pytestmark = pytest.mark.slow


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, params or [])


def service_sql(split: ds.Split, statement: str) -> None:
    conn = split.service.connect(autocommit=True)
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


@pytest.fixture
def seeded(transactional_db):
    call_command("seed_shop", "--products", "400", "--users", "2", "--orders", "3", "-v", "0")


@pytest.fixture
def catalog(seeded, target_url: str, tmp_path: Path):
    """A provisioned, captured catalog split; capture and the engine's tables are removed afterwards."""
    plan = write_plan(tmp_path, target_url)
    split = ds.open_split(plan)
    ds.provision(split)
    ds.capture(split)
    try:
        yield split
    finally:
        ds.uncapture(split, drop_changelog=True)
        back = ds.open_split(plan, reverse=True)
        ds.uncapture(back, drop_changelog=True)
        conn = back.target.connect(autocommit=True)
        try:
            back.target.drop_changelog(conn, back.plan.checkpoint_table)
        finally:
            conn.close()
        split.close()
        back.close()


def test_full_split_verifies_clean_and_keeps_up_with_live_writes(catalog: ds.Split) -> None:
    copied = ds.copy(catalog, batch_size=150)
    assert [t.rows for t in copied.tables] == [copied.tables[0].rows, 400]
    report = ds.verify(catalog)
    assert report.ok, report.to_dict()

    # Live writes between syncs: insert, update, delete (including a category and an updated key).
    sql("UPDATE catalog_product SET price = %s, name = %s WHERE id = 7", [Decimal("99999999.99"), "Crème brûlée 🍮"])
    sql("UPDATE catalog_product SET description = '' WHERE id = 8")
    sql("DELETE FROM catalog_product WHERE id IN (9, 10)")
    sql("INSERT INTO catalog_category (name, slug, parent_id) VALUES ('New', 'new-category', NULL)")
    sql("INSERT INTO catalog_product (sku, name, description, price, stock, is_active, category_id, created_at, "
        "updated_at) SELECT 'NEW-1', 'new', 'x', 0.01, 2147483647, %s, MAX(id), %s, %s FROM catalog_category",
        [False, "2024-02-29 23:59:59.999999", "2024-02-29 23:59:59"])
    assert not ds.verify(catalog).ok
    result = ds.sync(catalog)
    assert (result.upserted, result.deleted, result.lag_rows) == (4, 2, 0)
    assert ds.verify(catalog).ok

    # Again, and a sync with nothing to do is a no-op.
    sql("UPDATE catalog_product SET stock = stock + 1 WHERE id BETWEEN 11 AND 60")
    assert ds.sync(catalog).upserted == 50
    assert ds.sync(catalog).changes == 0
    assert ds.verify(catalog).ok
    state = ds.status(catalog)
    assert state["capture"] and state["lag_rows"] == 0
    assert all(t["copy"] == "done" for t in state["tables"])


def test_verify_names_the_key_of_a_single_changed_cell(catalog: ds.Split) -> None:
    ds.copy(catalog)
    service_sql(catalog, "UPDATE products SET stock = stock + 1 WHERE id = 123")
    report = ds.verify(catalog, chunk_size=50)
    products = report.tables[1]
    assert not report.ok
    assert (products.changed, products.missing, products.extra) == ([123], [], [])
    assert len(products.differing_chunks) == 1

    with pytest.raises(CommandError) as err:
        call_command("strangler", "split", "verify", catalog.plan.path, "--quiet")
    assert err.value.returncode == 1


def test_a_recheck_after_a_sync_clears_live_writes_and_keeps_a_divergence(catalog: ds.Split) -> None:
    """The verify step under live writes: rows written after the sync differ once; the chunks that differed,
    compared again after the next sync, are equal (row counts adjusted), and a row that diverged (written on the
    service's side, behind the sync's back) is still named."""
    ds.copy(catalog)
    sql("UPDATE catalog_product SET stock = stock + 5 WHERE id IN (3, 250)")
    sql("DELETE FROM catalog_product WHERE id = 399")
    sql("INSERT INTO catalog_product (sku, name, description, price, stock, is_active, category_id, created_at, "
        "updated_at) SELECT 'LIVE-1', 'live', '', 1.00, 1, %s, MIN(id), %s, %s FROM catalog_category",
        [True, "2024-02-29 23:59:59", "2024-02-29 23:59:59"])
    service_sql(catalog, "UPDATE products SET name = 'diverged' WHERE id = 120")
    first = ds.verify(catalog, chunk_size=50)
    products = first.tables[1]
    assert not first.ok and 3 in products.changed and 250 in products.changed and 120 in products.changed
    assert len(products.differing_rows) == len(products.differing_chunks)
    ds.sync(catalog)
    again = ds.recheck(catalog, first)
    products = again.tables[1]
    assert (products.changed, products.missing, products.extra) == ([120], [], [])
    assert products.source_rows == products.target_rows == first.tables[1].source_rows   # one in, one out
    assert again.tables[0] is first.tables[0]   # categories were equal: kept as they were
    service_sql(catalog, "UPDATE products SET name = (SELECT name FROM products WHERE id = 121) WHERE id = 120")
    sql("UPDATE catalog_product SET name = name WHERE id = 120")   # captured: the sync writes the monolith's
    ds.sync(catalog)
    assert ds.recheck(catalog, again).ok


def test_a_recheck_is_not_chased_by_rows_inserted_after_the_verify_began(catalog: ds.Split) -> None:
    """Inserts go on at the table's end (a checkout's shipments, under the shipping plan's verify step): each
    recheck would find the newest rows unsynced in the open-ended last chunk. It compares up to the largest key
    that differed before; what came after is the next verify's."""
    ds.copy(catalog)

    def insert(sku: str) -> None:
        sql("INSERT INTO catalog_product (sku, name, description, price, stock, is_active, category_id, "
            "created_at, updated_at) SELECT %s, 'live', '', 1.00, 1, %s, MIN(id), %s, %s FROM catalog_category",
            [sku, True, "2024-02-29 23:59:59", "2024-02-29 23:59:59"])

    insert("TAIL-1")
    first = ds.verify(catalog, chunk_size=50)
    assert first.tables[1].missing and first.tables[1].differing_chunks[-1][1] is None
    ds.sync(catalog)
    insert("TAIL-2")   # after the sync: the next verify's
    again = ds.recheck(catalog, first)
    assert again.ok, again.to_dict()
    assert not ds.verify(catalog, chunk_size=50).ok   # a whole verify still sees it, until the next sync


def test_rerun_never_duplicates_and_restart_recopies(catalog: ds.Split) -> None:
    ds.copy(catalog, batch_size=100)
    again = ds.copy(catalog)
    assert {t.status for t in again.tables} == {"already copied"}
    restarted = ds.copy(catalog, restart=True, batch_size=70)
    assert restarted.tables[1].rows == 400
    assert ds.verify(catalog).ok


def test_reverse_direction_brings_service_writes_back(catalog: ds.Split) -> None:
    ds.copy(catalog)
    ds.uncapture(catalog)            # cutover: the service owns the data now
    back = ds.open_split(catalog.plan.path, reverse=True)
    try:
        ds.capture(back)
        assert ds.status(back)["capture"]
        service_sql(back, "UPDATE products SET name = 'Renamed by the service' WHERE id = 11")
        service_sql(back, "DELETE FROM products WHERE id = 12")
        assert not ds.verify(back).ok
        result = ds.sync(back)
        assert (result.upserted, result.deleted) == (1, 1)
        assert ds.verify(back).ok
        with connection.cursor() as cur:
            cur.execute("SELECT name FROM catalog_product WHERE id = 11")
            assert cur.fetchone()[0] == "Renamed by the service"
            cur.execute("SELECT COUNT(*) FROM catalog_product WHERE id = 12")
            assert cur.fetchone()[0] == 0
    finally:
        back.close()


def test_cli_runs_every_operation(catalog: ds.Split, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    plan = catalog.plan.path
    for op in ("check", "copy", "sync", "verify", "status"):
        call_command("strangler", "split", op, plan, "--json")
        data = json.loads(capsys.readouterr().out)
        assert data["plan"] == "catalog"
    call_command("strangler", "split", "status", plan)
    assert "capture: installed" in capsys.readouterr().out


def test_uncapture_removes_triggers(catalog: ds.Split) -> None:
    report = ds.uncapture(catalog)
    assert report.tables == {"catalog_category": False, "catalog_product": False}
    sql("UPDATE catalog_product SET stock = 1 WHERE id = 1")
    with pytest.raises(ds.DataSplitError, match="capture"):
        ds.sync(catalog)


COLUMNS = "name, description, price, stock, is_active, category_id, created_at, updated_at"


def _next_id_after_insert(insert: Callable[[str], object], read: Callable[[str], object], sku: str) -> int:
    insert(f"INSERT INTO {{table}} (sku, {COLUMNS}) SELECT '{sku}', {COLUMNS} FROM {{table}} WHERE id = 1")  # noqa: S608
    return int(read(f"SELECT id FROM {{table}} WHERE sku = '{sku}'"))  # noqa: S608 - the test's own values


class _Died(BaseException):
    pass


def _die_at(point: str) -> Callable[[str], None]:
    def reached(name: str) -> None:
        if name == point:
            raise _Died(name)
    return reached


def test_an_id_handed_out_and_deleted_is_never_handed_out_by_the_other_side(catalog: ds.Split,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Products made and deleted on the side that owns the data, in the unsynced window: once the other side
    takes over, its counter is past them (else a client told "product 412 deleted" finds another 412)."""
    def monolith_insert(statement: str) -> None:
        sql(statement.format(table="catalog_product"))

    def monolith_read(statement: str) -> object:
        with connection.cursor() as cur:
            cur.execute(statement.format(table="catalog_product"))
            return cur.fetchone()[0]

    def service_read(split: ds.Split, statement: str) -> object:
        conn = split.service.connect(autocommit=True)
        try:
            cur = conn.cursor()
            cur.execute(statement.format(table="products"))
            return cur.fetchone()[0]
        finally:
            conn.close()

    ds.copy(catalog)
    made = [_next_id_after_insert(monolith_insert, monolith_read, f"GONE-M{i}") for i in range(3)]
    sql(f"DELETE FROM catalog_product WHERE id IN ({', '.join(map(str, made))})")  # noqa: S608
    ds.sync(catalog)
    ds.uncapture(catalog)            # cutover: the service owns the data now
    back = ds.open_split(catalog.plan.path, reverse=True)
    try:
        ds.capture(back)
        taken = _next_id_after_insert(lambda s: service_sql(back, s.format(table="products")),
                                      lambda s: service_read(back, s), "NEW-S1")
        assert taken > max(made), f"the service handed out {taken} again (the monolith gave {made}, deleted)"
        made = [_next_id_after_insert(lambda s: service_sql(back, s.format(table="products")),
                                      lambda s: service_read(back, s), f"GONE-S{i}") for i in range(3)]
        service_sql(back, f"DELETE FROM products WHERE id IN ({', '.join(map(str, made))})")  # noqa: S608
        # The sync dies right after its last slice committed: the run that resumes has nothing left to apply,
        # and must still carry the counter before the monolith takes writes.
        with monkeypatch.context() as patch:
            patch.setattr(crashpoints, "reached", _die_at("sync.after_slice"))
            with pytest.raises(_Died):
                ds.sync(back)
        assert ds.sync(back).changes == 0
        taken = _next_id_after_insert(monolith_insert, monolith_read, "NEW-M1")
        assert taken > max(made), f"the monolith handed out {taken} again (the service gave {made}, deleted)"
    finally:
        back.close()
