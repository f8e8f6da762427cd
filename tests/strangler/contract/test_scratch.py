"""Scratch copies put back after a write (strangler/contract/scratch.py), on PostgreSQL: rows of changed tables
and every sequence, foreign keys and triggers notwithstanding; a table nobody changed is not touched."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from strangler.contract.scratch import ScratchDatabase

PG_URL = os.environ.get("MONOLITH_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL.startswith(("postgres://", "postgresql://")),
                                reason="PostgreSQL pass only (MONOLITH_DATABASE_URL is not PostgreSQL)")


@pytest.fixture
def database() -> Iterator[str]:
    import psycopg

    parts = urlsplit(PG_URL)
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    name = f"strangler_contract_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE parent (id serial PRIMARY KEY, name text NOT NULL)")
            conn.execute("CREATE TABLE child (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                         "parent_id int NOT NULL REFERENCES parent(id), n int, doubled int GENERATED ALWAYS AS "
                         "(n * 2) STORED)")
            conn.execute("CREATE TABLE untouched (id int PRIMARY KEY)")
            conn.execute("INSERT INTO parent (name) VALUES ('a'), ('b')")
            conn.execute("INSERT INTO child (parent_id, n) VALUES (1, 1), (2, 2)")
            conn.execute("INSERT INTO untouched VALUES (1)")
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def content(conn: object) -> list[object]:
    execute = conn.execute  # type: ignore[attr-defined]
    return [execute("SELECT * FROM parent ORDER BY id").fetchall(),
            execute("SELECT * FROM child ORDER BY id").fetchall(),
            execute("SELECT last_value, is_called FROM parent_id_seq").fetchone(),
            execute("SELECT last_value, is_called FROM child_id_seq").fetchone()]


def test_a_postgresql_copy_is_put_back_after_writes(database: str) -> None:
    import psycopg

    scratch = ScratchDatabase("postgresql", database.replace("postgresql://", "postgresql+psycopg://", 1),
                              database.rsplit("/", 1)[1])
    scratch.snapshot()
    assert scratch.resettable and scratch.reset_problem is None
    with psycopg.connect(database, autocommit=True) as conn:
        before = content(conn)
        untouched = conn.execute("SELECT xmin::text FROM untouched").fetchone()
        conn.execute("INSERT INTO parent (name) VALUES ('c')")
        conn.execute("INSERT INTO child (parent_id, n) VALUES (3, 3)")
        conn.execute("UPDATE parent SET name = 'changed' WHERE id = 1")
        conn.execute("DELETE FROM child WHERE id = 1")
        with pytest.raises(psycopg.errors.UniqueViolation):  # a failed insert still takes a sequence value
            conn.execute("INSERT INTO parent (id, name) VALUES (nextval('parent_id_seq'), 'x'), (1, 'dup')")
        assert content(conn) != before
        scratch.restore()
        assert content(conn) == before
        assert conn.execute("SELECT xmin::text FROM untouched").fetchone() == untouched  # never rewritten
        conn.execute("INSERT INTO parent (name) VALUES ('again')")  # the same ids come out again
        assert conn.execute("SELECT max(id) FROM parent").fetchone() == (3,)
        scratch.restore()
        assert content(conn) == before
    scratch.drop()  # its own connection closed first, then the database
