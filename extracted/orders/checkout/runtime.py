"""The saga's runtime: DBOS configured, launched and shut down with the app, and what the steps reach (the
orders database's engine, the other owners' APIs).

- **System database**: DBOS's own (workflow states, step results), ``ORDERS_DBOS_DATABASE_URL``: SQLite under
  the var directory by default, or a PostgreSQL database of its own (never the orders database: DBOS's reset
  drops its whole database). DBOS has no MariaDB support; an orders service on MariaDB keeps its system
  database on SQLite or PostgreSQL.
- **Executor id**: DBOS recovers, at launch, the pending workflows of its own executor id. Each worker process
  takes a slot (``orders-0``, ``orders-1``, ...) by an exclusive lock on a file under the var directory: a
  worker that dies frees its slot, and the worker started in its place takes it and resumes exactly the dead
  worker's checkouts; never two live workers with one id (both would run the same workflow).
- **SQLite system database in WAL mode** (:func:`wal_mode`, set once, kept in the file): DBOS records every step
  in a write transaction of its own, and in SQLite's default rollback journal each commit costs several fsyncs
  (6.4 ms a commit on this project's 2-core VM, quiet) while it holds the only write lock: concurrent checkouts
  queued behind it. WAL keeps ``synchronous=FULL`` (the default: the log is synced at every commit, as durable as
  before) at 0.24 ms a commit there, and lets readers go on while one writes (``benchmarks/checkout.py``).
- **Application version** is pinned (:data:`APP_VERSION`): DBOS recovers only the workflows of its own
  version, and derives it from the source by default, so any deploy would strand checkouts in flight. Change
  it only with a workflow whose steps changed in a way old checkouts cannot replay.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from dbos import DBOS
from sqlalchemy import Engine, make_url

from extracted.orders.checkout.calls import Calls
from extracted.orders.db import var_dir
from extracted.orders.exceptions import ConfigurationError

DBOS_URL_ENV: Final = "ORDERS_DBOS_DATABASE_URL"
APP_VERSION: Final = "checkout-1"
MAX_SLOTS: Final = 64

log = logging.getLogger("extracted.orders.checkout")


@dataclass
class Runtime:
    engine: Engine
    calls: Calls
    executor_id: str
    slot: IO[str]


_current: Runtime | None = None


def runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("the checkout saga's runtime is not started (start_saga)")
    return _current


def running() -> bool:
    return _current is not None


def system_database_url() -> str:
    url = os.environ.get(DBOS_URL_ENV, "").strip() or f"sqlite:///{var_dir() / 'orders_dbos.sqlite3'}"
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ConfigurationError(f"{DBOS_URL_ENV}: {url!r} is not a SQLite or PostgreSQL URL (DBOS's system "
                                 "database runs on those two)")
    return url


def wal_mode(url: str) -> None:
    """Puts a SQLite system database (made here when new) in WAL mode; another URL is left alone. The journal mode
    is stored in the file, so every connection DBOS opens uses it; ``synchronous`` stays at its default (FULL)."""
    if not url.startswith("sqlite:///"):
        return
    path = make_url(url).database
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def take_slot() -> tuple[str, IO[str]]:
    """The first free executor slot, held by an exclusive lock for this process's life."""
    folder = var_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(MAX_SLOTS):
        handle = (folder / f"orders-executor-{i}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return f"orders-{i}", handle
    raise ConfigurationError(f"no free executor slot under {folder} (more than {MAX_SLOTS} workers?)")


def start_saga(engine: Engine) -> Runtime:
    """Configures and launches DBOS (which resumes this slot's unfinished checkouts in the background)."""
    global _current
    if _current is not None:
        return _current
    executor_id, slot = take_slot()
    _current = Runtime(engine=engine, calls=Calls(), executor_id=executor_id, slot=slot)
    url = system_database_url()
    wal_mode(url)
    DBOS(config={"name": "orders", "system_database_url": url,
                 "application_version": APP_VERSION, "executor_id": executor_id, "log_level": "WARNING"})
    DBOS.launch()
    log.info("checkout saga started", extra={"executor": executor_id})
    return _current


def stop_saga() -> None:
    global _current
    if _current is None:
        return
    DBOS.destroy(workflow_completion_timeout_sec=5)
    _current.calls.close()
    _current.slot.close()
    _current = None
