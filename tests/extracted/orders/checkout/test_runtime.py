"""The saga's system database: a SQLite one is put in WAL mode before DBOS opens it (kept in the file), with
SQLite's default ``synchronous`` (FULL: every commit synced, as durable as the rollback journal); other URLs are
left alone."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from extracted.orders.checkout.runtime import wal_mode


def _pragma(path: Path, name: str) -> object:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_a_new_sqlite_system_database_is_made_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "var" / "orders_dbos.sqlite3"
    wal_mode(f"sqlite:///{path}")
    assert _pragma(path, "journal_mode") == "wal"
    assert _pragma(path, "synchronous") == 2   # FULL, SQLite's default: not weakened


def test_an_existing_one_is_switched_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "orders_dbos.sqlite3"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    assert _pragma(path, "journal_mode") == "delete"
    wal_mode(f"sqlite:///{path}")
    wal_mode(f"sqlite:///{path}")   # again: nothing changes
    assert _pragma(path, "journal_mode") == "wal"
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_other_urls_are_left_alone(tmp_path: Path) -> None:
    wal_mode("postgresql://postgres@127.0.0.1:5432/orders_dbos")   # no connection made
    assert list(tmp_path.iterdir()) == []
