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

A plan's **snapshot tables** (``snapshot: true``) never change owner: the monolith owns them for the whole life
of the plan. Its copy is never guarded (its own code keeps writing it, before, during and after the cutover, and
after a rollback); the service's copy is guarded with the monolith as its owner for good, so only the forward
sync writes it. :func:`set_owner` moves the other tables only, and the state (:attr:`Ownership.state`) is theirs.
These functions take the forward split: a reverse split has no snapshot tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .databases import Split
from .engines import Engine
from .exceptions import OwnershipError
from .plan import TableMap

Side = Literal["monolith", "service"]
SIDES: tuple[Side, Side] = ("monolith", "service")


def guard_table(split: Split) -> str:
    return str(getattr(split.plan, "guard_table", None) or "strangler_ownership")


def tables_on(split: Split, side: Side) -> list[str]:
    """The names in one database of the plan's tables that change owner (its snapshot tables never do; the plan
    may be bound in either direction)."""
    return _names(split, side, split.plan.owned)


def snapshots_on(split: Split, side: Side) -> list[str]:
    """The names in one database of the plan's snapshot tables (none in a reverse split)."""
    return _names(split, side, split.plan.snapshots)


def _names(split: Split, side: Side, tables: tuple[TableMap, ...]) -> list[str]:
    on_source = (side == "monolith") == (not split.plan.reverse)
    return [t.source if on_source else t.target for t in tables]


def engine_of(split: Split, side: Side) -> Engine:
    return split.monolith if side == "monolith" else split.service


@dataclass
class Ownership:
    """What each database says about the plan's tables: ``{side: {table: owner}}`` (empty: no guard)."""

    plan: str
    recorded: dict[str, dict[str, str]] = field(default_factory=dict)  # the tables that change owner
    guarded: dict[str, bool] = field(default_factory=dict)  # the side's guard is all the plan wants there
    # The snapshot tables, each side's name with its recorded owner (None: no guard there, as on the monolith)
    snapshots: dict[str, dict[str, str | None]] = field(default_factory=dict)

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
                "guarded": self.guarded, "tables": self.recorded, "snapshots": self.snapshots}


def read(split: Split) -> Ownership:
    result = Ownership(split.plan.name)
    for side in SIDES:
        engine = engine_of(split, side)
        owned, snapshots = tables_on(split, side), snapshots_on(split, side)
        if not engine.exists():
            result.recorded[side], result.guarded[side] = {}, False
            result.snapshots[side] = dict.fromkeys(snapshots)
            continue
        conn = engine.connect(autocommit=True)
        try:
            rows = engine.read_owners(conn, guard_table(split), split.plan.name)
            result.recorded[side] = {t: owner for t, owner in rows.items() if t not in snapshots}
            result.snapshots[side] = {t: rows.get(t) for t in snapshots}
            guarded = bool(result.recorded[side]) and all(
                engine.guard_installed(conn, split.plan.name, t) for t in owned)
            if side == "service":  # only the forward sync writes the service's copy of a snapshot
                guarded = guarded and all(result.snapshots[side][t] == "monolith"
                                          and engine.guard_installed(conn, split.plan.name, t) for t in snapshots)
            else:  # the monolith's own tables: never guarded (a guard from before the table was marked goes)
                guarded = guarded and not any(result.snapshots[side][t] is not None
                                              or engine.guard_installed(conn, split.plan.name, t) for t in snapshots)
            result.guarded[side] = guarded
        finally:
            conn.close()
    return result


def install(split: Split, side: Side, owner: Side) -> None:
    """Guard one database's copies of the plan's tables. A table that already has a recorded owner keeps it
    (installing twice never moves ownership). Snapshot tables: the service's copy is guarded with the monolith
    as its owner, always; the monolith's is left unguarded (a guard it got before the table was marked a
    snapshot is removed)."""
    engine, name, plan = engine_of(split, side), guard_table(split), split.plan.name
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        engine.ensure_guard_table(conn, name)
        for table in tables_on(split, side):
            engine.add_guard_row(conn, name, plan, table, side, owner)
            engine.install_guard(conn, name, plan, table, side)
        snapshots = snapshots_on(split, side)
        if side == "service":
            for table in snapshots:
                engine.add_guard_row(conn, name, plan, table, side, "monolith")
                engine.install_guard(conn, name, plan, table, side)
            engine.set_owner(conn, name, plan, "monolith", snapshots)
        else:
            for table in snapshots:
                engine.uninstall_guard(conn, plan, table)
            engine.delete_guard_rows(conn, name, plan, snapshots)
        conn.commit()
    finally:
        conn.close()


