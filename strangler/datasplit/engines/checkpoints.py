"""The state role of an engine: the checkpoint table, in the database being written.

Every step that writes a target records where it is in the target itself (``plan, item -> value``: the copy's
last key per table, the sync's high-water mark and changelog identity), in the same transaction as the rows
it wrote: a step killed at any instant resumes exactly where its last commit left it, never ahead of the
rows. Nothing here is abstract: the SQL is the same on every engine but for the upsert
(:meth:`~strangler.datasplit.engines.schema.Schema.upsert_clause`) and the column type of the time.
"""

from __future__ import annotations

import time
from typing import Any

from .schema import Schema

STATE_COLUMNS = ("plan", "item", "value", "updated_at")


class Checkpoints(Schema):
    def ensure_state(self, conn: Any, table: str) -> None:
        conn.cursor().execute(
            f"CREATE TABLE IF NOT EXISTS {self.q(table)} (plan VARCHAR(200) NOT NULL, item VARCHAR(200) NOT NULL, "
            # InnoDB on MariaDB whatever the server's default: a checkpoint commits with the rows it closes.
            f"value VARCHAR(400), updated_at {self.float_type} NOT NULL, PRIMARY KEY (plan, item))"
            + self.table_options)

    def read_state(self, conn: Any, table: str, plan: str) -> dict[str, tuple[str | None, float]]:
        """Item -> (value, when it was written), for the plan ({} where the table does not exist yet)."""
        rows = self.rows_of(conn, table, f"SELECT item, value, updated_at FROM {self.q(table)} WHERE plan = "
                            f"{self.param}", [plan])
        return {r[0]: (r[1], float(r[2])) for r in rows}

    def write_state(self, conn: Any, table: str, plan: str, item: str, value: str | None) -> None:
        p = self.param
        conn.cursor().execute(
            f"INSERT INTO {self.q(table)} (plan, item, value, updated_at) VALUES ({p}, {p}, {p}, {p}) "
            + self.upsert_clause(STATE_COLUMNS[:2], STATE_COLUMNS), [plan, item, value, time.time()])

    def clear_state(self, conn: Any, table: str, plan: str, prefix: str) -> None:
        """Forget the plan's items starting with ``prefix`` (``copy:``: a copy started over)."""
        self.write_if_table(conn, table, f"DELETE FROM {self.q(table)} WHERE plan = {self.param} AND item LIKE "
                            f"{self.param}", [plan, prefix + "%"])
