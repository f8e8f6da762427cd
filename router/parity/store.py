"""The parity store: one SQLite row per shadow comparison, written off the event loop; and reading it back.

Writing: ``ParityStore.record(row)`` only puts the row on a bounded in-memory queue (never blocks; a full
queue drops the row and counts it in ``dropped``); one background thread writes batches in transactions
and keeps the table bounded (``max_rows`` newest rows, and rows younger than ``max_age_days``). The database
is in WAL mode, so readers (``strangler parity report``, the admin API) never wait for the writer.

Reading (no router running needed): ``summarise(path, route=..., since=...)`` gives per-route figures and
the most frequent difference paths (generalised over list indices), ``latest(path, ...)`` the newest rows.

Table ``comparisons``::

    id, at (unix seconds), route, method, target (path?query), request_id, primary_status, shadow_status,
    outcome ('equal' | 'different' | 'error'), equal (1/0, NULL for errors), differences (JSON list of
    {path, kind, expected, got}, at most MAX_STORED_DIFFERENCES), primary_ms, shadow_ms, error,
    request_started_at (unix seconds the mirrored request started; NULL in rows of older routers)

A row in memory also knows the counting windows its request started in (``windows``, see ``router/control/windows.py``):
``GET /parity?window=N`` lists only the differences of window N. Window numbers belong to one router
process, so they are not stored; ``request_started_at`` is, for reports over a period.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.parity.answers import Difference
from router.parity.jsonpath import generalise_path

log = logging.getLogger("router.parity")

MAX_STORED_DIFFERENCES = 50
MAX_VALUE_CHARS = 500
QUEUE_ROWS = 10_000
BATCH = 500
PRUNE_EVERY = 5.0  # seconds between pruning passes

SCHEMA = """
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    route TEXT NOT NULL,
    method TEXT NOT NULL,
    target TEXT NOT NULL,
    request_id TEXT,
    primary_status INTEGER,
    shadow_status INTEGER,
    outcome TEXT NOT NULL,
    equal INTEGER,
    differences TEXT NOT NULL DEFAULT '[]',
    primary_ms REAL,
    shadow_ms REAL,
    error TEXT,
    request_started_at REAL
);
CREATE INDEX IF NOT EXISTS comparisons_route_at ON comparisons (route, at);
CREATE INDEX IF NOT EXISTS comparisons_at ON comparisons (at);
"""
COLUMNS = ("at", "route", "method", "target", "request_id", "primary_status", "shadow_status", "outcome",
           "equal", "differences", "primary_ms", "shadow_ms", "error", "request_started_at")


@dataclass(frozen=True)
class ParityRow:
    at: float
    route: str
    method: str
    target: str
    request_id: str
    primary_status: int | None
    shadow_status: int | None
    outcome: str  # equal | different | error
    differences: tuple[dict[str, Any], ...] = ()
    primary_ms: float | None = None
    shadow_ms: float | None = None
    error: str | None = None
    request_started_at: float | None = None
    windows: tuple[int, ...] = ()  # numbered counting windows the request started in (memory only)

    @property
    def equal(self) -> bool | None:
        return None if self.outcome == "error" else self.outcome == "equal"

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "route": self.route, "method": self.method, "target": self.target,
                "request_id": self.request_id, "status": [self.primary_status, self.shadow_status],
                "outcome": self.outcome, "equal": self.equal, "differences": list(self.differences),
                "primary_ms": self.primary_ms, "shadow_ms": self.shadow_ms, "error": self.error,
                "request_started_at": self.request_started_at}

    def values(self) -> tuple[Any, ...]:
        return (self.at, self.route, self.method, self.target, self.request_id, self.primary_status,
                self.shadow_status, self.outcome, None if self.equal is None else int(self.equal),
                json.dumps(list(self.differences), default=str), self.primary_ms, self.shadow_ms, self.error,
                self.request_started_at)


def stored_differences(differences: Iterable[Difference]) -> tuple[dict[str, Any], ...]:
    """Differences as stored: at most MAX_STORED_DIFFERENCES, long values cut (as text) to stay small."""
    out: list[dict[str, Any]] = []
    for difference in differences:
        if len(out) >= MAX_STORED_DIFFERENCES:
            out.append({"path": "$", "kind": "truncated", "expected": None, "got": None})
            break
        out.append({"path": difference.path, "kind": difference.kind,
                    "expected": _small(difference.expected), "got": _small(difference.got)})
    return tuple(out)


def _small(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= MAX_VALUE_CHARS:
        return value
    return text[:MAX_VALUE_CHARS] + "..."


def store_path(store: str | Path, routes_file: str | Path | None) -> Path:
    """Where ``parity.store`` points: a relative path is taken from the routes file's folder (so a router and
    ``strangler parity report --routes FILE`` agree), or from the working directory without a file."""
    path = Path(store)
    if path.is_absolute() or routes_file is None:
        return path
    return Path(routes_file).resolve().parent / path


def connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), timeout=10, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(SCHEMA)
    columns = {row[1] for row in connection.execute("PRAGMA table_info(comparisons)")}
    if "request_started_at" not in columns:  # a store written by an older router: same rows, one column more
        connection.execute("ALTER TABLE comparisons ADD COLUMN request_started_at REAL")
    return connection


class ParityStore:
    """Writes rows from a background thread. ``record`` never blocks; ``flush`` waits for what was recorded
    (tests, shutdown); ``close`` flushes and stops the thread."""

    def __init__(self, path: str | Path, *, max_rows: int = 100_000, max_age_days: float | None = 30.0,
                 queue_rows: int = QUEUE_ROWS) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self.max_age_days = max_age_days
        self.dropped = 0  # rows lost because the writer fell behind (queue full)
        self.written = 0
        self.failures = 0
        self._queue: queue.Queue[ParityRow | None] = queue.Queue(maxsize=queue_rows)
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0

    def start(self) -> None:
        if self._thread is None:
            connect(self.path).close()  # a bad path fails here, at startup, not in the thread
            self._thread = threading.Thread(target=self._run, name="parity-store", daemon=True)
            self._thread.start()

    def record(self, row: ParityRow) -> None:
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        self.flush(timeout)
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._thread = None

    async def stop(self) -> None:
        """For the router's background list: flushes and stops the writer without blocking the loop."""
        await asyncio.to_thread(self.close)

    def figures(self) -> dict[str, Any]:
        return {"path": str(self.path), "written": self.written, "dropped": self.dropped,
                "failures": self.failures, "waiting": self._queue.qsize()}

    def _run(self) -> None:
        connection = connect(self.path)
        try:
            while True:
                first = self._queue.get()
                batch = [first]
                while len(batch) < BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                rows = [row for row in batch if row is not None]
                try:
                    if rows:
                        self._write(connection, rows)
                    if time.monotonic() - self._last_prune > PRUNE_EVERY:
                        self.prune(connection)
                except sqlite3.Error:
                    self.failures += 1
                    log.exception("parity store %s: writing %d rows failed", self.path, len(rows))
                finally:
                    for _ in batch:
                        self._queue.task_done()
                if any(row is None for row in batch):
                    return
        finally:
            connection.close()

    def _write(self, connection: sqlite3.Connection, rows: Sequence[ParityRow]) -> None:
        with connection:
            connection.executemany(
                f"INSERT INTO comparisons ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",  # noqa: S608
                [row.values() for row in rows])
        self.written += len(rows)

    def prune(self, connection: sqlite3.Connection | None = None) -> None:
        """Keeps the newest ``max_rows`` rows, none older than ``max_age_days``."""
        own = connection is None
        connection = connection or connect(self.path)
        try:
            with connection:
                connection.execute("DELETE FROM comparisons WHERE id <= (SELECT MAX(id) FROM comparisons) - ?",
                                   (self.max_rows,))
                if self.max_age_days is not None:
                    connection.execute("DELETE FROM comparisons WHERE at < ?",
                                       (time.time() - self.max_age_days * 86400,))
            self._last_prune = time.monotonic()
        finally:
            if own:
                connection.close()