def set_owner(split: Split, side: Side, owner: Side) -> None:
    """Record ``owner`` in one database, for the tables that change owner (a snapshot's stays the monolith). The
    update waits for any sync transaction holding the rows."""
    engine, name, plan = engine_of(split, side), guard_table(split), split.plan.name
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        recorded = engine.read_owners(conn, name, plan)
        if not recorded:
            raise OwnershipError(f"no ownership guard for plan {plan!r} in the {side} database "
                                 f"({engine.display}); it is installed by the plan's copy step")
        snapshots = snapshots_on(split, side)
        engine.set_owner(conn, name, plan, owner, [t for t in recorded if t not in snapshots])
        conn.commit()
    finally:
        conn.close()


def remove(split: Split, side: Side, *, snapshots: bool = True) -> None:
    """Remove one database's guard of the plan's tables (``snapshots=False``: the snapshot tables keep theirs,
    as the decommission leaves the service's copy of a snapshot, still fed by the forward sync)."""
    engine, name, plan = engine_of(split, side), guard_table(split), split.plan.name
    if not engine.exists():
        return
    tables = tables_on(split, side)
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        for table in tables + (snapshots_on(split, side) if snapshots else []):
            engine.uninstall_guard(conn, plan, table)
        engine.delete_guard_rows(conn, name, plan, None if snapshots else tables)
        conn.commit()
    finally:
        conn.close()


@dataclass
class SyncGuard:
    """Used by copy and sync around each target transaction: marks the writer as the sync (SQLite), and
    refuses to write into a side that owns the data.

    ``tables``: the target tables this run writes (None: all of the plan's there); a table of the plan it does
    not write is not its concern. ``handed_over``: target tables a forward sync leaves alone because the
    service owns them (the snapshot tables' sync after the cutover): they must still be the service's when each
    transaction begins, or the changelog entries of theirs it passes would be lost (a rollback got through)."""

    engine: Engine
    table: str
    plan: str
    side: str
    present: bool = False
    tables: frozenset[str] | None = None
    handed_over: tuple[str, ...] = ()

    @classmethod
    def for_target(cls, split: Split, conn: Any, *, tables: Iterable[str] | None = None,
                   handed_over: Iterable[str] = ()) -> SyncGuard:
        side = "monolith" if split.plan.reverse else "service"
        guard = cls(split.target, guard_table(split), split.plan.name, side,
                    tables=None if tables is None else frozenset(tables), handed_over=tuple(handed_over))
        owners = split.target.read_owners(conn, guard.table, guard.plan)
        guard.present = bool(owners)
        guard._check(owners)  # up front, even when there is nothing to apply
        return guard

    def enter(self, conn: Any) -> None:
        """Right after the target transaction began."""
        if not self.present:
            return
        self.engine.mark_sync_writer(conn, self.table, self.plan)
        self._check(self.engine.read_owners(conn, self.table, self.plan, lock=True))

    def _check(self, owners: dict[str, str]) -> None:
        owned = sorted(t for t, owner in owners.items()
                       if owner == self.side and (self.tables is None or t in self.tables))
        if owned:
            raise OwnershipError(f"the {self.side} owns {', '.join(owned)} (plan {self.plan}): a sync into it "
                                 "would overwrite its writes; sync the other way")
        back = sorted(t for t in self.handed_over if owners.get(t, self.side) != self.side)
        if back:
            raise OwnershipError(f"the {self.side} no longer owns {', '.join(back)} (plan {self.plan}): ownership "
                                 "moved while this sync ran; run it again")

    def leave(self, conn: Any) -> None:
        """Right before the target transaction commits."""
        if self.present:
            self.engine.unmark_sync_writer(conn, self.table, self.plan)
