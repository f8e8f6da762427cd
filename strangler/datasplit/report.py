"""Human-readable renderings of the operations' results (``--json`` prints the dicts themselves)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class TablesReport(Generic[T]):
    """What an operation did to a plan's tables: which plan, which way, one entry a table, in how long.
    (``tables`` and ``seconds`` are keywords: a report adds its own fields after ``plan, direction``.)"""

    plan: str
    direction: str
    tables: list[T] = field(default_factory=list, kw_only=True)
    seconds: float = field(default=0.0, kw_only=True)


def show_key(key: Any) -> str:
    """A key for a reader: a value as it is, a composite key's values as a tuple (``(7, 2)``, ``('eu', 3)``)."""
    if isinstance(key, list | tuple):
        return "(" + ", ".join(repr(v) if isinstance(v, str) else str(v) for v in key) + ")"
    return str(key)


def render(op: str, d: dict[str, Any]) -> str:
    if op == "copy":
        lines = [f"copy {d['plan']} ({d['direction']}, {d['transfer']}, batches of {d['batch_size']:,}): "
                 f"{d['rows']:,} rows in {d['seconds']:.1f}s"]
        for t in d["tables"]:
            resumed = t["resumed_after"] and t["status"] == "copied"
            extra = f" (resumed after key {t['resumed_after']})" if resumed else ""
            lines.append(f"  {t['source']} -> {t['target']}: {t['status']}, {t['rows']:,} rows, "
                         f"{t['rows_per_second']:,} rows/s{extra}")
        return "\n".join(lines)
    if op == "sync":
        skipped = d.get("skipped") or []
        return (f"sync {d['plan']} ({d['direction']}): {d['changes']:,} changes (ids {d['from_id']}..{d['to_id']}), "
                f"{d['upserted']:,} rows upserted, {d['deleted']:,} deleted in {d['seconds']:.2f}s; "
                f"lag {d['lag_rows']:,} rows, {d['lag_seconds']:.1f}s"
                + (f"\n  the snapshots only: the service owns {', '.join(skipped)} (they sync the other way)"
                   if skipped else ""))
    if op == "verify":
        lines = [f"verify {d['plan']} ({d['direction']}): {'OK' if d['ok'] else 'DIFFERENCES'} in {d['seconds']:.1f}s"]
        for t in d["tables"]:
            lines.append(f"  {t['source']} -> {t['target']}: {'ok' if t['ok'] else 'DIFFERS'}, rows "
                         f"{t['source_rows']:,} / {t['target_rows']:,}, {t['chunks']} chunks, "
                         f"{len(t['differing_chunks'])} differing")
            for label in ("missing", "extra", "changed"):
                if t[label]:
                    lines.append(f"    {label} keys: {', '.join(map(show_key, t[label]))}"
                                 + (" (more not listed)" if t["truncated"] else ""))
        return "\n".join(lines)
    if op in ("capture", "uncapture"):
        state = ", ".join(f"{k}: {'installed' if v else 'none'}" for k, v in d["tables"].items())
        dropped = "; changelog dropped" if d.get("changelog_dropped") else ""
        kept = f"; snapshots still captured: {', '.join(d['kept'])}" if d.get("kept") else ""
        return f"{op} {d['plan']} on {d['database']} ({d['changelog']}): {state}{dropped}{kept}"
    if op == "provision":
        return (f"provision {d['plan']}: {d['database']} {'created' if d['created'] else 'exists'}; "
                f"revision {d['revision_before'] or '(none)'} -> {d['revision_after'] or '(none)'}")
    if op == "check":
        lines = [f"check {d['plan']} ({d['direction']}): OK — {d['source']} -> {d['target']}"]
        for t in d["tables"]:
            cols = ", ".join(f"{s} -> {v}" for s, v in t["columns"].items())
            snapshot = ", a snapshot: the monolith keeps owning it" if t.get("snapshot") else ""
            lines.append(f"  {t['source']} -> {t['target']} (key {show_key(t['key'])}{snapshot}): {cols}")
        return "\n".join(lines)
    lines = [f"status {d['plan']} ({d['direction']}): {d['source']} -> {d['target']}",
             f"  capture: {'installed' if d['capture'] else 'not installed (or partly)'}; changelog: "
             f"{d.get('changelog') or 'none'}; high-water mark {d['high_water_mark']} "
             f"({d['synced'] or 'never synced'})"]
    if "lag_rows" in d:
        lines.append(f"  lag: {d['lag_rows']:,} changes, {d['lag_seconds']:.1f}s"
                     + (f" (snapshots: {d['snapshot_lag_rows']:,})" if d.get("snapshot_lag_rows") is not None else ""))
    for t in d["tables"]:
        snapshot = " (snapshot)" if t.get("snapshot") else ""
        lines.append(f"  {t['source']} -> {t['target']}{snapshot}: capture {'on' if t['capture'] else 'off'}, "
                     f"copy {t['copy']}, rows {t['source_rows']} / {t['target_rows']}")
    return "\n".join(lines)
