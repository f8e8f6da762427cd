"""The guard role of an engine: the ownership guard's table and triggers (see ``datasplit/ownership.py``).

Each database of a split records, per table, which side owns it (``strangler_guard``: plan, table, side,
owner). A guard trigger on every split table refuses a write unless this database's side owns the table or
the writer is a sync (a session setting on PostgreSQL and MariaDB; on SQLite, which has none, the sync marks
its own transaction). A refusal reads "read-only: ..." everywhere (:meth:`Guard.guard_message`), and raises
the read-only error where the dialect has one.

A new engine implements :meth:`Guard.install_guard`, and the sync-writer marks where no session setting
tells its triggers who writes.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

from .schema import Schema, bounded_name


class Guard(Schema):
    share_lock: ClassVar[str] = ""        # after a SELECT: a shared lock on the rows read, until the transaction ends

    def guard_trigger_name(self, plan: str, table: str, suffix: str = "") -> str:
        return bounded_name(f"strangler_guard_{plan}__{table}{suffix}", "strangler_guard_", f"{plan}/{table}", suffix)

    # -- the guard table ---------------------------------------------------------------------------------
    def ensure_guard_table(self, conn: Any, guard: str) -> None:
        conn.cursor().execute(
            f"CREATE TABLE IF NOT EXISTS {self.q(guard)} (plan VARCHAR(200) NOT NULL, "
            "table_name VARCHAR(200) NOT NULL, side VARCHAR(20) NOT NULL, owner VARCHAR(20) NOT NULL, "
            f"syncing INTEGER NOT NULL DEFAULT 0, updated_at {self.float_type} NOT NULL, "
            "PRIMARY KEY (plan, table_name))" + self.table_options)

    def add_guard_row(self, conn: Any, guard: str, plan: str, table: str, side: str, owner: str) -> None:
        """The table's row in the guard table, unless it has one (its owner then stays as it is)."""
        p = self.param
        cur = conn.cursor()
        cur.execute(f"SELECT 1 FROM {self.q(guard)} WHERE plan = {p} AND table_name = {p}", [plan, table])
        if cur.fetchone() is None:
            cur.execute(f"INSERT INTO {self.q(guard)} (plan, table_name, side, owner, syncing, updated_at) "
                        f"VALUES ({p}, {p}, {p}, {p}, 0, {p})", [plan, table, side, owner, time.time()])

    def set_owner(self, conn: Any, guard: str, plan: str, owner: str, tables: Sequence[str] | None = None) -> None:
        """Record ``owner`` for the plan's tables here (``tables``: only these; a plan's snapshot tables keep the
        monolith as their owner whatever the others do)."""
        p = self.param
        where, params = self._tables_in(tables)
        conn.cursor().execute(f"UPDATE {self.q(guard)} SET owner = {p}, updated_at = {p} WHERE plan = {p}{where}",
                              [owner, time.time(), plan, *params])

    def read_owners(self, conn: Any, guard: str, plan: str, *, lock: bool = False) -> dict[str, str]:
        """Table -> owner recorded in this database's guard table ({} when it has none). ``lock``: a shared
        lock on the rows until the transaction ends, so an ownership change waits for this transaction."""
        rows = self.rows_of(conn, guard, f"SELECT table_name, owner FROM {self.q(guard)} WHERE plan = {self.param}"
                            + (self.share_lock if lock else ""), [plan])
        return {str(r[0]): str(r[1]) for r in rows}

    def delete_guard_rows(self, conn: Any, guard: str, plan: str, tables: Sequence[str] | None = None) -> None:
        where, params = self._tables_in(tables)
        self.write_if_table(conn, guard, f"DELETE FROM {self.q(guard)} WHERE plan = {self.param}{where}",
                            [plan, *params])

    def _tables_in(self, tables: Sequence[str] | None) -> tuple[str, list[str]]:
        """`` AND table_name IN (...)`` for ``tables`` (None: every table; none: no row at all)."""
        if tables is None:
            return "", []
        if not tables:
            return " AND 1 = 0", []
        return f" AND table_name IN ({', '.join([self.param] * len(tables))})", list(tables)

    # -- the guard triggers ------------------------------------------------------------------------------
    @abstractmethod
    def install_guard(self, conn: Any, guard: str, plan: str, table: str, side: str) -> None:
        """Triggers refusing writes to ``table`` unless this database's side owns it or the writer is a sync,
        named by :meth:`guard_trigger_name`, with :meth:`refusal` as their error; replaces an existing set."""

    def uninstall_guard(self, conn: Any, plan: str, table: str) -> None:
        self.drop_triggers(conn, table, partial(self.guard_trigger_name, plan, table))

    def guard_installed(self, conn: Any, plan: str, table: str) -> bool:
        return self.triggers_exist(conn, table, partial(self.guard_trigger_name, plan, table))

    def mark_sync_writer(self, conn: Any, guard: str, plan: str) -> None:
        """Inside a sync's transaction: the guard lets this connection's writes through (where a session
        setting cannot say so: SQLite)."""

    def unmark_sync_writer(self, conn: Any, guard: str, plan: str) -> None:
        """Before the sync's transaction commits."""

    # -- the refusal -------------------------------------------------------------------------------------
    @staticmethod
    def guard_message(plan: str, table: str, owner: str) -> str:
        # No quotes or percent signs: the text is embedded as an SQL literal in every dialect. It starts
        # "read-only:" on every engine: how an application tells this refusal from a bug (SQLite's trigger can
        # raise no read-only error code; PostgreSQL's is SQLSTATE 25006, MariaDB's errno 1792) and answers 503.
        return (f"read-only: table {table} is owned by the {owner} (plan {plan}); this copy only takes writes "
                f"from the plan's sync")

    def refusal(self, plan: str, table: str, side: str) -> str:
        """The message of a write refused on ``side``'s copy of ``table``: the other side owns it."""
        return self.guard_message(plan, table, "service" if side == "monolith" else "monolith")
