"""Values that break naive copiers round-trip exactly, through every target kind and back, on both the fast path
and the generic one: non-ASCII and emoji text, control characters and backslashes, NULL vs empty text,
Decimal edges, max 32/64-bit integers, datetimes with microseconds, 1 MB text. A table pair of its own."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from strangler import datasplit as ds

from .conftest import write_plan

pytestmark = pytest.mark.slow

DDL = ("CREATE TABLE edge (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, big bigint NULL, small integer NULL, "
       "amount decimal NULL, flag bool NULL, happened datetime NULL, label varchar(50) NULL, body text NULL)")
MB_TEXT = "é" * 300_000 + "🎉" * 100_000 + "end"
ROWS = [  # id, big, small, amount, flag, happened (UTC), label, body
    (1, None, None, None, None, None, None, None),
    (2, 0, 0, Decimal("0.00"), False, datetime(2000, 1, 1, tzinfo=UTC), "", ""),
    (3, 2**63 - 1, 2**31 - 1, Decimal("99999999.99"), True, datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
     "Zürich – 東京 🎉👩‍👩‍👧", "tab\there\nnew line\r\nback\\slash \\N NULL \x1f\x1e end"),
    (4, -(2**63), -(2**31), Decimal("0.01"), False, datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC), " ", "\\"),
    (5, 2**53 + 1, -1, Decimal("-99999999.99"), True, datetime(2038, 1, 19, 3, 14, 8, 500000, tzinfo=UTC),
     "N", MB_TEXT),
    (2**53 + 1, 1, 1, Decimal("12345678.90"), None, datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), "x", None),
]


def django_style(row: tuple) -> tuple:
    """How Django stores these on SQLite: decimals as text (NUMERIC affinity), naive UTC text, 0/1."""
    id_, big, small, amount, flag, happened, label, body = row
    return (id_, big, small, None if amount is None else str(amount), None if flag is None else int(flag),
            None if happened is None else happened.replace(tzinfo=None).isoformat(" "), label, body)


def monolith(path: Path, rows: list[tuple]) -> str:
    conn = sqlite3.connect(path)
    conn.execute(DDL)
    conn.executemany("INSERT INTO edge VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [django_style(r) for r in rows])
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def service_table(url: str) -> None:
    meta = sa.MetaData()
    sa.Table("edge", meta,
             sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
             sa.Column("big", sa.BigInteger), sa.Column("small", sa.Integer), sa.Column("amount", sa.Numeric(10, 2)),
             sa.Column("flag", sa.Boolean),
             sa.Column("happened", sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql")),
             sa.Column("label", sa.String(50)), sa.Column("body", sa.Text().with_variant(mysql.LONGTEXT(), "mysql")),
             mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin")
    from strangler.datasplit.engines import open_engine

    open_engine(url, "service").create()
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://").replace("mysql://", "mysql+pymysql://"))
    meta.create_all(engine)
    engine.dispose()


def read_service(url: str) -> list[tuple]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://").replace("mysql://", "mysql+pymysql://"))
    table = sa.Table("edge", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(table).order_by(table.c.id))]
    engine.dispose()
    out = []
    for r in rows:
        happened = r[5]
        if happened is not None and happened.tzinfo is None:
            happened = happened.replace(tzinfo=UTC)
        out.append((*r[:3], r[3], None if r[4] is None else bool(r[4]), happened, *r[6:]))
    return out


TABLES = [{"source": "edge", "target": "edge", "key": "id", "decimal_places": {"amount": 2}}]


@pytest.mark.parametrize("generic", [False, True], ids=["fast-path", "generic"])
def test_edge_values_round_trip_exactly(target_url: str, tmp_path: Path, generic: bool) -> None:
    source_path = tmp_path / "monolith.sqlite3"
    plan = write_plan(tmp_path, target_url, source={"url": monolith(source_path, ROWS)}, tables=TABLES)
    service_table(target_url)
    split = ds.open_split(plan)
    try:
        assert ds.copy(split, batch_size=2, generic=generic).tables[0].rows == len(ROWS)
        assert ds.verify(split, chunk_size=2).ok
        assert read_service(target_url) == ROWS

        # ...and back into an empty monolith table: the very bytes Django had written.
        fresh = tmp_path / "fresh.sqlite3"
        back_plan = write_plan(tmp_path, target_url, source={"url": monolith(fresh, [])}, tables=TABLES,
                               name="back.yaml")
        back = ds.open_split(back_plan, reverse=True)
        assert ds.copy(back, batch_size=4, generic=generic).tables[0].rows == len(ROWS)
        assert ds.verify(back).ok
        back.close()
        raw = [sqlite3.connect(p).execute("SELECT * FROM edge ORDER BY id").fetchall() for p in (source_path, fresh)]
        assert raw[0] == raw[1]
    finally:
        split.close()


def test_verify_sees_null_versus_empty_and_a_cent(target_url: str, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, target_url, source={"url": monolith(tmp_path / "m.sqlite3", ROWS)}, tables=TABLES)
    service_table(target_url)
    split = ds.open_split(plan)
    try:
        ds.copy(split)
        conn = split.target.connect(autocommit=True)
        cur = conn.cursor()
        cur.execute("UPDATE edge SET label = NULL WHERE id = 2")
        cur.execute("UPDATE edge SET amount = 0.02 WHERE id = 4")
        conn.close()
        report = ds.verify(split)
        assert report.tables[0].changed == [2, 4]
    finally:
        split.close()
