"""SQLite: files; capture by triggers; checksums built by SQLite itself (group_concat) and hashed here."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa

from ..bindings import Binding
from ..columns import Column
from ..exceptions import DatabaseError
from .base import Engine
from .checksums import RS
from .rows import KeyRange, Selection
from .schema import ROW_EVENTS, Namer

NOW_EPOCH = "((julianday('now') - 2440587.5) * 86400.0)"


class SQLiteEngine(Engine):
    kind: ClassVar[str] = "sqlite"
    param: ClassVar[str] = "?"
    int_cast: ClassVar[str] = "INTEGER"
    float_type: ClassVar[str] = "REAL"

    @property
    def path(self) -> Path:
        name = self.url.database or ""
        if not name or name == ":memory:":
            raise DatabaseError(f"{self.label} database {self.display}: names no SQLite file")
        return Path(name)

    def _open(self) -> sqlite3.Connection:
        """The file as it is: never made here (only :meth:`create` makes one), so a check or a status of a
        plan whose service database is not provisioned yet leaves nothing behind."""
        if not self.path.exists():
            raise DatabaseError(f"{self.label} database {self.display}: no such file (not provisioned yet? "
                                "`strangler split provision` makes it)")
        try:
            return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None,
                                   timeout=60, check_same_thread=False)
        except sqlite3.Error as exc:
            raise DatabaseError(f"{self.label} database {self.display}: {exc}") from exc

    def columns(self, table: str) -> dict[str, Column] | None:
        return super().columns(table) if self.path.exists() else None   # no file yet: no table yet

    def sa_engine(self) -> sa.Engine:
        if self._sa is None:
            self._sa = sa.create_engine("sqlite://", creator=self._open, poolclass=sa.pool.NullPool)
        return self._sa

    def connect(self, *, autocommit: bool = True) -> sqlite3.Connection:
        conn = self._open()
        conn.execute("PRAGMA busy_timeout = 60000")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def exists(self) -> bool:
        return self.path.exists()

    def create(self) -> bool:
        if self.path.exists():
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(self.path).close()
        return True

    def drop(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def begin(self, conn: Any) -> None:
        conn.execute("BEGIN IMMEDIATE")

    def table_exists(self, conn: Any, table: str) -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone() \
            is not None

    # A trigger takes one event: a set is one trigger an event, named with the event's suffix.
    def drop_triggers(self, conn: Any, table: str, name: Namer) -> None:
        for suffix, _ in ROW_EVENTS:
            conn.execute(f"DROP TRIGGER IF EXISTS {self.q(name(suffix))}")

    def triggers_exist(self, conn: Any, table: str, name: Namer) -> bool:
        names = [name(suffix) for suffix, _ in ROW_EVENTS]
        found = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?, ?)",
                             names).fetchone()[0]
        return int(found) == len(names)

    # -- values ------------------------------------------------------------------------------------------
    def adapter(self, col: Column) -> Callable[[Any], Any] | None:
        if col.kind == "datetime":
            def dt(v: Any) -> Any:
                if isinstance(v, datetime):
                    if v.tzinfo is not None:
                        v = v.astimezone(timezone.utc).replace(tzinfo=None)
                    return v.isoformat(" ")
                return v
            return dt
        if col.kind in ("date", "time"):
            return lambda v: v.isoformat() if isinstance(v, date | time) else v
        if col.kind in ("decimal", "float"):
            return lambda v: format(v, "f") if isinstance(v, Decimal) else v
        if col.kind == "bool":
            return lambda v: int(v) if isinstance(v, bool) else v
        return None

    def _autoincrement(self, conn: Any, table: str) -> bool:
        """Only an AUTOINCREMENT key has a counter that never goes back (sqlite_sequence); any other integer
        key takes MAX + 1, so a deleted top id comes back whatever the sync does."""
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]).fetchone()
        return bool(sql and "AUTOINCREMENT" in (sql[0] or "").upper())

    def counter_column(self, conn: Any, b: Binding) -> str | None:
        if not self._autoincrement(conn, b.table):
            return None
        if not b.composite:
            return b.keys[0]
        # AUTOINCREMENT belongs to the table's one INTEGER PRIMARY KEY column: a counter of the key when it is
        # one of the key's columns (a composite key taken from columns other than the table's primary key).
        pk = [r[1] for r in conn.execute(f"PRAGMA table_info({self.q(b.table)})") if r[5]]
        return pk[0] if len(pk) == 1 and pk[0] in b.keys else None

    # An AUTOINCREMENT table's counter is its row in sqlite_sequence: the last id handed out (pruned or
    # deleted rows included), which inserts never move back. Keys and changelog ids share these two rules.
    def _last_given(self, conn: Any, table: str, key: str) -> int:
        """The largest id the table's counter or its rows hold (0: none)."""
        top = conn.execute(f"SELECT MAX({self.q(key)}) FROM {self.q(table)}").fetchone()[0]
        seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
        return max(top if isinstance(top, int) else 0, seq[0] if seq and isinstance(seq[0], int) else 0)

    def _give_at_least(self, conn: Any, table: str, last: int) -> None:
        """The table's counter moved up to ``last`` (as the last id handed out); never back."""
        seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", [table]).fetchone()
        if seq is None:
            if last > 0:
                conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [table, last])
        elif seq[0] < last:
            conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", [last, table])

    def next_key(self, conn: Any, b: Binding) -> int | None:
        column = self.counter_column(conn, b)
        if column is None:
            return None
        return self._last_given(conn, b.table, column) + 1

    def reset_sequence(self, conn: Any, b: Binding, at_least: int = 0) -> None:
        column = self.counter_column(conn, b)
        if column is None:
            return
        top = conn.execute(f"SELECT MAX({self.q(column)}) FROM {self.q(b.table)}").fetchone()[0]
        self._give_at_least(conn, b.table, max(top if isinstance(top, int) else 0, at_least - 1))

    # -- copy text made by SQLite itself (the fast source side of COPY / LOAD DATA) ----------------------
    def copy_field_sql(self, src: Column, tgt: Column, scale: int | None, prefix: str = "") -> str:
        c = prefix + self.q(src.name)
        if tgt.kind == "bool":
            return f"CASE WHEN {c} IS NULL THEN '\\N' WHEN {c} THEN '1' ELSE '0' END"
        if tgt.kind == "decimal" and scale is not None:
            return f"CASE WHEN {c} IS NULL THEN '\\N' ELSE printf('%.{scale}f', {c}) END"
        if tgt.kind == "float":
            return f"CASE WHEN {c} IS NULL THEN '\\N' ELSE printf('%!.17g', {c}) END"
        if tgt.kind in ("int", "datetime", "date", "time", "decimal"):
            return f"COALESCE(CAST({c} AS TEXT), '\\N')"
        if tgt.kind == "bytes":
            return f"CASE WHEN {c} IS NULL THEN '\\N' ELSE '\\\\x' || lower(hex({c})) END"
        escaped = f"replace(replace(replace(replace({c}, '\\', '\\\\'), char(9), '\\t'), char(10), '\\n'), " \
                  f"char(13), '\\r')"
        return f"COALESCE({escaped}, '\\N')"

    def copy_text(self, conn: Any, src: Binding, tgt: Binding, sel: Selection) -> tuple[str, int]:
        fields = [self.copy_field_sql(s, t, t.scale if t.kind == "decimal" else s.scale)
                  for s, t in zip(src.columns, tgt.columns, strict=True)]
        line = " || char(9) || ".join(fields)
        cond, params = self.where(src, sel)
        row = conn.execute(f"SELECT COUNT(*), group_concat(line, char(10)) FROM (SELECT {line} AS line FROM "
                           f"{self.q(src.table)} WHERE {cond} ORDER BY {self.key_names(src)})", params).fetchone()
        return ((row[1] + "\n") if row[1] is not None else ""), int(row[0])

    # -- capture -----------------------------------------------------------------------------------------
    def create_changelog(self, conn: Any, changelog: str) -> None:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {self.q(changelog)} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                     "table_name TEXT NOT NULL, row_key TEXT NOT NULL, op TEXT NOT NULL, changed_at REAL NOT NULL)")

    def install_capture(self, conn: Any, changelog: str, b: Binding) -> None:
        cl, t = self.q(changelog), self.q(b.table)
        new, old = self.key_json(b, "NEW"), self.key_json(b, "OLD")
        tname = self.literal(b.table)
        ins = f"INSERT INTO {cl} (table_name, row_key, op, changed_at) VALUES ({tname}, "
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS {self.q(self.trigger_name(changelog, b.table, '_i'))} "
                     f"AFTER INSERT ON {t} BEGIN {ins}{new}, 'I', {NOW_EPOCH}); END")
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS {self.q(self.trigger_name(changelog, b.table, '_u'))} "
                     f"AFTER UPDATE ON {t} BEGIN {ins}{new}, 'U', {NOW_EPOCH}); "
                     f"INSERT INTO {cl} (table_name, row_key, op, changed_at) SELECT {tname}, {old}, 'D', "
                     f"{NOW_EPOCH} WHERE {self.key_changed(b)}; END")
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS {self.q(self.trigger_name(changelog, b.table, '_d'))} "
                     f"AFTER DELETE ON {t} BEGIN {ins}{old}, 'D', {NOW_EPOCH}); END")

    def start_changelog_after(self, conn: Any, changelog: str, last_id: int) -> None:
        self._give_at_least(conn, changelog, last_id)

    def changelog_next_id(self, conn: Any, changelog: str) -> int:
        # AUTOINCREMENT never reuses an id: sqlite_sequence remembers the largest, pruned or not.
        return self._last_given(conn, changelog, "id") + 1

    # -- ownership guard ---------------------------------------------------------------------------------
    # SQLite has no session variables: a sync marks its own transaction (``syncing = 1`` on the plan's guard
    # rows, cleared before it commits). SQLite runs one writer at a time, so no other writer ever sees the mark.
    def install_guard(self, conn: Any, guard: str, plan: str, table: str, side: str) -> None:
        g, t = self.q(guard), self.q(table)
        row = f"FROM {g} WHERE plan = {self.literal(plan)} AND table_name = {self.literal(table)}"
        message = self.literal(self.refusal(plan, table, side))  # RAISE() takes a literal only
        for suffix, event in ROW_EVENTS:
            name = self.q(self.guard_trigger_name(plan, table, suffix))
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
            conn.execute(f"CREATE TRIGGER {name} BEFORE {event} ON {t} WHEN (SELECT owner {row}) <> '{side}' "
                         f"AND COALESCE((SELECT syncing {row}), 0) = 0 BEGIN SELECT RAISE(ABORT, {message}); END")

    def mark_sync_writer(self, conn: Any, guard: str, plan: str) -> None:
        conn.execute(f"UPDATE {self.q(guard)} SET syncing = 1 WHERE plan = ?", [plan])

    def unmark_sync_writer(self, conn: Any, guard: str, plan: str) -> None:
        conn.execute(f"UPDATE {self.q(guard)} SET syncing = 0 WHERE plan = ?", [plan])

    # -- checksums ---------------------------------------------------------------------------------------

    # SQLite may lack MOD() (a compile-time option): the % operator.
    def mod(self, value: str, size: int) -> str:
        return f"{value} % {size}"

    def chunk_digest(self, conn: Any, b: Binding, scales: Sequence[int | None], rng: KeyRange) -> tuple[int, str]:
        cond, params = self.where(b, rng)
        old = conn.text_factory
        conn.text_factory = bytes   # hash SQLite's UTF-8 bytes as they are: no decode / encode round trip
        try:
            n, text = conn.execute(
                f"SELECT COUNT(*), group_concat(r, '{RS}') FROM (SELECT {self.row_expr(b, scales)} AS r FROM "
                f"{self.q(b.table)} WHERE {cond} ORDER BY {self.key_names(b)})", params).fetchone()
        finally:
            conn.text_factory = old
        return int(n), hashlib.md5(text or b"").hexdigest()  # noqa: S324 - a checksum, not security
