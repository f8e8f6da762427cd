"""Tables whose key is several columns, through the whole data split on every kind of service database: an
order-lines table keyed by (order_id, line_no) (renamed columns on the service's side), stock levels keyed by
(warehouse, bin) with warehouses that are awkward as JSON and as copy text, and an audit table keyed by
(site, id) whose id is the table's auto-increment counter. The monolith is a SQLite file of the test's own.

Provision, capture, copy, live writes (inserts, updates, deletes, a changed key), sync, verify: equal; the
guard refuses a legacy write whatever the key; a copy SIGKILLed at its checkpoints resumes strictly after the
last key it committed; verify names a missing, an extra and a changed row by their composite key; and the
same back from the service (a copy out of it killed and resumed, capture on the service, a sync back)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from strangler import crashpoints
from strangler import datasplit as ds
from strangler.datasplit import ownership
from strangler.datasplit.bindings import Binding
from strangler.datasplit.engines import Changed, Engine, KeyRange, open_engine
from strangler.datasplit.report import render

from .conftest import KINDS, ROOT, drop, fresh_url, require, write_plan

pytestmark = pytest.mark.slow

MONOLITH_DDL = (
    "CREATE TABLE stock_levels (warehouse varchar(40) NOT NULL, bin integer NOT NULL, units integer NOT NULL, "
    "note text NULL, PRIMARY KEY (warehouse, bin))",
    "CREATE TABLE order_lines (order_id integer NOT NULL, line_no integer NOT NULL, sku varchar(20) NOT NULL, "
    "qty integer NOT NULL, price decimal NULL, PRIMARY KEY (order_id, line_no))",
    # A legacy table: its primary key is the id alone (SQLite's rowid), the plan identifies rows by (site, id).
    "CREATE TABLE audit_entries (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, site varchar(20) NOT NULL, "
    "message text NOT NULL)",
)
# Quotes, a backslash, brackets and a comma, non-ASCII: a key encoding that is not unambiguous breaks on them.
WAREHOUSES = ["eu-1", "eu-2", "o'hare", 'Zürich "main"', "[x, 1]", "us\\west"]
ORDERS = range(1, 31)

SERVICE_ENV = '''from alembic import context

config = context.config
context.configure(connection=config.attributes["connection"], version_table=config.get_main_option("version_table"))
with context.begin_transaction():
    context.run_migrations()
'''
SERVICE_REVISION = '''"""The service's tables, keyed by several columns."""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    counted = op.get_bind().dialect.name != "sqlite"   # SQLite has no counter in a composite primary key
    TEXT = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}   # keys compared as every engine does
    op.create_table("stock_levels", sa.Column("warehouse", sa.String(40), nullable=False),
                    sa.Column("bin", sa.Integer(), nullable=False, autoincrement=False),
                    sa.Column("units", sa.Integer(), nullable=False), sa.Column("note", sa.Text()),
                    sa.PrimaryKeyConstraint("warehouse", "bin"), **TEXT)
    op.create_table("lines", sa.Column("order_ref", sa.Integer(), nullable=False, autoincrement=False),
                    sa.Column("line", sa.Integer(), nullable=False, autoincrement=False),
                    sa.Column("sku", sa.String(20), nullable=False), sa.Column("qty", sa.Integer(), nullable=False),
                    sa.Column("price", sa.Numeric(10, 2)), sa.PrimaryKeyConstraint("order_ref", "line"), **TEXT)
    # MariaDB wants an AUTO_INCREMENT column first in an index: the primary key is (id, site) here.
    op.create_table("audit", sa.Column("site", sa.String(20), nullable=False),
                    sa.Column("id", sa.Integer(), nullable=False, autoincrement=counted),
                    sa.Column("message", sa.Text(), nullable=False), sa.PrimaryKeyConstraint("id", "site"), **TEXT)


def downgrade():
    for table in ("audit", "lines", "stock_levels"):
        op.drop_table(table)
