"""verify: row counts and content checksums per table, in key-ordered chunks, on both sides at once.

Each side turns every row into canonical text in SQL (decimals at the column's scale, datetimes as UTC with
microseconds, booleans as 1/0, NULL distinct from empty text, bytes as hex; see ``Engine.canonical``) and
hashes each chunk (MD5 of the rows joined; PostgreSQL and MariaDB hash on the server). Chunks are the same
key ranges on both sides (cut from the source's keys). A chunk that differs is narrowed down to per-row
hashes, and the differing keys are listed (at most ``max_differences`` per table): a key's value, or a composite
key's values as a list (``[7, 2]``; the text report shows ``(7, 2)``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import crashpoints
from .bindings import Binding, TablePair
from .databases import Split
from .engines import Engine, KeyRange
from .progress import Reporter
from .report import TablesReport


@dataclass
class TableVerify:
    source: str
    target: str
    source_rows: int = 0
    target_rows: int = 0
    chunks: int = 0
    # [lo, hi] key ranges (exclusive, inclusive; None: open); a composite key's bounds are tuples (lists in JSON)
    differing_chunks: list[list[Any]] = field(default_factory=list)
    # [source rows, target rows] of each differing chunk, in the same order (what a recheck adjusts the counts by)
    differing_rows: list[list[int]] = field(default_factory=list)
    # Keys: values, or tuples of values for a composite key (lists in JSON)
    missing: list[Any] = field(default_factory=list)        # keys in the source, not in the target
    extra: list[Any] = field(default_factory=list)          # keys in the target, not in the source
    changed: list[Any] = field(default_factory=list)        # keys on both sides with different content
    truncated: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.differing_chunks and self.source_rows == self.target_rows

    @property
    def differences(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.changed)


@dataclass
class VerifyReport(TablesReport[TableVerify]):
    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan, "direction": self.direction, "ok": self.ok, "seconds": round(self.seconds, 3),
                "tables": [{**asdict(t), "ok": t.ok, "seconds": round(t.seconds, 3)} for t in self.tables]}


def verify(split: Split, *, max_differences: int = 20, chunk_size: int | None = None,
           reporter: Reporter | None = None, snapshots: bool = True) -> VerifyReport:
    """``snapshots=False``: the plan's snapshot tables are left out (the cutover's gate, under the write freeze:
    the monolith goes on writing them, and they change no owner)."""
    plan = split.plan
    skip = set() if snapshots else {t.index for t in plan.snapshots}
    reporter = reporter or Reporter(enabled=False)
    with _both_sides(split) as (report, src, tgt), ThreadPoolExecutor(max_workers=2) as pool:
        for pair in split.pairs():
            if pair.index in skip:
                continue
            report.tables.append(_table(split, pair, src, tgt, pool, max_differences,
                                        chunk_size or plan.chunk_size, reporter))
            crashpoints.reached("verify.after_table")
    return report


@contextmanager
def _both_sides(split: Split) -> Iterator[tuple[VerifyReport, Any, Any]]:
    """A report for the split's plan and a connection to each side, closed after; the report is timed."""
    report = VerifyReport(split.plan.name, split.plan.direction)
    started = time.monotonic()
    src = split.source.connect(autocommit=True)
    tgt = split.target.connect(autocommit=True)
    try:
        yield report, src, tgt
    finally:
        src.close()
        tgt.close()
    report.seconds = time.monotonic() - started


def _digests(engine: Engine, conn: Any, b: Binding, scales: Any, ranges: list[KeyRange],
             advance: Any = None) -> list[tuple[int, str]]:
    out = []
    for r in ranges:
        out.append(engine.chunk_digest(conn, b, scales, r))
        if advance is not None:
            advance(out[-1][0])
    return out


