"""sync: apply the captured changes from the persisted high-water mark until the lag is zero.

The changelog says *which* keys changed, not how: for every changed key the CURRENT source row is read and
upserted, and keys that no longer exist are deleted. Applying a slice twice, or out of order, lands in the
same state, so sync is idempotent and safe beside live writes (a write made while it runs has a later
changelog id and is picked up by the next run). The mark (``sync:hwm``, a changelog id) is written in the
same target transaction as the slice it closes. Only ids under the source engine's commit barrier are read,
so an entry of a transaction still in flight is never skipped.

A plan's snapshot tables are synced forward for as long as they are captured: once the service owns the other
tables, a forward sync applies the snapshots' entries only (``skipped`` names the others) instead of being
refused.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import crashpoints
from . import ownership
from .databases import Split
from .engines import Changed, transfer_for
from .exceptions import CaptureError
from .ownership import SyncGuard
from .progress import Reporter

HWM = "sync:hwm"
LOG = "sync:log"   # the identity of the changelog the mark points into


@dataclass
class SyncReport:
    plan: str
    direction: str
    transfer: str
    from_id: int
    to_id: int
    changes: int            # changelog entries applied
    upserted: int
    deleted: int
    seconds: float
    lag_rows: int
    lag_seconds: float
    pruned: int = 0          # changelog entries deleted after being applied
    log_restarted: bool = False  # the changelog was recreated since the last sync: read from its start
    snapshot_lag_rows: int = 0   # of lag_rows, the entries of snapshot tables (the monolith goes on writing them)
    # The tables a forward sync left alone: the service owns them (after the cutover only the snapshots go forward)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sync(split: Split, *, batch_size: int | None = None, reporter: Reporter | None = None,
         generic: bool = False) -> SyncReport:
    plan, source, target = split.plan, split.source, split.target
    pairs = split.pairs()
    handed_over = _handed_over(split)
    if handed_over:
        pairs = [p for p in pairs if p.target.table not in handed_over]
    tables = [p.source.table for p in pairs]
    snapshots = [t.source for t in plan.snapshots if t.source in tables]
    reporter = reporter or Reporter(enabled=False)
    slice_size = batch_size or plan.batch_size
    started = time.monotonic()
    transfer = transfer_for(source, target, pairs, generic=generic)
    with transfer:
        src, tgt = transfer.src, transfer.tgt
        if not source.table_exists(src, plan.changelog_table):
            raise CaptureError(f"no changelog {plan.changelog_table!r} in the {source.label} database "
                               f"({source.display}): run `strangler split capture {plan.path}` before the copy")
        missing = [t for t in tables if not source.capture_installed(src, plan.changelog_table, t)]
        if missing:
            raise CaptureError(f"capture is not installed on {', '.join(missing)} in the {source.label} database; "
                               f"run `strangler split capture {plan.path}`")
        target.lock_sync(tgt, plan.state_name)
        target.ensure_state(tgt, plan.checkpoint_table)
        tgt.commit()
        state = target.read_state(tgt, plan.checkpoint_table, plan.state_name)
        guard = SyncGuard.for_target(split, tgt, tables=[p.target.table for p in pairs], handed_over=handed_over)
        tgt.commit()
        hwm = int(state.get(HWM, ("0", 0.0))[0] or 0)
        identity = source.log_identity(src, plan.changelog_table)
        marked = state.get(LOG, (None, 0.0))[0]
        restarted = hwm > 0 and ((marked is not None and identity != marked)
                                 or source.changelog_next_id(src, plan.changelog_table) <= hwm)
        if restarted:
            # The changelog was dropped and made again: the mark points into a log that no longer exists.
            # Everything in the new log is applied (idempotent upserts and deletes).
            hwm = 0
        first = hwm
        bound = source.changelog_barrier(src, plan.changelog_table)
        upserted = deleted = changes = 0
        total = source.changelog_lag(src, plan.changelog_table, tables, hwm)[0]
        with reporter.task("sync", total) as advance:
            while hwm < bound:
                upto = source.changelog_range(src, plan.changelog_table, tables, hwm, bound, slice_size)
                sel = Changed(plan.changelog_table, hwm, upto)
                n_changes = source.changelog_entries(src, tables, sel)
                transfer.begin()
                guard.enter(tgt)
                # Deletes first (children before parents), then upserts (parents before children): a row deleted
                # and another inserted in its place under a unique key of its own (a cart's line of a product,
                # removed and added again) must not meet its predecessor on the target.
                for pair in reversed(pairs):
                    gone = source.gone_keys(src, pair.source, sel)
                    if gone:
                        target.delete_keys(tgt, pair.target, gone)
                        deleted += len(gone)
                for pair in pairs:
                    upserted += transfer.move(pair, sel)
                target.write_state(tgt, plan.checkpoint_table, plan.state_name, HWM, str(upto))
                target.write_state(tgt, plan.checkpoint_table, plan.state_name, LOG, identity)
                guard.leave(tgt)
                transfer.commit()
                hwm = upto
                changes += n_changes
                advance(n_changes)
                crashpoints.reached("sync.after_slice")
        # Every run, not only one that applied something: a run killed after its last slice committed leaves
        # the next run nothing to apply, and the counters must still follow before the target takes writes.
        for pair in pairs:
            transfer.carry_counter(pair)
        tgt.commit()
        # The changelog's one reader is this direction's sync: what it applied (the mark is committed) goes,
        # so the log stays as small as the lag under sustained writes.
        pruned = source.prune_changelog(src, plan.changelog_table, hwm) if hwm else 0
        lag_rows, lag_seconds = source.changelog_lag(src, plan.changelog_table, tables, hwm)
        snapshot_lag = source.changelog_lag(src, plan.changelog_table, snapshots, hwm)[0] if snapshots else 0
    return SyncReport(plan.name, plan.direction, transfer.name, first, hwm, changes,
                      upserted, deleted, round(time.monotonic() - started, 3), lag_rows, round(lag_seconds, 3),
                      pruned, restarted, snapshot_lag, sorted(handed_over))


def _handed_over(split: Split) -> tuple[str, ...]:
    """The service's names of the tables a forward sync leaves alone: once the service owns the plan's moved
    tables (after the cutover, and after the decommission), a forward sync of a plan with snapshot tables feeds
    the snapshots only. Their entries in the changelog after the switch are the reverse sync's own writes, and
    the mark passes them (the guard checks in every transaction that the service still owns those tables)."""
    plan = split.plan
    if plan.reverse or not plan.snapshots or not plan.owned:
        return ()
    if ownership.read(split).state != "service":
        return ()
    return tuple(t.target for t in plan.owned)

