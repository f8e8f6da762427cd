"""capture / uncapture: triggers on the source tables that append (table, key, op, time) to the changelog.

Installed before the copy so that no write made during it is missed. ``--reverse`` installs them on the
service's tables (the source of a reverse split). The changelog lives in the source database, named by the
plan (``strangler_changelog``): ``id`` (autoincrement, commit order — see each engine's barrier), ``table_name``,
``row_key`` (text), ``op`` (I/U/D; an update that changes the key also logs D for the old key), ``changed_at``
(Unix time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .databases import Split
from .exceptions import PlanError
from .mapping import Binding


@dataclass
class CaptureReport:
    plan: str
    database: str
    changelog: str
    tables: dict[str, bool] = field(default_factory=dict)     # table -> capture installed now
    changelog_dropped: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def source_keys(split: Split) -> list[Binding]:
    """Each source table with just its key column (capture needs nothing else, not even the target)."""
    out = []
    side = "target" if split.plan.reverse else "source"
    for t in split.plan.tables:
        cols = split.source.columns(t.source)
        if cols is None:
            raise PlanError(split.plan.path, f"tables[{t.index}].{side}",
                            f"no table {t.source!r} in the {split.source.label} database ({split.source.display})")
        if t.key not in cols:
            raise PlanError(split.plan.path, f"tables[{t.index}].key",
                            f"no column {t.key!r} in {t.source} (columns: {', '.join(cols)})")
        out.append(Binding(t.source, t.key, (cols[t.key],)))
    return out


def capture(split: Split) -> CaptureReport:
    plan, engine = split.plan, split.source
    bindings = source_keys(split)
    report = CaptureReport(plan.name, engine.display, plan.changelog_table)
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        engine.ensure_changelog(conn, plan.changelog_table)
        for b in bindings:
            engine.install_capture(conn, plan.changelog_table, b)
        conn.commit()
        for b in bindings:
            report.tables[b.table] = engine.capture_installed(conn, plan.changelog_table, b.table)
        conn.commit()
    finally:
        conn.close()
    return report


def uncapture(split: Split, *, drop_changelog: bool = False) -> CaptureReport:
    """Remove the triggers; drop the changelog too when asked, or when it holds nothing."""
    plan, engine = split.plan, split.source
    report = CaptureReport(plan.name, engine.display, plan.changelog_table)
    conn = engine.connect(autocommit=False)
    try:
        engine.begin(conn)
        for t in plan.tables:
            engine.uninstall_capture(conn, plan.changelog_table, t.source)
        conn.commit()
        for t in plan.tables:
            report.tables[t.source] = engine.capture_installed(conn, plan.changelog_table, t.source)
        conn.commit()
        if engine.table_exists(conn, plan.changelog_table):
            empty = engine.count(conn, plan.changelog_table) == 0
            if drop_changelog or empty:
                engine.drop_changelog(conn, plan.changelog_table)
                report.changelog_dropped = True
        conn.commit()
    finally:
        conn.close()
    return report
