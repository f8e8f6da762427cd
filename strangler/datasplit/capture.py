"""capture / uncapture: triggers on the source tables that append (table, key, op, time) to the changelog.

Installed before the copy so that no write made during it is missed. ``--reverse`` installs them on the
service's tables (the source of a reverse split). The changelog lives in the source database, named by the
plan (``strangler_changelog``): ``id`` (autoincrement, commit order — see each engine's barrier), ``table_name``,
``row_key`` (text: a one-column key's value as text, a composite key's values as a JSON array, ``[7, 2]``),
``op`` (I/U/D; an update that changes the key also logs D for the old key), ``changed_at`` (Unix time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .bindings import Binding
from .databases import Split
from .exceptions import PlanError
from .sync import HWM


@dataclass
class CaptureReport:
    plan: str
    database: str
    changelog: str
    tables: dict[str, bool] = field(default_factory=dict)     # table -> capture installed now
    changelog_dropped: bool = False
    kept: list[str] = field(default_factory=list)             # snapshot tables left captured (uncapture)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def source_keys(split: Split) -> list[Binding]:
    """Each source table with just its key columns (capture needs nothing else, not even the target)."""
    out = []
    side = "target" if split.plan.reverse else "source"
    for t in split.plan.tables:
        cols = split.source.columns(t.source)
        if cols is None:
            raise PlanError(split.plan.path, f"tables[{t.index}].{side}",
                            f"no table {t.source!r} in the {split.source.label} database ({split.source.display})")
        for key_field, key in t.key_fields(f"tables[{t.index}]"):
            if key not in cols:
                raise PlanError(split.plan.path, key_field,
                                f"no column {key!r} in {t.source} (columns: {', '.join(cols)})")
        out.append(Binding(t.source, t.keys, tuple(cols[k] for k in t.keys)))
    return out


def capture(split: Split) -> CaptureReport:
    plan, engine = split.plan, split.source
    bindings = source_keys(split)
    report = CaptureReport(plan.name, engine.display, plan.changelog_table)
    last_applied = _applied_mark(split)
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        engine.ensure_changelog(conn, plan.changelog_table)
        # A changelog made again (after a rollback dropped it) must not hand out ids that this direction's
        # high-water mark already points past: the next sync would skip every change below the mark.
        engine.start_changelog_after(conn, plan.changelog_table, last_applied)
        for b in bindings:
            engine.install_capture(conn, plan.changelog_table, b)
        conn.commit()
        for b in bindings:
            report.tables[b.table] = engine.capture_installed(conn, plan.changelog_table, b.table)
        conn.commit()
    finally:
        conn.close()
    return report


def _applied_mark(split: Split) -> int:
    """This direction's high-water mark in the target database (0 when there is none yet)."""
    plan, target = split.plan, split.target
    if not target.exists():
        return 0
    conn = target.connect(autocommit=True)
    try:
        value = target.read_state(conn, plan.checkpoint_table, plan.state_name).get(HWM, ("0", 0.0))[0]
    finally:
        conn.close()
    return int(value or 0)


def captured(split: Split) -> bool:
    """Capture is installed on every table of the split's source (and its changelog exists)."""
    plan, engine = split.plan, split.source
    if not engine.exists():
        return False
    conn = engine.connect(autocommit=True)
    try:
        return engine.table_exists(conn, plan.changelog_table) and all(
            engine.capture_installed(conn, plan.changelog_table, t.source) for t in plan.tables)
    finally:
        conn.close()


def uncapture(split: Split, *, drop_changelog: bool = False, keep_snapshots: bool = False) -> CaptureReport:
    """Remove the triggers; drop the changelog too when asked, or when it holds nothing. ``keep_snapshots``:
    the plan's snapshot tables stay captured (the decommission: the service still reads them, fed by the
    forward sync), and so does the changelog they log into."""
    plan, engine = split.plan, split.source
    tables = plan.owned if keep_snapshots else plan.tables
    kept = [t.source for t in plan.snapshots] if keep_snapshots else []
    report = CaptureReport(plan.name, engine.display, plan.changelog_table, kept=kept)
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        for t in tables:
            engine.uninstall_capture(conn, plan.changelog_table, t.source)
        conn.commit()
        for t in tables:
            report.tables[t.source] = engine.capture_installed(conn, plan.changelog_table, t.source)
        conn.commit()
        if engine.table_exists(conn, plan.changelog_table) and not kept:
            empty = engine.count(conn, plan.changelog_table) == 0
            if drop_changelog or empty:
                engine.drop_changelog(conn, plan.changelog_table)
                report.changelog_dropped = True
        conn.commit()
    finally:
        conn.close()
    return report
