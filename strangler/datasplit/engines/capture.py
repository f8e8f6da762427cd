"""The capture role of an engine: the changelog a source database's triggers write, and reading it in order.

Capture triggers append ``(table_name, row_key, op, changed_at)`` to the plan's changelog on every write to a
captured table (``row_key``: a one-column key's value as text, as every changelog has always held it; a
composite key's values as a JSON array, which the sync reads back column by column in SQL); the sync reads
the log in slices of ids below a *barrier* (every entry below it committed), applies them, and prunes what
every reader has applied. A new engine implements the changelog table, the
capture triggers and :meth:`Capture.start_changelog_after`; it overrides :meth:`Capture.changelog_barrier`
where ids can commit out of order (PostgreSQL, MariaDB), and :meth:`Capture.lock_sync` where two syncs may
run at once.
"""

from __future__ import annotations

import time
import uuid
import zlib
from abc import abstractmethod
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

from ..bindings import Binding
from .rows import Changed
from .schema import Schema, bounded_name


class Capture(Schema):
    # Every changelog has an identity (a random id in ``strangler_logs``, made with the log and dropped with
    # it): a sync stores it beside its mark, and a mark stored for another identity points into a log that
    # no longer exists, so the sync reads the new log from its start instead of skipping what is below it.
    LOGS: ClassVar[str] = "strangler_logs"

    def lock_id(self, changelog: str) -> int:
        return zlib.crc32(changelog.encode()) & 0x7FFFFFFF

    def trigger_name(self, changelog: str, table: str, suffix: str = "") -> str:
        # Hash the changelog's name too: per-plan logs all start "strangler_changelog_".
        return bounded_name(f"{changelog}__{table}{suffix}", f"{changelog[:20]}__", f"{changelog}/{table}", suffix)

    # -- the changelog table -----------------------------------------------------------------------------
    @abstractmethod
    def create_changelog(self, conn: Any, changelog: str) -> None:
        """The changelog table, where missing: ``id`` (a counter that never reuses an id, pruned or not),
        ``table_name``, ``row_key`` (text), ``op`` ('I', 'U', 'D'), ``changed_at`` (seconds since the epoch)."""

    def ensure_changelog(self, conn: Any, changelog: str) -> None:
        existed = self.table_exists(conn, changelog)
        self.create_changelog(conn, changelog)
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.q(self.LOGS)} (changelog VARCHAR(200) NOT NULL PRIMARY KEY, "
                    f"identity VARCHAR(64) NOT NULL, created_at {self.float_type} NOT NULL)" + self.table_options)
        if existed and self.log_identity(conn, changelog) is not None:
            return
        cur.execute(f"DELETE FROM {self.q(self.LOGS)} WHERE changelog = {self.param}", [changelog])
        cur.execute(f"INSERT INTO {self.q(self.LOGS)} (changelog, identity, created_at) VALUES ({self.param}, "
                    f"{self.param}, {self.param})", [changelog, uuid.uuid4().hex, time.time()])

    def log_identity(self, conn: Any, changelog: str) -> str | None:
        rows = self.rows_of(conn, self.LOGS, f"SELECT identity FROM {self.q(self.LOGS)} WHERE changelog = "
                            f"{self.param}", [changelog])
        return str(rows[0][0]) if rows else None

    def drop_changelog(self, conn: Any, changelog: str) -> None:
        conn.cursor().execute(f"DROP TABLE IF EXISTS {self.q(changelog)}")
        self.write_if_table(conn, self.LOGS, f"DELETE FROM {self.q(self.LOGS)} WHERE changelog = {self.param}",
                            [changelog])

    @abstractmethod
    def start_changelog_after(self, conn: Any, changelog: str, last_id: int) -> None:
        """Makes the changelog's next id larger than ``last_id`` (a recreated log must not reuse the ids a
        high-water mark already points past)."""

    def changelog_next_id(self, conn: Any, changelog: str) -> int:
        """The id the changelog's next entry will get at least (its sequence, which pruning never moves back)."""
        cur = conn.cursor()
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.q(changelog)}")
        return int(cur.fetchone()[0]) + 1

    # -- capture triggers --------------------------------------------------------------------------------
    @abstractmethod
    def install_capture(self, conn: Any, changelog: str, b: Binding) -> None:
        """Triggers logging every insert, update (a changed key: the old key deleted too) and delete of the
        binding's table into the changelog, named by :meth:`trigger_name`; replaces an existing set. The
        logged ``row_key`` is :meth:`~.schema.Schema.key_json`."""

    def uninstall_capture(self, conn: Any, changelog: str, table: str) -> None:
        self.drop_triggers(conn, table, partial(self.trigger_name, changelog, table))

    def capture_installed(self, conn: Any, changelog: str, table: str) -> bool:
        return self.triggers_exist(conn, table, partial(self.trigger_name, changelog, table))

    # -- reading the log ---------------------------------------------------------------------------------
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

    def changelog_entries(self, conn: Any, tables: Sequence[str], sel: Changed) -> int:
        """Entries of the slice ``sel`` for ``tables`` (what a sync applies with it)."""
        marks = ", ".join([self.param] * len(tables))
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {self.q(sel.changelog)} WHERE id > {self.param} AND id <= {self.param} "
                    f"AND table_name IN ({marks})", [sel.lo_id, sel.hi_id, *tables])
        return int(cur.fetchone()[0])

    def changelog_range(self, conn: Any, changelog: str, tables: Sequence[str], after: int, upto: int,
                        limit: int) -> int:
        """The id closing a slice of at most ``limit`` entries after ``after`` (<= upto)."""
        cur = conn.cursor()
        cur.execute(f"SELECT id FROM {self.q(changelog)} WHERE id > {self.param} AND id <= {self.param} "
                    f"ORDER BY id LIMIT 1 OFFSET {limit - 1}", [after, upto])
        row = cur.fetchone()
        return int(row[0]) if row else upto

    def gone_keys(self, conn: Any, b: Binding, sel: Changed) -> list[Any]:
        """Keys the changelog slice names that no longer exist in the table (deleted since): values, or tuples
        of values for a composite key."""
        keys = self.changelog_key(b, "c.row_key")
        match = " AND ".join(f"s.{self.q(k)} = {expr}" for k, expr in zip(b.keys, keys, strict=True))
        p = self.param
        cur = conn.cursor()
        cur.execute(f"SELECT DISTINCT {', '.join(keys)} FROM {self.q(sel.changelog)} c WHERE c.id > {p} AND "
                    f"c.id <= {p} AND c.table_name = {p} AND NOT EXISTS (SELECT 1 FROM {self.q(b.table)} s "
                    f"WHERE {match})", [sel.lo_id, sel.hi_id, b.table])
        return [b.key_of(r) for r in cur.fetchall()]

    def prune_changelog(self, conn: Any, changelog: str, upto: int) -> int:
        """Deletes the entries every reader has applied (``id <= upto``); how many went."""
        cur = conn.cursor()
        cur.execute(f"DELETE FROM {self.q(changelog)} WHERE id <= {self.param}", [upto])
        return max(int(cur.rowcount or 0), 0)

    def lock_sync(self, conn: Any, name: str) -> None:
        """Held by one sync of a plan's direction at a time, until the connection closes: two syncs reading
        the same changelog slice at different moments could otherwise commit the older rows last. (SQLite
        needs none: its sync reads the source inside the target's write transaction or after taking it.)"""
