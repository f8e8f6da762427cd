"""PostgreSQL: COPY into a temporary staging table then INSERT ... ON CONFLICT; checksums computed by the server.

Commit order of the changelog: sequence ids are taken at insert time, not commit time, so a slow transaction
can commit id 100 after id 101 is visible. Every capture trigger therefore holds a *shared* advisory lock
until its transaction ends, and :meth:`changelog_barrier` takes the same lock *exclusively* for an instant:
when it has it, every entry below the max id it then reads is committed (or rolled back for good).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import psycopg

from ..bindings import Binding
from ..columns import Column
from ..exceptions import DatabaseError
from .base import Engine
from .checksums import RS
from .rows import KeyRange
from .schema import Namer

TIMEOUT = 10


class PostgreSQLEngine(Engine):
    kind: ClassVar[str] = "postgresql"
    int_cast: ClassVar[str] = "BIGINT"

    def _conninfo(self, dbname: str | None = None) -> dict[str, Any]:
        u = self.url
        info = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "user": u.username,
                "password": u.password, "dbname": dbname or u.database, "connect_timeout": TIMEOUT}
        return {k: v for k, v in info.items() if v is not None}

    def connect(self, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(**self._conninfo(), autocommit=autocommit)
        except psycopg.Error as exc:
            raise DatabaseError(f"{self.label} database {self.display}: {exc}".strip()) from exc
        conn.execute("SET TIME ZONE 'UTC'")
        if not autocommit:
            conn.commit()
        return conn

    def _admin(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(**self._conninfo("postgres"), autocommit=True)
        except psycopg.Error as exc:
            raise DatabaseError(f"{self.label} server of {self.display}: {exc}".strip()) from exc

    def exists(self) -> bool:
        with self._admin() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.url.database]).fetchone() \
                is not None

    def create(self) -> bool:
        if self.exists():
            return False
        with self._admin() as conn:
            conn.execute(f"CREATE DATABASE {self.q(self.url.database or '')}")
        return True

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.q(self.url.database or '')} WITH (FORCE)")

    def table_exists(self, conn: Any, table: str) -> bool:
        return bool(conn.execute("SELECT to_regclass(%s) IS NOT NULL", [self.q(table)]).fetchone()[0])

    # A trigger takes every event: a set is one trigger (no suffix) calling one function (suffix "_fn").
    def drop_triggers(self, conn: Any, table: str, name: Namer) -> None:
        if self.table_exists(conn, table):
            conn.execute(f"DROP TRIGGER IF EXISTS {self.q(name(''))} ON {self.q(table)}")
        conn.execute(f"DROP FUNCTION IF EXISTS {self.q(name('_fn'))}()")

    def triggers_exist(self, conn: Any, table: str, name: Namer) -> bool:
        return conn.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = to_regclass(%s)",
                            [name(""), self.q(table)]).fetchone() is not None

    def prepare_writer(self, conn: Any) -> None:
        conn.execute("SET strangler.writer = 'sync'")  # the ownership guard lets this session write
        conn.commit()
        # Replica mode skips FK checks and user triggers (our own writes must not be captured back).
        try:
            conn.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            conn.rollback()
        conn.commit()

    def adapter(self, col: Column) -> Callable[[Any], Any] | None:
        if col.kind == "bool":
            return lambda v: bool(v) if isinstance(v, int) else v
        if col.kind == "decimal":
            return lambda v: Decimal(repr(v)) if isinstance(v, float) else v
        return None

    def _key_sequence(self, conn: Any, b: Binding) -> tuple[str, str] | None:
        """(the key's column with a sequence (serial or identity), the sequence), the first such column."""
        for key in b.keys:
            row = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", [self.q(b.table), key]).fetchone()
            if row and row[0]:
                return key, str(row[0])
        return None

    def _sequence_next(self, conn: Any, seq: str) -> int:
        last, called = conn.execute(f"SELECT last_value, is_called FROM {seq}").fetchone()
        return int(last) + 1 if called else int(last)

    def counter_column(self, conn: Any, b: Binding) -> str | None:
        found = self._key_sequence(conn, b)
        return found[0] if found else None

    def next_key(self, conn: Any, b: Binding) -> int | None:
        found = self._key_sequence(conn, b)
        return self._sequence_next(conn, found[1]) if found else None

    def reset_sequence(self, conn: Any, b: Binding, at_least: int = 0) -> None:
        found = self._key_sequence(conn, b)
        if not found:
            return
        column, seq = found
        top = conn.execute(f"SELECT MAX({self.q(column)}) FROM {self.q(b.table)}").fetchone()[0]
        nxt = max((top or 0) + 1, self._sequence_next(conn, seq), at_least)
        conn.execute("SELECT setval(%s, %s, false)", [seq, nxt])

    # -- loading -----------------------------------------------------------------------------------------
    def load_copy_text(self, conn: Any, b: Binding, text: str) -> None:
        stage = self.q(f"strangler_stage_{b.table}")
        cols = self.names(b.names)
        conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {cols} FROM {self.q(b.table)} WITH NO DATA")
        with conn.cursor().copy(f"COPY {stage} ({cols}) FROM STDIN") as cp:
            cp.write(text)
        conn.execute(self.upsert_from(b, stage))
        conn.execute(f"TRUNCATE {stage}")

    def upsert_rows(self, conn: Any, b: Binding, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with conn.cursor() as cur:
                cur.executemany(self.upsert_sql(b), rows)

    # -- capture -----------------------------------------------------------------------------------------
    def create_changelog(self, conn: Any, changelog: str) -> None:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {self.q(changelog)} (id BIGSERIAL PRIMARY KEY, "
                     "table_name TEXT NOT NULL, row_key TEXT NOT NULL, op CHAR(1) NOT NULL, "
                     "changed_at DOUBLE PRECISION NOT NULL)")

    # A one-column key is logged as its text (as it always was), a composite one as a JSON array's text.
    def key_json(self, b: Binding, row: str) -> str:
        if not b.composite:
            return f"{row}.{self.q(b.keys[0])}::text"
        return f"json_build_array({', '.join(f'{row}.{self.q(k)}' for k in b.keys)})::text"

    def key_changed(self, b: Binding) -> str:
        return " OR ".join(f"OLD.{self.q(k)} IS DISTINCT FROM NEW.{self.q(k)}" for k in b.keys)

    def json_item(self, column: str, i: int) -> str:
        return f"({column}::json ->> {i})"

    def cast_key_part(self, col: Column, expr: str) -> str:
        # ->> gives text: cast to the column's own type (a date, a uuid... compares with text nowhere here).
        return f"CAST({expr} AS {self.int_cast if col.kind == 'int' else col.declared or 'TEXT'})"

    def install_capture(self, conn: Any, changelog: str, b: Binding) -> None:
        fn = self.q(self.trigger_name(changelog, b.table, "_fn"))
        cl, new, old = self.q(changelog), self.key_json(b, "NEW"), self.key_json(b, "OLD")
        tname = self.literal(b.table)
        ins = f"INSERT INTO {cl} (table_name, row_key, op, changed_at) VALUES ({tname}, "
        now = "extract(epoch from clock_timestamp())"
        conn.execute(f"""
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $strangler$
BEGIN
  PERFORM pg_advisory_xact_lock_shared({self.lock_id(changelog)});
  IF TG_OP = 'INSERT' THEN
    {ins}{new}, 'I', {now});
  ELSIF TG_OP = 'UPDATE' THEN
    {ins}{new}, 'U', {now});
    IF {self.key_changed(b)} THEN {ins}{old}, 'D', {now}); END IF;
  ELSE
    {ins}{old}, 'D', {now});
  END IF;
  RETURN NULL;
END $strangler$""")
        trig = self.q(self.trigger_name(changelog, b.table))
        conn.execute(f"DROP TRIGGER IF EXISTS {trig} ON {self.q(b.table)}")
        conn.execute(f"CREATE TRIGGER {trig} AFTER INSERT OR UPDATE OR DELETE ON {self.q(b.table)} "
                     f"FOR EACH ROW EXECUTE FUNCTION {fn}()")

    def changelog_barrier(self, conn: Any, changelog: str) -> int:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [self.lock_id(changelog)])
            return int(conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.q(changelog)}").fetchone()[0])

    def _changelog_sequence(self, conn: Any, changelog: str) -> str | None:
        row = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", [self.q(changelog)]).fetchone()
        return str(row[0]) if row and row[0] else None

    def start_changelog_after(self, conn: Any, changelog: str, last_id: int) -> None:
        seq = self._changelog_sequence(conn, changelog)
        if seq is not None:
            # setval never moves a sequence back here: the larger of where it is and where it must be.
            conn.execute(f"SELECT setval(%s, GREATEST((SELECT last_value FROM {seq}), %s), true)", [seq, last_id])

    def changelog_next_id(self, conn: Any, changelog: str) -> int:
        seq = self._changelog_sequence(conn, changelog)
        if seq is None:
            return super().changelog_next_id(conn, changelog)
        return self._sequence_next(conn, seq)

    def lock_sync(self, conn: Any, name: str) -> None:
        conn.execute("SELECT pg_advisory_lock(%s)", [self.lock_id("sync:" + name)])
        conn.commit()

    # -- ownership guard ---------------------------------------------------------------------------------
    # The sync's own connection runs with session_replication_role = replica (no user trigger fires) and
    # strangler.writer = 'sync' (for servers that refuse replica mode to this user).
    share_lock: ClassVar[str] = " FOR SHARE"

    def install_guard(self, conn: Any, guard: str, plan: str, table: str, side: str) -> None:
        fn = self.q(self.guard_trigger_name(plan, table, "_fn"))
        message = self.refusal(plan, table, side).replace("'", "''")
        conn.execute(f"""
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $strangler$
DECLARE
  holder text;
BEGIN
  IF current_setting('strangler.writer', true) IS DISTINCT FROM 'sync' THEN
    SELECT owner INTO holder FROM {self.q(guard)}
      WHERE plan = {self.literal(plan)} AND table_name = {self.literal(table)};
    IF holder IS NOT NULL AND holder <> '{side}' THEN
      RAISE EXCEPTION USING ERRCODE = 'read_only_sql_transaction', MESSAGE = '{message}';
    END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $strangler$""")
        trig = self.q(self.guard_trigger_name(plan, table))
        conn.execute(f"DROP TRIGGER IF EXISTS {trig} ON {self.q(table)}")
        conn.execute(f"CREATE TRIGGER {trig} BEFORE INSERT OR UPDATE OR DELETE ON {self.q(table)} "
                     f"FOR EACH ROW EXECUTE FUNCTION {fn}()")

    # -- checksums ---------------------------------------------------------------------------------------
    md5: ClassVar[str] = "md5"

    def canonical(self, col: Column, scale: int | None) -> str:
        if col.kind == "datetime" and col.tz_aware:   # timestamptz: the text of its UTC time, as elsewhere
            return f"to_char({self.q(col.name)} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
        return super().canonical(col, scale)

    def chunk_digest(self, conn: Any, b: Binding, scales: Sequence[int | None], rng: KeyRange) -> tuple[int, str]:
        cond, params = self.where(b, rng)
        keys, order = self.key_aliases(b)
        n, digest = conn.execute(
            f"SELECT COUNT(*), md5(COALESCE(string_agg(r, '{RS}' ORDER BY {order}), '')) FROM (SELECT {keys}, "
            f"{self.row_expr(b, scales)} AS r FROM {self.q(b.table)} WHERE {cond}) x", params).fetchone()
        return int(n), str(digest)