def _table(split: Split, pair: TablePair, src: Any, tgt: Any, pool: ThreadPoolExecutor, max_differences: int,
           chunk: int, reporter: Reporter) -> TableVerify:
    t0 = time.monotonic()
    source, target = split.source, split.target
    result = TableVerify(pair.source.table, pair.target.table)
    bounds = source.chunk_bounds(src, pair.source, chunk)
    edges: list[Any] = [None, *bounds, None]
    ranges = [KeyRange(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    result.chunks = len(ranges)
    total = len(bounds) * chunk + chunk
    with reporter.task(f"verify {pair.source.table} <-> {pair.target.table}", total) as advance:
        if source.kind == target.kind == "sqlite":
            # Both sides in this process: two threads deep in SQLite contend (1M rows: 13 s in parallel, with
            # 11 s of it system time, against 5 s one after the other), so one after the other.
            left = _digests(source, src, pair.source, pair.scales, ranges, advance)
            right = _digests(target, tgt, pair.target, pair.scales, ranges)
        else:
            fs = pool.submit(_digests, source, src, pair.source, pair.scales, ranges, advance)
            ft = pool.submit(_digests, target, tgt, pair.target, pair.scales, ranges)
            left, right = fs.result(), ft.result()
    result.source_rows = sum(n for n, _ in left)
    result.target_rows = sum(n for n, _ in right)
    _narrow(split, pair, src, tgt, ranges, left, right, result, max_differences)
    result.seconds = time.monotonic() - t0
    return result


def recheck(split: Split, previous: VerifyReport, *, max_differences: int = 20) -> VerifyReport:
    """Compares again only the chunks ``previous`` found different, once a sync has caught the target up.

    Under live writes a verify compares a source that moves with a target synced a moment before: a row
    written in between differs once, and is equal when its chunk is compared again after the next sync (the
    step's window is then that one chunk's, not the whole table's). A row that differs again has diverged:
    it is reported, as the first verify would have. Tables that were equal are kept as they were.

    The last chunk is open-ended, and new rows keep landing in it while writes go on (each insert a key past
    every other): compared again as it is, it would hold rows newer than the sync each time, however often it
    is rechecked. So it is compared up to the largest key the previous comparison found differing there (when
    it named them all): a row past that was written after this verify began, and is the next verify's to
    compare (the cutover's, under the write freeze, compares everything)."""
    pairs = {(p.source.table, p.target.table): p for p in split.pairs()}
    with _both_sides(split) as (report, src, tgt):
        for old in previous.tables:
            if old.ok:
                report.tables.append(old)
                continue
            t0 = time.monotonic()
            pair = pairs[(old.source, old.target)]
            ranges = [KeyRange(lo, _tail_bound(old) if hi is None else hi) for lo, hi in old.differing_chunks]
            left = _digests(split.source, src, pair.source, pair.scales, ranges)
            right = _digests(split.target, tgt, pair.target, pair.scales, ranges)
            new = TableVerify(old.source, old.target, chunks=old.chunks,
                              source_rows=old.source_rows + sum(a[0] - n for a, (n, _) in zip(left, old.differing_rows,
                                                                                              strict=True)),
                              target_rows=old.target_rows + sum(b[0] - n for b, (_, n) in zip(right, old.differing_rows,
                                                                                              strict=True)))
            _narrow(split, pair, src, tgt, ranges, left, right, new, max_differences)
            new.seconds = time.monotonic() - t0
            report.tables.append(new)
    return report


def _tail_bound(old: TableVerify) -> Any:
    """Where a recheck stops comparing the open-ended last chunk: the largest key the previous comparison named
    (None, all of it, when it named none or not all of them)."""
    keys = [tuple(k) if isinstance(k, list) else k for k in (*old.missing, *old.extra, *old.changed)]
    return max(keys) if keys and not old.truncated else None


def _narrow(split: Split, pair: TablePair, src: Any, tgt: Any, ranges: list[KeyRange],
            left: list[tuple[int, str]], right: list[tuple[int, str]], result: TableVerify,
            max_differences: int) -> None:
    """The chunks whose digests differ, narrowed down to the keys that differ (at most ``max_differences``)."""
    source, target = split.source, split.target
    for rng, a, b in zip(ranges, left, right, strict=True):
        if a == b:
            continue
        result.differing_chunks.append([rng.lo, rng.hi])
        result.differing_rows.append([a[0], b[0]])
        if result.differences >= max_differences:
            result.truncated = True
            continue
        rows_s = source.row_digests(src, pair.source, pair.scales, rng)
        rows_t = target.row_digests(tgt, pair.target, pair.scales, rng)
        shown_of = {key: pair.source.key_from_canonical(key) for key in rows_s.keys() | rows_t.keys()}
        for key in sorted(shown_of, key=lambda k: _sort_key(shown_of[k])):
            if result.differences >= max_differences:
                result.truncated = True
                break
            shown = shown_of[key]
            if key not in rows_t:
                result.missing.append(shown)
            elif key not in rows_s:
                result.extra.append(shown)
            elif rows_s[key] != rows_t[key]:
                result.changed.append(shown)


def _sort_key(key: Any) -> tuple[Any, ...]:
    """Keys in key order for the report: numbers before text, a composite key column by column."""
    if isinstance(key, tuple):
        return tuple(_sort_key(part) for part in key)
    if isinstance(key, int):
        return (0, key, "")
    try:
        return (0, int(key), "")
    except (TypeError, ValueError):
        return (1, 0, str(key))
