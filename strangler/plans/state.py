"""The executor's own small database: where each plan stands, and who is running it.

SQLite (``STRANGLER_STATE_DB``, default ``var/strangler/state.sqlite3``). Every step transition is one
transaction that updates the plan's row and appends to its history, so a crash leaves either the state
before a step or after it, never between; a step recorded as ``running`` when nobody runs it any more is
simply run again (every step is idempotent) or undone by ``rollback``. A lock (pid and host, checked for
liveness) refuses a second executor on the same plan.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strangler.plans import requires as requirements
from strangler.plans.exceptions import PlanLocked, RequirementUnmet

SCHEMA = """
CREATE TABLE IF NOT EXISTS plan_state (
    plan TEXT PRIMARY KEY,
    done_index INTEGER NOT NULL DEFAULT -1,   -- the last step completed, in plan order (-1: none)
    done_step TEXT,
    running TEXT,                             -- a step begun (or being undone) and not yet recorded as ended
    status TEXT NOT NULL DEFAULT 'ready',     -- ready | running | failed
    updated_at REAL NOT NULL,
    message TEXT,
    figures TEXT NOT NULL DEFAULT '{}',       -- the last figures of each step, JSON by step id
    lock_host TEXT, lock_pid INTEGER, lock_at REAL
);
CREATE TABLE IF NOT EXISTS plan_substeps (
    plan TEXT NOT NULL,
    step TEXT NOT NULL,                       -- the step they belong to ("cutover")
    name TEXT NOT NULL,                       -- "hook:catalog-gateway", "lease", ...
    state TEXT NOT NULL,                      -- doing | done | undoing | undone (hooks); the lease id (lease)
    updated_at REAL NOT NULL,
    PRIMARY KEY (plan, step, name)
);
CREATE TABLE IF NOT EXISTS plan_requires (     -- what a plan's file required when its cutover last began
    plan TEXT NOT NULL,
    requires TEXT NOT NULL,
    PRIMARY KEY (plan, requires)
);
CREATE TABLE IF NOT EXISTS plan_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan TEXT NOT NULL, at REAL NOT NULL, step TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL,
    detail TEXT
);
"""
STALE_LOCK_SECONDS = 6 * 3600  # a lock from another host with no news for this long is considered dead


@dataclass(frozen=True)
class PlanState:
    plan: str
    done_index: int
    done_step: str | None
    running: str | None
    status: str
    updated_at: float
    message: str | None
    figures: dict[str, Any]
    lock: str | None


def default_path(root: Path) -> Path:
    return Path(os.environ.get("STRANGLER_STATE_DB") or root / "var" / "strangler" / "state.sqlite3")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=30)
        try:
            db.executescript(SCHEMA)  # commits by itself; idempotent
        finally:
            db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    @staticmethod
    def _ensure(db: sqlite3.Connection, plan: str) -> None:
        db.execute("INSERT OR IGNORE INTO plan_state (plan, updated_at) VALUES (?, ?)", (plan, time.time()))

    def get(self, plan: str) -> PlanState:
        with self._tx() as db:
            self._ensure(db, plan)
            row = db.execute("SELECT plan, done_index, done_step, running, status, updated_at, message, figures, "
                             "lock_host, lock_pid FROM plan_state WHERE plan = ?", (plan,)).fetchone()
        lock = f"{row[8]}:{row[9]}" if row[9] else None
        return PlanState(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), lock)

    def all(self) -> list[PlanState]:
        with self._tx() as db:
            names = [r[0] for r in db.execute("SELECT plan FROM plan_state ORDER BY plan")]
        return [self.get(name) for name in names]

    def requirements(self, plan: str, requires: Sequence[str], plan_path: Path | None = None,
                     *, undo: bool = False) -> str | None:
        """Why ``plan``'s cutover (``undo``: its undo) could not begin now, or None (read only: the check made
        before a run starts; :meth:`begin` makes it again when the step begins)."""
        with self._tx() as db:
            if undo:
                return requirements.blocking(db, plan, plan_path)
            return requirements.unmet(db, plan, requires, plan_path)

    def required(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Where each of the plans ``names`` stands, and whether it is cut over (``status``'s ``requires``)."""
        with self._tx() as db:
            found = {name: requirements.position(db, name) for name in names}
        return {name: {"at": at, "running": running, "cut_over": requirements.cut_over(at, running)}
                for name, (at, running) in found.items()}

    def history(self, plan: str, limit: int = 50) -> list[dict[str, Any]]:
        with self._tx() as db:
            rows = db.execute("SELECT at, step, action, outcome, detail FROM plan_history WHERE plan = ? "
                              "ORDER BY id DESC LIMIT ?", (plan, limit)).fetchall()
        return [{"at": r[0], "step": r[1], "action": r[2], "outcome": r[3],
                 "detail": json.loads(r[4]) if r[4] else None} for r in reversed(rows)]

    @contextmanager
    def locked(self, plan: str) -> Iterator[None]:
        me_host, me_pid = socket.gethostname(), os.getpid()
        with self._tx() as db:
            self._ensure(db, plan)
            host, pid, at = db.execute("SELECT lock_host, lock_pid, lock_at FROM plan_state WHERE plan = ?",
                                       (plan,)).fetchone()
            if pid and (host, pid) != (me_host, me_pid):
                held = _alive(pid) if host == me_host else time.time() - (at or 0) < STALE_LOCK_SECONDS
                if held:
                    raise PlanLocked(f"plan {plan!r} is being run by another executor (pid {pid} on {host}, "
                                     f"since {time.strftime('%H:%M:%S', time.localtime(at or 0))}); "
                                     "wait for it or stop it first")
            db.execute("UPDATE plan_state SET lock_host = ?, lock_pid = ?, lock_at = ? WHERE plan = ?",
                       (me_host, me_pid, time.time(), plan))
        try:
            yield
        finally:
            with self._tx() as db:
                db.execute("UPDATE plan_state SET lock_host = NULL, lock_pid = NULL, lock_at = NULL "
                           "WHERE plan = ? AND lock_pid = ?", (plan, me_pid))

    # -- sub-steps: hooks and leases of a step, written before and after each runs ----------------------
    def substeps(self, plan: str, step: str) -> dict[str, str]:
        with self._tx() as db:
            rows = db.execute("SELECT name, state FROM plan_substeps WHERE plan = ? AND step = ?",
                              (plan, step)).fetchall()
        return {str(r[0]): str(r[1]) for r in rows}

    def set_substep(self, plan: str, step: str, name: str, state: str | None) -> None:
        """Records a sub-step's state (None forgets it), with a line in the plan's history."""
        with self._tx() as db:
            if state is None:
                db.execute("DELETE FROM plan_substeps WHERE plan = ? AND step = ? AND name = ?", (plan, step, name))
            else:
                db.execute("INSERT INTO plan_substeps (plan, step, name, state, updated_at) VALUES (?, ?, ?, ?, ?) "
                           "ON CONFLICT (plan, step, name) DO UPDATE SET state = excluded.state, "
                           "updated_at = excluded.updated_at", (plan, step, name, state, time.time()))
            self._history(db, plan, step, name, state or "forgotten")

    def begin(self, plan: str, step: str, action: str, *, cutover: bool = False, requires: Sequence[str] = (),
              plan_path: Path | None = None) -> None:
        """Records ``action`` (do, undo) of ``step`` as begun. For a ``cutover`` step, in the same transaction:
        what the plan ``requires`` recorded, and the rule of :mod:`strangler.plans.requires` kept
        (:class:`RequirementUnmet`, nothing recorded, when it is not)."""
        with self._tx() as db:
            self._ensure(db, plan)
            if cutover and action == "do":
                requirements.record(db, plan, requires)
                why = requirements.unmet(db, plan, requires, plan_path)
            elif cutover and action == "undo":
                why = requirements.blocking(db, plan, plan_path)
            else:
                why = None
            if why is not None:
                raise RequirementUnmet(why)
            db.execute("UPDATE plan_state SET running = ?, status = 'running', updated_at = ?, message = NULL, "
                       "lock_at = ? WHERE plan = ?", (f"{action}:{step}", time.time(), time.time(), plan))
            self._history(db, plan, step, action, "started")

    def end(self, plan: str, step: str, action: str, *, done_index: int, done_step: str | None,
            figures: dict[str, Any] | None = None) -> None:
        """The step's work and its new position in the plan, recorded together."""
        with self._tx() as db:
            self._ensure(db, plan)
            db.execute("UPDATE plan_state SET done_index = ?, done_step = ?, running = NULL, status = 'ready', "
                       "updated_at = ?, figures = ? WHERE plan = ?",
                       (done_index, done_step, time.time(), self._figures_with(db, plan, step, figures), plan))
            self._history(db, plan, step, action, "done", json.dumps(figures, default=str) if figures else None)

    def fail(self, plan: str, step: str, action: str, message: str, figures: dict[str, Any] | None = None) -> None:
        with self._tx() as db:
            self._ensure(db, plan)
            # A failed undo leaves its step half undone: it stays marked (``undo:STEP``) like an interrupted
            # one, so only ``rollback`` goes on from there, never ``run``.
            # A failed forward step is remembered as ``failed:STEP``: ``run`` retries it, and ``rollback`` undoes
            # what a gate step may have left in place (a shadow mirror) before going further back.
            db.execute("UPDATE plan_state SET running = CASE WHEN ? = 'undo' THEN running ELSE 'failed:' || ? END, "
                       "status = 'failed', message = ?, updated_at = ?, figures = ? WHERE plan = ?",
                       (action, step, message, time.time(), self._figures_with(db, plan, step, figures), plan))
            self._history(db, plan, step, action, "failed", json.dumps({"message": message}))

    # -- within a transaction --------------------------------------------------------------------------------
    @staticmethod
    def _figures_with(db: sqlite3.Connection, plan: str, step: str, figures: dict[str, Any] | None) -> str:
        """The plan's figures (JSON by step id), with ``step``'s replaced when ``figures`` are given."""
        current = json.loads(db.execute("SELECT figures FROM plan_state WHERE plan = ?", (plan,)).fetchone()[0])
        if figures is not None:
            current[step] = figures
        return json.dumps(current, default=str)

    @staticmethod
    def _history(db: sqlite3.Connection, plan: str, step: str, action: str, outcome: str,
                 detail: str | None = None) -> None:
        db.execute("INSERT INTO plan_history (plan, at, step, action, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
                   (plan, time.time(), step, action, outcome, detail))
