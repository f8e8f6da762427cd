"""The one interface every database kind implements (like httpx transports: one class per kind).

An :class:`Engine` wraps one database URL. It opens raw DB-API connections (the data plane never goes through
an ORM) and knows its dialect's SQL for: reading key-ordered batches, upserting and deleting, capture
triggers and the changelog, the checkpoint table, sequence resets, canonical text for checksums, and the
tab-separated "copy text" that PostgreSQL's COPY and MariaDB's LOAD DATA both read. What is the same
everywhere lives here; the subclasses hold what differs.
"""

from __future__ import annotations

import hashlib
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa

from ..columns import Column, reflect_columns
from ..exceptions import DatabaseError
from ..mapping import Binding

# Canonical text separators for checksums: unit separator between fields, record separator between rows.
FS, RS = "\x1f", "\x1e"
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class KeyRange:
    """Rows with ``lo < key <= hi`` (None: unbounded)."""

    lo: Any = None
    hi: Any = None


@dataclass(frozen=True)
class Changed:
    """Rows whose keys the changelog lists with ``lo_id < id <= hi_id`` for the table."""

    changelog: str
    lo_id: int
    hi_id: int


Selection = KeyRange | Changed


class Engine:
    kind: ClassVar[str] = ""
    param: ClassVar[str] = "%s"
    int_cast: ClassVar[str] = ""           # SQL type to CAST changelog keys to for integer keys

    def __init__(self, url: sa.URL, label: str) -> None:
        self.url = url
        self.label = label                 # "source" / "target" (messages)
        self._sa: sa.Engine | None = None
        self.django_scale: Callable[[str, str], int | None] | None = None

    # -- connections -------------------------------------------------------------------------------------
    @property
    def display(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def connect(self, *, autocommit: bool = True) -> Any:
        raise NotImplementedError

    def sa_engine(self) -> sa.Engine:
        if self._sa is None:
            self._sa = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        return self._sa

    def dispose(self) -> None:
        if self._sa is not None:
            self._sa.dispose()
            self._sa = None

    def q(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def columns(self, table: str) -> dict[str, Column] | None:
        try:
            return reflect_columns(self.sa_engine(), table)
        except sa.exc.DBAPIError as exc:
            raise DatabaseError(f"{self.label} database {self.display}: {exc.orig}") from exc

    # -- database lifecycle ------------------------------------------------------------------------------
    def exists(self) -> bool:
        raise NotImplementedError

    def create(self) -> bool:
        """Create the database when missing; True when it was created."""
        raise NotImplementedError

    def drop(self) -> None:
        raise NotImplementedError

    # -- transactions ------------------------------------------------------------------------------------
    def begin(self, conn: Any) -> None:
        """Start a write transaction on a connection opened with ``autocommit=False``."""

    def prepare_writer(self, conn: Any) -> None:
        """Session settings for a connection that writes copied rows (FK checks off where allowed...)."""

    # -- reading -----------------------------------------------------------------------------------------
    def where(self, b: Binding, sel: Selection, prefix: str = "") -> tuple[str, list[Any]]:
        k, p = self.q(b.key), self.param
        if isinstance(sel, KeyRange):
            parts, params = [], []
            if sel.lo is not None:
                parts.append(f"{k} > {p}")
                params.append(sel.lo)
            if sel.hi is not None:
                parts.append(f"{k} <= {p}")
                params.append(sel.hi)
            return (" AND ".join(parts) or "1=1"), params
        key = f"CAST(row_key AS {self.int_cast})" if b.key_column.kind == "int" else "row_key"
        return (f"{k} IN (SELECT {key} FROM {prefix}{self.q(sel.changelog)} WHERE id > {p} AND id <= {p} "
                f"AND table_name = {p})"), [sel.lo_id, sel.hi_id, b.table]

    def next_bound(self, conn: Any, b: Binding, after: Any, n: int) -> Any:
        """The key ``n`` rows after ``after`` (or the last key when fewer remain; None when none remain)."""
        k, t, p = self.q(b.key), self.q(b.table), self.param
        cond, params = (f"WHERE {k} > {p}", [after]) if after is not None else ("", [])
        cur = conn.cursor()
        cur.execute(f"SELECT {k} FROM {t} {cond} ORDER BY {k} LIMIT 1 OFFSET {n - 1}", params)
        row = cur.fetchone()
        if row is None:
            cur.execute(f"SELECT MAX({k}) FROM {t} {cond}", params)
            row = cur.fetchone()
        return row[0] if row else None

    def fetch_rows(self, conn: Any, b: Binding, sel: Selection) -> list[tuple[Any, ...]]:
        cond, params = self.where(b, sel)
        cols = ", ".join(self.q(c) for c in b.names)
        cur = conn.cursor()
        cur.execute(f"SELECT {cols} FROM {self.q(b.table)} WHERE {cond} ORDER BY {self.q(b.key)}", params)
        return list(cur.fetchall())

    def count(self, conn: Any, table: str) -> int:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {self.q(table)}")
        return int(cur.fetchone()[0])

    def max_key(self, conn: Any, b: Binding) -> Any:
        cur = conn.cursor()
        cur.execute(f"SELECT MAX({self.q(b.key)}) FROM {self.q(b.table)}")
        return cur.fetchone()[0]

    # -- writing -----------------------------------------------------------------------------------------
    def adapter(self, col: Column) -> Callable[[Any], Any] | None:
        """Converts a value read from any engine into what this engine's driver stores for the column."""
        return None

    def upsert_sql(self, b: Binding) -> str:
        cols = ", ".join(self.q(c) for c in b.names)
        marks = ", ".join([self.param] * len(b.names))
        rest = [c for c in b.names if c != b.key]
        action = ("DO UPDATE SET " + ", ".join(f"{self.q(c)} = excluded.{self.q(c)}" for c in rest)
                  if rest else "DO NOTHING")
        return f"INSERT INTO {self.q(b.table)} ({cols}) VALUES ({marks}) ON CONFLICT ({self.q(b.key)}) {action}"

    def upsert_rows(self, conn: Any, b: Binding, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            conn.cursor().executemany(self.upsert_sql(b), rows)

    def delete_keys(self, conn: Any, b: Binding, keys: Sequence[Any]) -> None:
        cur = conn.cursor()
        for i in range(0, len(keys), 500):
            part = list(keys[i:i + 500])
            marks = ", ".join([self.param] * len(part))
            cur.execute(f"DELETE FROM {self.q(b.table)} WHERE {self.q(b.key)} IN ({marks})", part)

    def next_key(self, conn: Any, b: Binding) -> int | None:
        """The key the table's own counter hands out next (None: the key has no counter). Never below a key
        the counter has handed out, even when that row has since been deleted."""
        return None

    def reset_sequence(self, conn: Any, b: Binding, at_least: int = 0) -> None:
        """Set the key's sequence / identity / auto-increment counter past the largest key and to at least
        ``at_least``; never back. The sync passes the source's :meth:`next_key`: an id the owner handed out
        (for a row deleted since, too) is never handed out again by the other side once it takes over."""

    # -- copy text (PostgreSQL COPY text format == MariaDB LOAD DATA default format) --------------------
    def copy_text(self, conn: Any, src: Binding, tgt: Binding, sel: Selection) -> tuple[str, int]:
        """The selected rows as tab-separated lines (``\\N`` NULL, backslash escapes), and their count."""
        rows = self.fetch_rows(conn, src, sel)
        fmts = [copy_formatter(c.kind, t.scale) for c, t in zip(src.columns, tgt.columns, strict=True)]
        lines = ["\t".join([f(v) for f, v in zip(fmts, row, strict=True)]) for row in rows]
        return ("\n".join(lines) + "\n" if lines else ""), len(lines)

    def load_copy_text(self, conn: Any, b: Binding, text: str) -> None:
        raise NotImplementedError(f"{self.kind} does not load copy text")

    # -- change capture ----------------------------------------------------------------------------------
    def lock_id(self, changelog: str) -> int:
        return zlib.crc32(changelog.encode()) & 0x7FFFFFFF

    def trigger_name(self, changelog: str, table: str, suffix: str = "") -> str:
        name = f"{changelog}__{table}{suffix}"
        if len(name) > 60:
            # Hash the changelog's name too: per-plan logs all start "strangler_changelog_".
            digest = hashlib.sha1(f"{changelog}/{table}".encode()).hexdigest()[:16]  # noqa: S324 - a name
            name = f"{changelog[:20]}__{digest}{suffix}"
        return name

    # Every changelog has an identity (a random id in ``strangler_logs``, made with the log and dropped with
    # it): a sync stores it beside its mark, and a mark stored for another identity points into a log that
    # no longer exists, so the sync reads the new log from its start instead of skipping what is below it.
    LOGS: ClassVar[str] = "strangler_logs"

    def create_changelog(self, conn: Any, changelog: str) -> None:
        raise NotImplementedError

    def ensure_changelog(self, conn: Any, changelog: str) -> None:
        existed = self.table_exists(conn, changelog)
        self.create_changelog(conn, changelog)
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.q(self.LOGS)} (changelog VARCHAR(200) NOT NULL PRIMARY KEY, "
                    f"identity VARCHAR(64) NOT NULL, created_at {self.float_type} NOT NULL)"
                    + (" ENGINE=InnoDB" if self.kind == "mysql" else ""))
        if existed and self.log_identity(conn, changelog) is not None:
            return
        cur.execute(f"DELETE FROM {self.q(self.LOGS)} WHERE changelog = {self.param}", [changelog])
        cur.execute(f"INSERT INTO {self.q(self.LOGS)} (changelog, identity, created_at) VALUES ({self.param}, "
                    f"{self.param}, {self.param})", [changelog, uuid.uuid4().hex, time.time()])

    def log_identity(self, conn: Any, changelog: str) -> str | None:
        if not self.table_exists(conn, self.LOGS):
            return None
        cur = conn.cursor()
        cur.execute(f"SELECT identity FROM {self.q(self.LOGS)} WHERE changelog = {self.param}", [changelog])
        row = cur.fetchone()
        return str(row[0]) if row else None

    def table_exists(self, conn: Any, table: str) -> bool:
        return sa.inspect(self.sa_engine()).has_table(table)

    def drop_changelog(self, conn: Any, changelog: str) -> None:
        cur = conn.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {self.q(changelog)}")
        if self.table_exists(conn, self.LOGS):
            cur.execute(f"DELETE FROM {self.q(self.LOGS)} WHERE changelog = {self.param}", [changelog])

    def install_capture(self, conn: Any, changelog: str, b: Binding) -> None:
        raise NotImplementedError

    def uninstall_capture(self, conn: Any, changelog: str, table: str) -> None:
        raise NotImplementedError

    def capture_installed(self, conn: Any, changelog: str, table: str) -> bool:
        raise NotImplementedError

    def changelog_barrier(self, conn: Any, changelog: str) -> int:
        """The largest changelog id below which every entry is committed (waits for in-flight writers)."""
        cur = conn.cursor()
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.q(changelog)}")
        return int(cur.fetchone()[0])

    def changelog_lag(self, conn: Any, changelog: str, tables: Sequence[str], after: int) -> tuple[int, float]:
        """(entries after the mark, seconds since the oldest of them was written)."""
        marks = ", ".join([self.param] * len(tables))
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*), MIN(changed_at) FROM {self.q(changelog)} WHERE id > {self.param} "
                    f"AND table_name IN ({marks})", [after, *tables])
        n, oldest = cur.fetchone()
        return int(n), (max(0.0, time.time() - float(oldest)) if oldest is not None else 0.0)

    def changelog_range(self, conn: Any, changelog: str, tables: Sequence[str], after: int, upto: int,
                        limit: int) -> int:
        """The id closing a slice of at most ``limit`` entries after ``after`` (<= upto)."""
        cur = conn.cursor()
        cur.execute(f"SELECT id FROM {self.q(changelog)} WHERE id > {self.param} AND id <= {self.param} "
                    f"ORDER BY id LIMIT 1 OFFSET {limit - 1}", [after, upto])
        row = cur.fetchone()
        return int(row[0]) if row else upto

    def gone_keys(self, conn: Any, b: Binding, sel: Changed) -> list[Any]:
        """Keys the changelog slice names that no longer exist in the table (deleted since)."""
        key = f"CAST(c.row_key AS {self.int_cast})" if b.key_column.kind == "int" else "c.row_key"
        p = self.param
        cur = conn.cursor()
        cur.execute(f"SELECT DISTINCT {key} FROM {self.q(sel.changelog)} c WHERE c.id > {p} AND c.id <= {p} "
                    f"AND c.table_name = {p} AND NOT EXISTS (SELECT 1 FROM {self.q(b.table)} s "
                    f"WHERE s.{self.q(b.key)} = {key})", [sel.lo_id, sel.hi_id, b.table])
        return [r[0] for r in cur.fetchall()]

    def changelog_next_id(self, conn: Any, changelog: str) -> int:
        """The id the changelog's next entry will get at least (its sequence, which pruning never moves back)."""
        cur = conn.cursor()
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.q(changelog)}")
        return int(cur.fetchone()[0]) + 1

    def start_changelog_after(self, conn: Any, changelog: str, last_id: int) -> None:
        """Makes the changelog's next id larger than ``last_id`` (a recreated log must not reuse the ids a
        high-water mark already points past)."""
        raise NotImplementedError

    def prune_changelog(self, conn: Any, changelog: str, upto: int) -> int:
        """Deletes the entries every reader has applied (``id <= upto``); how many went."""
        cur = conn.cursor()
        cur.execute(f"DELETE FROM {self.q(changelog)} WHERE id <= {self.param}", [upto])
        return max(int(cur.rowcount or 0), 0)

    def lock_sync(self, conn: Any, name: str) -> None:
        """Held by one sync of a plan's direction at a time, until the connection closes: two syncs reading
        the same changelog slice at different moments could otherwise commit the older rows last. (SQLite
        needs none: its sync reads the source inside the target's write transaction or after taking it.)"""

    # -- ownership guard (see ``datasplit/ownership.py``) ------------------------------------------------
    def guard_trigger_name(self, plan: str, table: str, suffix: str = "") -> str:
        name = f"strangler_guard_{plan}__{table}{suffix}"
        if len(name) > 60:
            digest = hashlib.sha1(f"{plan}/{table}".encode()).hexdigest()[:16]  # noqa: S324 - a name
            name = f"strangler_guard_{digest}{suffix}"
        return name

    def ensure_guard_table(self, conn: Any, guard: str) -> None:
        conn.cursor().execute(
            f"CREATE TABLE IF NOT EXISTS {self.q(guard)} (plan VARCHAR(200) NOT NULL, "
            "table_name VARCHAR(200) NOT NULL, side VARCHAR(20) NOT NULL, owner VARCHAR(20) NOT NULL, "
            f"syncing INTEGER NOT NULL DEFAULT 0, updated_at {self.float_type} NOT NULL, "
            "PRIMARY KEY (plan, table_name))")

    def add_guard_row(self, conn: Any, guard: str, plan: str, table: str, side: str, owner: str) -> None:
        """The table's row in the guard table, unless it has one (its owner then stays as it is)."""
        p = self.param
        cur = conn.cursor()
        cur.execute(f"SELECT 1 FROM {self.q(guard)} WHERE plan = {p} AND table_name = {p}", [plan, table])
        if cur.fetchone() is None:
            cur.execute(f"INSERT INTO {self.q(guard)} (plan, table_name, side, owner, syncing, updated_at) "
                        f"VALUES ({p}, {p}, {p}, {p}, 0, {p})", [plan, table, side, owner, time.time()])

    def set_owner(self, conn: Any, guard: str, plan: str, owner: str) -> None:
        p = self.param
        conn.cursor().execute(f"UPDATE {self.q(guard)} SET owner = {p}, updated_at = {p} WHERE plan = {p}",
                              [owner, time.time(), plan])

    def read_owners(self, conn: Any, guard: str, plan: str, *, lock: bool = False) -> dict[str, str]:
        """Table -> owner recorded in this database's guard table ({} when it has none). ``lock``: a shared
        lock on the rows until the transaction ends, so an ownership change waits for this transaction."""
        if not self.table_exists(conn, guard):
            return {}
        cur = conn.cursor()
        cur.execute(f"SELECT table_name, owner FROM {self.q(guard)} WHERE plan = {self.param}"
                    + (self.share_lock if lock else ""), [plan])
        return {str(r[0]): str(r[1]) for r in cur.fetchall()}

    share_lock: ClassVar[str] = ""

    def delete_guard_rows(self, conn: Any, guard: str, plan: str) -> None:
        if self.table_exists(conn, guard):
            conn.cursor().execute(f"DELETE FROM {self.q(guard)} WHERE plan = {self.param}", [plan])

    def install_guard(self, conn: Any, guard: str, plan: str, table: str, side: str) -> None:
        """Triggers refusing writes to ``table`` unless this database's side owns it or the writer is a sync."""
        raise NotImplementedError

    def uninstall_guard(self, conn: Any, plan: str, table: str) -> None:
        raise NotImplementedError

    def guard_installed(self, conn: Any, plan: str, table: str) -> bool:
        raise NotImplementedError

    def mark_sync_writer(self, conn: Any, guard: str, plan: str) -> None:
        """Inside a sync's transaction: the guard lets this connection's writes through (where a session
        setting cannot say so: SQLite)."""

    def unmark_sync_writer(self, conn: Any, guard: str, plan: str) -> None:
        """Before the sync's transaction commits."""

    @staticmethod
    def guard_message(plan: str, table: str, owner: str) -> str:
        # No quotes or percent signs: the text is embedded as an SQL literal in every dialect. It starts
        # "read-only:" on every engine: how an application tells this refusal from a bug (SQLite's trigger can
        # raise no read-only error code; PostgreSQL's is SQLSTATE 25006, MariaDB's errno 1792) and answers 503.
        return (f"read-only: table {table} is owned by the {owner} (plan {plan}); this copy only takes writes "
                f"from the plan's sync")

    # -- checkpoints (in the database being written) -----------------------------------------------------
    def ensure_state(self, conn: Any, table: str) -> None:
        conn.cursor().execute(
            f"CREATE TABLE IF NOT EXISTS {self.q(table)} (plan VARCHAR(200) NOT NULL, item VARCHAR(200) NOT NULL, "
            f"value VARCHAR(400), updated_at {self.float_type} NOT NULL, PRIMARY KEY (plan, item))")

    float_type: ClassVar[str] = "DOUBLE PRECISION"

    def read_state(self, conn: Any, table: str, plan: str) -> dict[str, tuple[str | None, float]]:
        if not self.table_exists(conn, table):
            return {}
        cur = conn.cursor()
        cur.execute(f"SELECT item, value, updated_at FROM {self.q(table)} WHERE plan = {self.param}", [plan])
        return {r[0]: (r[1], float(r[2])) for r in cur.fetchall()}

    def write_state(self, conn: Any, table: str, plan: str, item: str, value: str | None) -> None:
        p = self.param
        conn.cursor().execute(
            f"INSERT INTO {self.q(table)} (plan, item, value, updated_at) VALUES ({p}, {p}, {p}, {p}) "
            "ON CONFLICT (plan, item) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [plan, item, value, time.time()])

    def clear_state(self, conn: Any, table: str, plan: str, prefix: str) -> None:
        if self.table_exists(conn, table):
            conn.cursor().execute(f"DELETE FROM {self.q(table)} WHERE plan = {self.param} AND item LIKE {self.param}",
                                  [plan, prefix + "%"])

    # -- checksums ---------------------------------------------------------------------------------------
    def canonical(self, col: Column, scale: int | None) -> str:
        """SQL for the column's canonical text (NULL stays NULL)."""
        raise NotImplementedError

    def concat(self, parts: Iterable[str]) -> str:
        return " || ".join(parts)

    def row_expr(self, b: Binding, scales: Sequence[int | None]) -> str:
        parts = []
        for i, (col, scale) in enumerate(zip(b.columns, scales, strict=True)):
            if i:
                parts.append(f"'{FS}'")
            value = self.concat(["'~'", self.canonical(col, scale)])
            parts.append(f"COALESCE({value}, '!')")
        return self.concat(parts)

    def chunk_bounds(self, conn: Any, b: Binding, size: int) -> list[Any]:
        k = self.q(b.key)
        cur = conn.cursor()
        cur.execute(f"SELECT k FROM (SELECT {k} AS k, ROW_NUMBER() OVER (ORDER BY {k}) AS rn FROM {self.q(b.table)}) "
                    f"x WHERE MOD(rn, {size}) = 0 ORDER BY k")
        return [r[0] for r in cur.fetchall()]

    def chunk_digest(self, conn: Any, b: Binding, scales: Sequence[int | None], rng: KeyRange) -> tuple[int, str]:
        raise NotImplementedError

    def row_digests(self, conn: Any, b: Binding, scales: Sequence[int | None], rng: KeyRange) -> dict[str, str]:
        """Canonical key text -> MD5 of the row's canonical text, for the rows in the range."""
        cond, params = self.where(b, rng)
        cur = conn.cursor()
        cur.execute(f"SELECT {self.canonical(b.key_column, None)}, {self.row_expr(b, scales)} "
                    f"FROM {self.q(b.table)} WHERE {cond}", params)
        return {str(k): hashlib.md5(_bytes(r)).hexdigest() for k, r in cur.fetchall()}  # noqa: S324


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def copy_formatter(kind: str, scale: int | None) -> Callable[[Any], str]:
    """Python formatting of one driver value into copy text (the slow, generic path)."""
    from datetime import UTC, datetime
    from decimal import Decimal

    def fmt(v: Any) -> str:
        if v is None:
            return "\\N"
        if isinstance(v, str):
            return v.translate(COPY_ESCAPES)
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, datetime):
            stamp: datetime = v if v.tzinfo is None else v.astimezone(UTC).replace(tzinfo=None)
            return stamp.isoformat(" ")
        if isinstance(v, Decimal):
            return format(v, "f")
        if isinstance(v, float) and scale is not None:
            return f"{v:.{scale}f}"
        if isinstance(v, bytes | bytearray | memoryview):
            return "\\\\x" + bytes(v).hex()
        if hasattr(v, "isoformat"):
            return str(v.isoformat())
        return str(v)

    return fmt
