"""The ownership guard: at any moment one side owns a plan's tables; the other side's copy refuses writes from
anyone but the sync that feeds it.

Each database holds a guard table (``strangler_ownership`` by default: plan, table, side, owner) and, on every
moved table, BEFORE triggers that refuse an INSERT, UPDATE or DELETE when the row's owner is not this
database's side, unless the writer is the plan's sync (a session setting on PostgreSQL and MariaDB, a mark
inside the sync's own transaction on SQLite). A legacy code path that still writes a moved table fails with
"table catalog_product is owned by the service (plan catalog)...", instead of diverging in silence.

Ownership moves in a fixed order, so that there is never a moment where both sides take writes::

    cutover:   monolith refuses  ->  final sync, verify  ->  service accepts
    rollback:  service refuses   ->  reverse sync, verify ->  monolith accepts

Between the two halves neither side takes writes ("handing over"); a crash there loses nothing, and the
executor finishes the move in whichever direction it was going. A sync writes only into a side that does not
own the data (:class:`SyncGuard`): a follower still syncing forward after the service took over is refused
instead of overwriting the service's writes with the monolith's older rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .databases import Split
from .engines import Engine
from .exceptions import OwnershipError

Side = Literal["monolith", "service"]
SIDES: tuple[Side, Side] = ("monolith", "service")


def guard_table(split: Split) -> str:
    return str(getattr(split.plan, "guard_table", None) or "strangler_ownership")


def tables_on(split: Split, side: Side) -> list[str]:
    """The plan's table names in one database (the plan may be bound in either direction)."""
    monolith_is_source = not split.plan.reverse
    on_source = (side == "monolith") == monolith_is_source
    return [t.source if on_source else t.target for t in split.plan.tables]


def engine_of(split: Split, side: Side) -> Engine:
    return split.monolith if side == "monolith" else split.service


@dataclass
class Ownership:
    """What each database says about the plan's tables: ``{side: {table: owner}}`` (empty: no guard)."""

    plan: str
    recorded: dict[str, dict[str, str]] = field(default_factory=dict)
    guarded: dict[str, bool] = field(default_factory=dict)

    def owner_in(self, side: Side) -> str | None:
        """The owner a database records for all of the plan's tables (None: no guard; "mixed": not one)."""
        owners = set(self.recorded.get(side, {}).values())
        if not owners:
            return None
        return owners.pop() if len(owners) == 1 else "mixed"

    @property
    def state(self) -> str:
        """``monolith`` / ``service`` (both databases agree), ``handing-over`` (neither takes writes),
        ``unguarded``, or ``split-brain`` (each side thinks it owns the data: never made by the executor)."""
        mono, svc = self.owner_in("monolith"), self.owner_in("service")
        if mono is None and svc is None:
            return "unguarded"
        if mono in (None, "monolith") and svc in (None, "monolith"):
            return "monolith"
        if mono in (None, "service") and svc in (None, "service"):
            return "service"
        if mono == "service" and svc == "monolith":
            return "handing-over"
        return "split-brain"

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "state": self.state, "owner": {s: self.owner_in(s) for s in SIDES},
                "guarded": self.guarded, "tables": self.recorded}


def read(split: Split) -> Ownership:
    result = Ownership(split.plan.name)
    for side in SIDES:
        engine = engine_of(split, side)
        if not engine.exists():
            result.recorded[side], result.guarded[side] = {}, False
            continue
        conn = engine.connect(autocommit=True)
        try:
            result.recorded[side] = engine.read_owners(conn, guard_table(split), split.plan.name)
            result.guarded[side] = bool(result.recorded[side]) and all(
                engine.guard_installed(conn, split.plan.name, t) for t in tables_on(split, side))
        finally:
            conn.close()
    return result


def install(split: Split, side: Side, owner: Side) -> None:
    """Guard one database's copies of the plan's tables. A table that already has a recorded owner keeps it
    (installing twice never moves ownership)."""
    engine, name, plan = engine_of(split, side), guard_table(split), split.plan.name
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        engine.ensure_guard_table(conn, name)
        for table in tables_on(split, side):
            engine.add_guard_row(conn, name, plan, table, side, owner)
            engine.install_guard(conn, name, plan, table, side)
        conn.commit()
    finally:
        conn.close()


def set_owner(split: Split, side: Side, owner: Side) -> None:
    """Record ``owner`` in one database. The update waits for any sync transaction holding the rows."""
    engine, name, plan = engine_of(split, side), guard_table(split), split.plan.name
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        if not engine.read_owners(conn, name, plan):
            raise OwnershipError(f"no ownership guard for plan {plan!r} in the {side} database "
                                 f"({engine.display}); it is installed by the plan's copy step")
        engine.set_owner(conn, name, plan, owner)
        conn.commit()
    finally:
        conn.close()


def remove(split: Split, side: Side) -> None:
    engine, name, plan = engine_of(split, side), guard_table(split), split.plan.name
    if not engine.exists():
        return
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        for table in tables_on(split, side):
            engine.uninstall_guard(conn, plan, table)
        engine.delete_guard_rows(conn, name, plan)
        conn.commit()
    finally:
        conn.close()


@dataclass
class SyncGuard:
    """Used by copy and sync around each target transaction: marks the writer as the sync (SQLite), and
    refuses to write into a side that owns the data."""

    engine: Engine
    table: str
    plan: str
    side: str
    present: bool = False

    @classmethod
    def for_target(cls, split: Split, conn: Any) -> SyncGuard:
        side = "monolith" if split.plan.reverse else "service"
        guard = cls(split.target, guard_table(split), split.plan.name, side)
        owners = split.target.read_owners(conn, guard.table, guard.plan)
        guard.present = bool(owners)
        guard._refuse_if_owned(owners)  # up front, even when there is nothing to apply
        return guard

    def enter(self, conn: Any) -> None:
        """Right after the target transaction began."""
        if not self.present:
            return
        self.engine.mark_sync_writer(conn, self.table, self.plan)
        self._refuse_if_owned(self.engine.read_owners(conn, self.table, self.plan, lock=True))

    def _refuse_if_owned(self, owners: dict[str, str]) -> None:
        owned = sorted(t for t, owner in owners.items() if owner == self.side)
        if owned:
            raise OwnershipError(f"the {self.side} owns {', '.join(owned)} (plan {self.plan}): a sync into it "
                                 "would overwrite its writes; sync the other way")

    def leave(self, conn: Any) -> None:
        """Right before the target transaction commits."""
        if self.present:
            self.engine.unmark_sync_writer(conn, self.table, self.plan)