# --- in memory, for the admin API ----------------------------------------------------------------------------

@dataclass
class RecentDifferences:
    """The latest different (or failed) comparisons per route, kept in memory for ``GET /parity``."""

    per_route: int = 50
    rows: dict[str, deque[ParityRow]] = field(default_factory=dict)

    def add(self, row: ParityRow) -> None:
        if row.outcome == "equal":
            return
        bucket = self.rows.get(row.route)
        if bucket is None:
            bucket = self.rows[row.route] = deque(maxlen=self.per_route)
        bucket.append(row)

    def latest(self, route: str | None = None, limit: int = 20, *, window: int | None = None
               ) -> list[dict[str, Any]]:
        """The newest first; ``window``: only rows whose request started in that counting window (the
        newest ``per_route`` rows of a route are kept, so a window's newest differences are among them)."""
        buckets = [self.rows.get(route, deque())] if route else list(self.rows.values())
        rows = sorted((row for bucket in buckets for row in bucket if window is None or window in row.windows),
                      key=lambda r: r.at, reverse=True)
        return [row.as_dict() for row in rows[:limit]]


# --- reading ------------------------------------------------------------------------------------------------

@dataclass
class RouteParity:
    route: str
    compared: int = 0
    equal: int = 0
    different: int = 0
    errors: int = 0
    first_at: float | None = None
    last_at: float | None = None
    paths: Counter[str] = field(default_factory=Counter)  # generalised difference path -> rows with it

    @property
    def rate(self) -> float | None:
        """Share of compared requests whose answers were equal (None: nothing compared)."""
        return self.equal / self.compared if self.compared else None

    def as_dict(self, top: int = 10) -> dict[str, Any]:
        return {"route": self.route, "compared": self.compared, "equal": self.equal,
                "different": self.different, "errors": self.errors,
                "rate": None if self.rate is None else round(self.rate, 6),
                "first_at": self.first_at, "last_at": self.last_at,
                "top_paths": [{"path": p, "count": c}
                              for p, c in sorted(self.paths.items(), key=lambda pc: (-pc[1], pc[0]))[:top]]}


