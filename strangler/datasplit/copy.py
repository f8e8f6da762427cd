"""copy: every mapped table, parents first, in keyset batches, upserted, resumable from per-table checkpoints.

Each batch is one target transaction holding the rows and the table's checkpoint (``copy:<table>`` in the
checkpoint table: the last key copied, or ``done:<key>``; a composite key as a JSON array, ``[7, 2]``), so a
copy killed at any instant resumes exactly where its last commit left it, strictly after that key in key
order (every column of a composite key). Memory is one batch. Afterwards the target's sequences are set past
the largest key (a key without a counter, as most composite keys, has none to set).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from .. import crashpoints
from .databases import Split
from .engines import KeyRange, transfer_for
from .exceptions import StateError
from .ownership import SyncGuard
from .progress import Reporter, Throttle
from .report import TablesReport

DONE = "done:"


@dataclass
class TableCopy:
    source: str
    target: str
    rows: int = 0
    seconds: float = 0.0
    resumed_after: str | None = None
    status: str = "copied"          # copied | already copied

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class CopyReport(TablesReport[TableCopy]):
    transfer: str
    batch_size: int

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "direction": self.direction, "transfer": self.transfer,
                "batch_size": self.batch_size,
                "tables": [{**asdict(t), "rows_per_second": round(t.rows_per_second)} for t in self.tables],
                "seconds": self.seconds, "rows": self.rows}


def copy(split: Split, *, batch_size: int | None = None, throttle: float | None = None, restart: bool = False,
         reporter: Reporter | None = None, generic: bool = False) -> CopyReport:
    plan, source, target = split.plan, split.source, split.target
    pairs = split.pairs()
    batch = batch_size or plan.batch_size
    reporter = reporter or Reporter(enabled=False)
    limiter = Throttle(throttle)
    transfer = transfer_for(source, target, pairs, generic=generic)
    report = CopyReport(plan.name, plan.direction, transfer.name, batch)
    started = time.monotonic()
    with transfer:
        tgt = transfer.tgt
        target.ensure_state(tgt, plan.checkpoint_table)
        if restart:
            target.clear_state(tgt, plan.checkpoint_table, plan.state_name, "copy:")
        tgt.commit()
        state = target.read_state(tgt, plan.checkpoint_table, plan.state_name)
        guard = SyncGuard.for_target(split, tgt)
        tgt.commit()
        for pair in pairs:
            item = f"copy:{pair.target.table}"
            value = state.get(item, (None, 0.0))[0]
            entry = TableCopy(pair.source.table, pair.target.table, resumed_after=value)
            report.tables.append(entry)
            if value is not None and value.startswith(DONE):
                entry.status = "already copied"
                entry.resumed_after = value[len(DONE):]
                continue
            t0 = time.monotonic()
            try:
                lo = pair.source.key_from_text(value)
            except ValueError:
                raise StateError(f"the copy's checkpoint of {pair.target.table} ({value}) is not a key of "
                                 f"{pair.source.table} ({', '.join(pair.source.keys)}): has the plan's key changed? "
                                 "`strangler split copy --restart` copies the tables again") from None
            total = source.count(transfer.src, pair.source.table)
            done = source.count_upto(transfer.src, pair.source, lo) if lo is not None else 0
            with reporter.task(f"copy {pair.source.table} -> {pair.target.table}", total, done) as advance:
                while True:
                    hi = source.next_bound(transfer.src, pair.source, lo, batch)
                    if hi is None:
                        break
                    transfer.begin()
                    guard.enter(tgt)
                    n = transfer.move(pair, KeyRange(lo, hi))
                    target.write_state(tgt, plan.checkpoint_table, plan.state_name, item, pair.source.key_text(hi))
                    guard.leave(tgt)
                    crashpoints.reached("copy.before_commit")   # rows and checkpoint written, not committed
                    transfer.commit()
                    crashpoints.reached("copy.after_batch")
                    entry.rows += n
                    lo = hi
                    advance(n)
                    limiter(n)
            transfer.carry_counter(pair)
            tgt.commit()
            transfer.begin()
            target.write_state(tgt, plan.checkpoint_table, plan.state_name, item,
                               DONE + ("" if lo is None else pair.source.key_text(lo)))
            transfer.commit()
            entry.seconds = time.monotonic() - t0
    report.seconds = time.monotonic() - started
    return report

