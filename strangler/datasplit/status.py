"""status: where a split stands — capture, per-table copy checkpoints and row counts, sync mark and lag (and,
for a plan with snapshot tables, which tables are snapshots and their part of the lag)."""

from __future__ import annotations

import time
from typing import Any

from .copy import DONE
from .databases import Split
from .sync import HWM


def status(split: Split) -> dict[str, Any]:
    plan, source, target = split.plan, split.source, split.target
    out: dict[str, Any] = {"plan": plan.name, "direction": plan.direction,
                           "source": source.display, "target": target.display, "tables": []}
    src = source.connect(autocommit=True)
    try:
        has_changelog = source.table_exists(src, plan.changelog_table)
        target_exists = target.exists()
        tgt = target.connect(autocommit=True) if target_exists else None
        try:
            state = target.read_state(tgt, plan.checkpoint_table, plan.state_name) if tgt is not None else {}
            for t in plan.tables:
                value, when = state.get(f"copy:{t.target}", (None, 0.0))
                row: dict[str, Any] = {
                    "source": t.source, "target": t.target, "snapshot": t.snapshot,
                    "capture": source.capture_installed(src, plan.changelog_table, t.source),
                    "source_rows": source.count(src, t.source) if source.table_exists(src, t.source) else None,
                    "target_rows": (target.count(tgt, t.target)
                                    if tgt is not None and target.table_exists(tgt, t.target) else None),
                    "copy": ("done" if value and value.startswith(DONE) else
                             f"after key {value}" if value else "not started"),
                    "copy_updated": _ago(when),
                }
                out["tables"].append(row)
            hwm_value, hwm_when = state.get(HWM, (None, 0.0))
            hwm = int(hwm_value or 0)
            out["changelog"] = plan.changelog_table if has_changelog else None
            out["high_water_mark"] = hwm
            out["synced"] = _ago(hwm_when)
            if has_changelog:
                lag_rows, lag_s = source.changelog_lag(src, plan.changelog_table, [t.source for t in plan.tables], hwm)
                out["lag_rows"], out["lag_seconds"] = lag_rows, round(lag_s, 3)
                if plan.snapshots:  # the part of the lag the forward sync still feeds after the cutover
                    out["snapshot_lag_rows"] = source.changelog_lag(src, plan.changelog_table,
                                                                    [t.source for t in plan.snapshots], hwm)[0]
        finally:
            if tgt is not None:
                tgt.close()
    finally:
        src.close()
    out["capture"] = all(r["capture"] for r in out["tables"])
    return out


def _ago(when: float) -> str | None:
    return f"{time.time() - when:.0f}s ago" if when else None