def open_for_reading(path: str | Path) -> sqlite3.Connection:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no parity store here (the router writes it where parity.store says)")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    connection.row_factory = sqlite3.Row
    return connection


def _where(route: str | None, since: float | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if route:
        clauses.append("route = ?")
        params.append(route)
    if since is not None:
        clauses.append("at >= ?")
        params.append(since)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def summarise(path: str | Path, *, route: str | None = None, since: float | None = None) -> list[RouteParity]:
    """Per-route figures from the store, sorted by route name."""
    connection = open_for_reading(path)
    try:
        where, params = _where(route, since)
        figures: dict[str, RouteParity] = {}
        for row in connection.execute(
                "SELECT route, outcome, COUNT(*) AS n, MIN(at) AS first_at, MAX(at) AS last_at "  # noqa: S608
                f"FROM comparisons{where} GROUP BY route, outcome", params):
            entry = figures.setdefault(row["route"], RouteParity(row["route"]))
            if row["outcome"] == "error":
                entry.errors += row["n"]
            else:
                entry.compared += row["n"]
                if row["outcome"] == "equal":
                    entry.equal += row["n"]
                else:
                    entry.different += row["n"]
            entry.first_at = min(x for x in (entry.first_at, row["first_at"]) if x is not None)
            entry.last_at = max(x for x in (entry.last_at, row["last_at"]) if x is not None)
        extra = " AND " if where else " WHERE "
        for row in connection.execute(
                f"SELECT route, differences FROM comparisons{where}{extra}outcome = 'different'", params):  # noqa: S608
            seen = {generalise_path(d.get("path", "?")) for d in json.loads(row["differences"] or "[]")}
            figures[row["route"]].paths.update(seen)
        return [figures[name] for name in sorted(figures)]
    finally:
        connection.close()


def latest(path: str | Path, *, route: str | None = None, since: float | None = None, limit: int = 20,
           only_different: bool = True) -> list[dict[str, Any]]:
    connection = open_for_reading(path)
    try:
        where, params = _where(route, since)
        if only_different:
            where += (" AND " if where else " WHERE ") + "outcome != 'equal'"
        rows = connection.execute(f"SELECT * FROM comparisons{where} ORDER BY id DESC LIMIT ?",  # noqa: S608
                                  [*params, limit]).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            item["differences"] = json.loads(item["differences"] or "[]")
            item["equal"] = None if item["equal"] is None else bool(item["equal"])
            out.append(item)
        return out
    finally:
        connection.close()