'''
TABLES = [
    {"source": "stock_levels", "target": "stock_levels", "key": ["warehouse", "bin"]},
    {"source": "order_lines", "target": "lines", "key": ["order_id", "line_no"],
     "columns": {"order_id": "order_ref", "line_no": "line", "sku": "sku", "qty": "qty", "price": "price"}},
    {"source": "audit_entries", "target": "audit", "key": ["site", "id"]},
]
STOCK_ROWS = len(WAREHOUSES) * 6
LINE_ROWS = sum(o % 4 + 2 for o in ORDERS)


def make_monolith(path: Path, *, rows: bool = True) -> str:
    conn = sqlite3.connect(path)
    for ddl in MONOLITH_DDL:
        conn.execute(ddl)
    if rows:
        conn.executemany("INSERT INTO stock_levels VALUES (?, ?, ?, ?)",
                         [(w, b, b * 10, None if b % 3 == 0 else f"{w}/{b}") for w in WAREHOUSES for b in range(1, 7)])
        conn.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?, ?)",
                         [(o, n, f"SKU-{o}-{n}", n, f"{o}.{n:02d}") for o in ORDERS for n in range(1, o % 4 + 3)])
        conn.executemany("INSERT INTO audit_entries (site, message) VALUES (?, ?)",
                         [("ab"[i % 2], f"entry {i}") for i in range(8)])
        conn.execute("DELETE FROM audit_entries WHERE id = 8")   # handed out, then deleted: never again
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def migrations(tmp_path: Path) -> Path:
    where = tmp_path / "migrations"
    (where / "versions").mkdir(parents=True, exist_ok=True)
    (where / "env.py").write_text(SERVICE_ENV)
    (where / "versions" / "0001_composite.py").write_text(SERVICE_REVISION)
    return where


@dataclass
class World:
    kind: str
    tmp: Path
    monolith: Path
    plan: Path
    split: ds.Split

    def mono(self, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.monolith, timeout=30, isolation_level=None)
        try:
            return conn.execute(statement, params or []).fetchall()
        finally:
            conn.close()

    def service(self, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """``statement`` on the service's database: "quoted" names and ? marks, whatever its kind."""
        return run(self.split.service, statement, params)


def run(engine: Engine, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    if engine.kind == "mysql":
        statement = statement.replace('"', "`")
    conn = engine.connect(autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(statement.replace("?", engine.param), params or [])
        return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


@pytest.fixture
def world(target_kind: str, target_url: str, tmp_path: Path) -> Iterator[World]:
    monolith = tmp_path / "monolith.sqlite3"
    make_monolith(monolith)
    plan = write_plan(tmp_path, target_url, source={"url": f"sqlite:///{monolith}"}, tables=TABLES,
                      migrations=migrations(tmp_path))
    split = ds.open_split(plan)
    ds.provision(split)
    try:
        yield World(target_kind, tmp_path, monolith, plan, split)
    finally:
        split.close()


def keys_of(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(r) for r in rows)


def equal_tables(w: World) -> None:
    """Both databases hold the same rows, looked at directly (not only through verify)."""
    assert keys_of(w.mono("SELECT warehouse, bin, units, note FROM stock_levels")) == \
        keys_of(w.service('SELECT "warehouse", "bin", "units", "note" FROM "stock_levels"'))
    assert keys_of(w.mono("SELECT order_id, line_no, sku, qty FROM order_lines")) == \
        keys_of(w.service('SELECT "order_ref", "line", "sku", "qty" FROM "lines"'))
    assert keys_of(w.mono("SELECT site, id, message FROM audit_entries")) == \
        keys_of(w.service('SELECT "site", "id", "message" FROM "audit"'))


def test_composite_keys_go_through_capture_copy_sync_and_verify(world: World) -> None:
    split = world.split
    ds.capture(split)
    try:
        copied = ds.copy(split, batch_size=4)
        assert [(t.target, t.rows) for t in copied.tables] == [("stock_levels", STOCK_ROWS), ("lines", LINE_ROWS),
                                                                ("audit", 7)]
        assert ds.verify(split, chunk_size=5).ok
        equal_tables(world)

        # Live writes: updates, a delete, a row deleted and made again, and keys that change (an int part, a
        # text part).
        for statement in (
            "UPDATE order_lines SET qty = qty + 1 WHERE order_id = 3",                       # 5 rows
            "DELETE FROM order_lines WHERE order_id = 4 AND line_no = 1",
            "UPDATE order_lines SET line_no = 9 WHERE order_id = 5 AND line_no = 2",          # key (5, 2) -> (5, 9)
            "INSERT INTO order_lines VALUES (31, 1, 'NEW', 1, '0.01')",
            "UPDATE stock_levels SET warehouse = 'eu-3' WHERE warehouse = 'eu-2' AND bin = 4",
            "UPDATE stock_levels SET note = 'tab\there' WHERE warehouse = 'o''hare' AND bin = 2",
            "DELETE FROM stock_levels WHERE warehouse = '[x, 1]' AND bin = 6",
            "INSERT INTO stock_levels VALUES ('[x, 1]', 6, 1, 'back')",
        ):
            world.mono(statement)
        logged = [(t, json.loads(k), op) for t, k, op in world.mono(
            f"SELECT table_name, row_key, op FROM {split.plan.changelog_table} ORDER BY id")]  # noqa: S608
        assert ("order_lines", [5, 2], "D") in logged and ("order_lines", [5, 9], "U") in logged
        assert ("stock_levels", ["eu-2", 4], "D") in logged and ("stock_levels", ["[x, 1]", 6], "I") in logged
        assert not ds.verify(split).ok

        result = ds.sync(split)
        assert (result.upserted, result.deleted, result.lag_rows) == (10, 3, 0)
        assert ds.verify(split, chunk_size=5).ok
        equal_tables(world)
        assert ds.sync(split).changes == 0
        state = ds.status(split)
        assert [t["copy"] for t in state["tables"]] == ["done"] * 3

        # The guard does not look at keys: the service's copy refuses a legacy write, the sync still writes.
        for side in ownership.SIDES:
            ownership.install(split, side, "monolith")
        try:
            with pytest.raises(Exception, match=r"read-only: table lines is owned by the monolith"):
                world.service('UPDATE "lines" SET "qty" = 0 WHERE "order_ref" = 1 AND "line" = 1')
            world.mono("UPDATE order_lines SET qty = 42 WHERE order_id = 1 AND line_no = 1")
            world.mono("UPDATE order_lines SET order_id = 32 WHERE order_id = 2 AND line_no = 3")
            assert (ds.sync(split).upserted, ds.verify(split).ok) == (2, True)
        finally:
            for side in ownership.SIDES:
                ownership.remove(split, side)
        equal_tables(world)
    finally:
        ds.uncapture(split, drop_changelog=True)


def test_verify_names_missing_extra_and_changed_rows_by_their_composite_key(world: World) -> None:
    split = world.split
    ds.copy(split)
    world.service('DELETE FROM "lines" WHERE "order_ref" = 7 AND "line" = 2')
    world.service('INSERT INTO "lines" ("order_ref", "line", "sku", "qty", "price") VALUES (99, 1, \'X\', 1, 1)')
    world.service('UPDATE "lines" SET "price" = 0.02 WHERE "order_ref" = 12 AND "line" = 1')
    world.service('UPDATE "stock_levels" SET "units" = "units" + 1 WHERE "warehouse" = ? AND "bin" = 3',
                  ['Zürich "main"'])
    report = ds.verify(split, chunk_size=5)
    stock, lines, audit = report.tables
    assert not report.ok and audit.ok
    assert (stock.missing, stock.extra, stock.changed) == ([], [], [('Zürich "main"', 3)])
    assert (lines.missing, lines.extra, lines.changed) == ([(7, 2)], [(99, 1)], [(12, 1)])
    assert (lines.source_rows, lines.target_rows) == (LINE_ROWS, LINE_ROWS)
    assert all(len(bound) == 2 for chunk in lines.differing_chunks for bound in chunk if bound is not None)

    data = json.loads(json.dumps(report.to_dict()))
    assert data["tables"][1]["missing"] == [[7, 2]] and data["tables"][1]["extra"] == [[99, 1]]
    assert data["tables"][0]["changed"] == [['Zürich "main"', 3]]
    text = render("verify", report.to_dict())
    assert "missing keys: (7, 2)" in text and "extra keys: (99, 1)" in text and "changed keys: (12, 1)" in text
    assert "changed keys: ('Zürich \"main\"', 3)" in text


def _checkpoint(split: ds.Split, table: str) -> str | None:
    conn = split.target.connect(autocommit=True)
    try:
        value = split.target.read_state(conn, split.plan.checkpoint_table, split.plan.state_name).get(f"copy:{table}")
    finally:
        conn.close()
    return value[0] if value else None


def test_a_copy_killed_at_its_checkpoints_resumes_after_the_last_key_committed(world: World) -> None:
    """SIGKILLed (``STRANGLER_CRASH_AT``) right after a batch committed, and between writing a batch and
    committing it, with writes to the monolith behind and ahead of the checkpoint in between."""
    split = world.split
    ds.capture(split)
    env = {**os.environ, "MONOLITH_DATABASE_URL": f"sqlite:///{world.monolith}",
           "SHOP_VAR_DIR": str(world.tmp / "var"), "DJANGO_SECRET_KEY": "datasplit-tests"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    argv = [sys.executable, "manage.py", "strangler", "split", "copy", str(world.plan), "--batch-size", "5",
            "--quiet", "--json"]

    def copy_killed_at(point: str) -> str | None:
        done = subprocess.run(argv, cwd=ROOT, env={**env, "STRANGLER_CRASH_AT": point}, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == -9, done.stderr[-3000:]
        return _checkpoint(split, "stock_levels")

    def stock_keys() -> list[tuple[str, int]]:   # key order: code points, as every engine here compares text
        return sorted((str(w), int(b)) for w, b in world.mono("SELECT warehouse, bin FROM stock_levels"))

    try:
        first = copy_killed_at("copy.after_batch")
        assert first is not None and json.loads(first) == list(stock_keys()[4])
        # Behind the checkpoint and ahead of it: a copied row changes, one goes, one comes ahead.
        world.mono("UPDATE stock_levels SET units = -1 WHERE warehouse = ? AND bin = 2", ['Zürich "main"'])
        world.mono("DELETE FROM stock_levels WHERE warehouse = ? AND bin = 1", ['Zürich "main"'])
        world.mono("INSERT INTO stock_levels VALUES ('[x, 1]', 0, 7, 'ahead')")
        second = copy_killed_at("copy.after_batch")
        after = [k for k in stock_keys() if k > tuple(json.loads(first))]
        assert second is not None and json.loads(second) == list(after[4])
        # Killed with a batch written and its checkpoint with it, not committed: neither is there.
        assert copy_killed_at("copy.before_commit") == second
        world.mono("INSERT INTO stock_levels VALUES ('[x, 1]', 99, 1, 'far ahead')")

        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout)
        assert report["tables"][0]["resumed_after"] == second
        assert report["tables"][0]["rows"] == len([k for k in stock_keys() if k > tuple(json.loads(second))])
        assert ds.sync(split).lag_rows == 0
        assert ds.verify(split, chunk_size=7).ok
        equal_tables(world)
        count, distinct = world.service('SELECT COUNT(*), COUNT(DISTINCT "warehouse", "bin") FROM "stock_levels"'
                                        if world.kind == "mysql" else
                                        'SELECT COUNT(*), COUNT(*) FROM (SELECT DISTINCT "warehouse", "bin" '
                                        'FROM "stock_levels") x')[0]
        assert count == distinct == len(stock_keys())
    finally:
        ds.uncapture(split, drop_changelog=True)


class _Died(BaseException):
    pass


def _die_at(point: str, nth: int = 1) -> Callable[[str], None]:
    seen: list[str] = []

    def reached(name: str) -> None:
        if name == point:
            seen.append(name)
            if len(seen) == nth:
                raise _Died(name)
    return reached


def test_back_from_the_service_a_killed_copy_resumes_and_its_changes_sync_back(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service as the source: its composite keys paged (MariaDB without row values), its capture
    triggers, its counter carried back; into an empty monolith, then into the original one."""
    split = world.split
    ds.copy(split)
    if world.kind != "sqlite":   # the copy carried the monolith's counter: id 8 was handed out (and deleted)
        world.service('INSERT INTO "audit" ("site", "message") VALUES (\'c\', \'service\')')
        assert world.service('SELECT "id" FROM "audit" WHERE "site" = \'c\'') == [(9,)]
        world.service('DELETE FROM "audit" WHERE "site" = \'c\'')

    fresh = world.tmp / "fresh.sqlite3"
    back_plan = write_plan(world.tmp, world.split.plan.service.default_database_url or "",
                           source={"url": make_monolith(fresh, rows=False)}, tables=TABLES, name="back.yaml",
                           migrations=migrations(world.tmp))
    back = ds.open_split(back_plan, reverse=True)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(crashpoints, "reached", _die_at("copy.after_batch", nth=2))
            with pytest.raises(_Died):
                ds.copy(back, batch_size=4)
        mark = _checkpoint(back, "stock_levels")
        service_order = sorted((str(w), int(b)) for w, b in world.service('SELECT "warehouse", "bin" FROM '
                                                                            '"stock_levels"'))
        assert mark is not None and json.loads(mark) == list(service_order[7])
        with monkeypatch.context() as patch:
            patch.setattr(crashpoints, "reached", _die_at("copy.before_commit"))
            with pytest.raises(_Died):
                ds.copy(back, batch_size=4)
        assert _checkpoint(back, "stock_levels") == mark
        resumed = ds.copy(back, batch_size=4)
        assert (resumed.tables[0].resumed_after, resumed.tables[0].rows) == (mark, STOCK_ROWS - 8)
        assert ds.verify(back, chunk_size=5).ok
    finally:
        back.close()

    # The service takes writes and captures them; the monolith follows by the reverse sync.
    back = ds.open_split(world.plan, reverse=True)
    ds.capture(back)
    try:
        for statement, params in (
            ('UPDATE "lines" SET "qty" = 0 WHERE "order_ref" = 6', []),                        # 4 rows
            ('DELETE FROM "lines" WHERE "order_ref" = 8 AND "line" = 1', []),
            ('UPDATE "lines" SET "line" = 7 WHERE "order_ref" = 9 AND "line" = 3', []),         # a changed key
            ('INSERT INTO "lines" ("order_ref", "line", "sku", "qty", "price") VALUES (40, 1, \'S\', 1, 2.5)', []),
            ('UPDATE "stock_levels" SET "warehouse" = ? WHERE "warehouse" = ? AND "bin" = 5', ["us/east", "us\\west"]),
        ):
            world.service(statement, params)
        ids = "" if world.kind != "sqlite" else '"id", '
        values = "" if world.kind != "sqlite" else "10, "
        world.service(f'INSERT INTO "audit" ({ids}"site", "message") VALUES ({values}\'s\', \'kept\')')  # noqa: S608
        world.service('UPDATE "audit" SET "site" = \'b\' WHERE "id" = 3')                     # (a, 3) -> (b, 3)
        assert not ds.verify(back).ok
        result = ds.sync(back)
        assert (result.upserted, result.deleted, result.lag_rows) == (9, 4, 0)
        assert ds.verify(back, chunk_size=5).ok
        equal_tables(world)
        assert world.mono("SELECT qty FROM order_lines WHERE order_id = 9 AND line_no = 7") == [(3,)]
        # The service's counter came back with its rows: the monolith hands out no id the service gave.
        world.mono("INSERT INTO audit_entries (site, message) VALUES ('m', 'monolith')")
        taken = world.mono("SELECT id FROM audit_entries WHERE site = 'm'")[0][0]
        assert taken > 10
    finally:
        ds.uncapture(back, drop_changelog=True)
        back.close()


# -- the pieces, on each engine as the source ---------------------------------------------------------------

@pytest.fixture(params=KINDS)
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    require(request.param)
    url = fresh_url(request.param, tmp_path, "source")
    engine = open_engine(url, "source")
    engine.create()
    try:
        yield engine
    finally:
        engine.dispose()
        drop(url)


def test_the_changelog_keeps_one_column_keys_as_they_were_and_logs_composite_keys_as_json(source: Engine) -> None:
    """A one-column key's ``row_key`` is its value as text, as every existing changelog holds it; a composite
    key's is a JSON array that the sync reads back column by column, quotes, commas and all."""
    awkward = 'say "hi", [1] \\ ü'
    for ddl in ('CREATE TABLE "single" ("id" INTEGER NOT NULL PRIMARY KEY, "name" VARCHAR(20))',
                'CREATE TABLE "pair" ("a" VARCHAR(255) NOT NULL, "b" INTEGER NOT NULL, "v" INTEGER, '
                'PRIMARY KEY ("a", "b"))'):
        run(source, ddl)
    single = Binding("single", ("id",), tuple((source.columns("single") or {}).values()))
    pair = Binding("pair", ("a", "b"), tuple((source.columns("pair") or {}).values()))
    conn = source.connect(autocommit=True)
    try:
        source.ensure_changelog(conn, "log")
        source.install_capture(conn, "log", single)
        source.install_capture(conn, "log", pair)
    finally:
        conn.close()
    run(source, 'INSERT INTO "single" ("id", "name") VALUES (5, \'x\')')
    run(source, 'INSERT INTO "pair" ("a", "b", "v") VALUES (?, 2, 1)', [awkward])
    run(source, 'INSERT INTO "pair" ("a", "b", "v") VALUES (\'plain\', 1, 1)')
    run(source, 'UPDATE "pair" SET "b" = 3 WHERE "a" = ?', [awkward])
    # A key as long as its column allows: its JSON is longer still, and capture must not refuse the write.
    run(source, 'INSERT INTO "pair" ("a", "b", "v") VALUES (?, 12345, 1)', ["ü" * 255])
    run(source, 'DELETE FROM "pair" WHERE "b" = 12345')
    logged = run(source, 'SELECT "table_name", "row_key", "op" FROM "log" ORDER BY "id"')
    assert logged[0] == ("single", "5", "I")
    assert [(t, json.loads(k), op) for t, k, op in logged[1:]] == [
        ("pair", [awkward, 2], "I"), ("pair", ["plain", 1], "I"), ("pair", [awkward, 3], "U"),
        ("pair", [awkward, 2], "D"), ("pair", ["ü" * 255, 12345], "I"), ("pair", ["ü" * 255, 12345], "D")]
    last = int(run(source, 'SELECT MAX("id") FROM "log"')[0][0])
    conn = source.connect(autocommit=True)
    try:
        changed = Changed("log", 0, last)
        assert source.fetch_rows(conn, pair, changed) == [("plain", 1, 1), (awkward, 3, 1)]
        assert sorted(source.gone_keys(conn, pair, changed)) == [(awkward, 2), ("ü" * 255, 12345)]
        assert source.fetch_rows(conn, single, changed) == [(5, "x")]
        assert source.gone_keys(conn, single, changed) == []
        # Keyset pages: strictly after a key, up to one, in key order; the counter: none to carry.
        assert source.next_bound(conn, pair, None, 1) == ("plain", 1)
        assert source.next_bound(conn, pair, ("plain", 1), 5) == (awkward, 3)
        assert source.next_bound(conn, pair, (awkward, 3), 5) is None
        assert source.fetch_rows(conn, pair, KeyRange(("plain", 1), (awkward, 3))) == [(awkward, 3, 1)]
        assert source.count_upto(conn, pair, ("plain", 1)) == 1
        assert (source.counter_column(conn, pair), source.next_key(conn, pair)) == (None, None)
        source.reset_sequence(conn, pair, 10)   # nothing to set, and no error
        source.delete_keys(conn, pair, [(awkward, 3)])
        assert source.count(conn, "pair") == 1
    finally:
        conn.close()


def test_mariadb_pages_a_composite_key_through_its_index(tmp_path: Path) -> None:
    """MariaDB scans the whole index for a row-value bound ``(a, b) > (?, ?)``; the bound the engine writes
    instead is a range of the primary key (EXPLAIN says so), or every batch of a copy would start from the
    table's first row."""
    require("mysql")
    url = fresh_url("mysql", tmp_path, "explain")
    engine = open_engine(url, "source")
    engine.create()
    try:
        run(engine, 'CREATE TABLE "t" ("a" INTEGER NOT NULL, "b" INTEGER NOT NULL, "c" VARCHAR(10), '
                    'PRIMARY KEY ("a", "b")) ENGINE=InnoDB')
        run(engine, 'INSERT INTO "t" SELECT seq DIV 10, seq MOD 10, \'x\' FROM seq_1_to_5000')
        run(engine, 'ANALYZE TABLE "t"')
        b = Binding("t", ("a", "b"), tuple((engine.columns("t") or {}).values()))
        cond, params = engine.where(b, KeyRange((300, 3), (310, 2)))
        conn = engine.connect()
        try:
            cur = conn.cursor()
            cur.execute(f"EXPLAIN SELECT `a`, `b`, `c` FROM `t` WHERE {cond} ORDER BY `a`, `b`", params)  # noqa: S608
            plan = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
            assert engine.next_bound(conn, b, (499, 8), 5) == (500, 0)
        finally:
            conn.close()
        assert (plan["type"], plan["key"]) == ("range", "PRIMARY"), plan
    finally:
        engine.dispose()
        drop(url)


def test_a_key_column_the_table_lacks_is_named_with_its_place_in_the_key(tmp_path: Path) -> None:
    monolith = tmp_path / "monolith.sqlite3"
    tables = [dict(TABLES[0], key=["warehouse", "shelf"]), *TABLES[1:]]
    plan = write_plan(tmp_path, f"sqlite:///{tmp_path / 'svc.sqlite3'}", tables=tables,
                      source={"url": make_monolith(monolith)}, migrations=migrations(tmp_path))
    split = ds.open_split(plan)
    try:
        with pytest.raises(ds.PlanError, match=r"tables\[0\]\.key\[1\]: no column 'shelf' in stock_levels"):
            ds.capture(split)
        ds.provision(split)
        with pytest.raises(ds.PlanError, match=r"tables\[0\]\.key\[1\]: 'shelf' is not a mapped column"):
            ds.check(split)
    finally:
        split.close()


def test_a_checkpoint_that_is_no_key_of_the_table_says_to_restart(tmp_path: Path) -> None:
    """A copy stopped under a one-column key, resumed after the plan's key became two columns."""
    plan = write_plan(tmp_path, f"sqlite:///{tmp_path / 'svc.sqlite3'}", tables=TABLES,
                      source={"url": make_monolith(tmp_path / "monolith.sqlite3")}, migrations=migrations(tmp_path))
    split = ds.open_split(plan)
    try:
        ds.provision(split)
        conn = split.target.connect()
        split.target.ensure_state(conn, split.plan.checkpoint_table)
        split.target.write_state(conn, split.plan.checkpoint_table, split.plan.name, "copy:stock_levels", "312")
        conn.close()
        with pytest.raises(ds.DataSplitError, match=r"checkpoint of stock_levels \(312\) is not a key of "
                                                    r"stock_levels \(warehouse, bin\).*--restart"):
            ds.copy(split)
        assert [t.rows for t in ds.copy(split, restart=True).tables] == [STOCK_ROWS, LINE_ROWS, 7]
    finally:
        split.close()
