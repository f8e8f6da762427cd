"""The product search index (SQLite, migration 0002): which searches can use it, and keeping it current.

``products_search`` (FTS5, trigram tokens, case-folded) narrows a ``search`` of three characters or more to
candidate rows; the exact test stays Django's ``icontains`` (``LIKE``) on each candidate, so the answer is
the monolith's whatever the index holds. The folding is per character and Unicode-wide, a superset of
LIKE's ASCII-only one, so no row LIKE matches can be missed by the index.

Triggers on ``products`` only write the ids of changed rows into ``products_search_stale`` (bulk copies
stay fast); those rows are candidates of every search until :func:`refresh` has indexed them again, which
the service does in the background (:func:`refresher`), a batch at a time. While many rows wait (a fresh
copy of the catalog), searches scan the table as before.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

log = logging.getLogger("extracted.catalog.search")
MIN_LENGTH: Final = 3  # the trigram tokenizer matches nothing shorter
MAX_STALE: Final = 1000  # more rows waiting than this: scan instead of index + waiting rows
BATCH: Final = 2000
INTERVAL_SECONDS: Final = 1.0


def available(engine: Engine) -> bool:
    """Whether the database has the index (SQLite with FTS5 trigram, migrated to 0002 or later)."""
    if engine.dialect.name != "sqlite":
        return False
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'products_search_stale'")
            return cursor.fetchone() is not None
        finally:
            cursor.close()
    finally:
        connection.close()


def usable_for(term: str) -> bool:
    return len(term) >= MIN_LENGTH


def match_expression(term: str) -> str:
    """An FTS5 phrase: the whole term, literally (a trigram phrase is a substring match)."""
    return '"' + term.replace('"', '""') + '"'


def candidates(cursor: Any, p: str) -> str | None:
    """The SQL condition that narrows a search to its candidate rows (one parameter: :func:`match_expression`),
    or None when too many rows wait to be indexed (then scan). A bounded look at the waiting rows, never a
    count: the index alone when none wait, the index or a waiting row when a few do."""
    cursor.execute(f"SELECT id FROM products_search_stale LIMIT 1 OFFSET {MAX_STALE}")  # noqa: S608 - a constant
    if cursor.fetchone() is not None:
        return None
    # Fixed text around the placeholder: the term itself is always a bound parameter.
    indexed = f"id IN (SELECT rowid FROM products_search WHERE products_search MATCH {p})"  # noqa: S608
    cursor.execute("SELECT id FROM products_search_stale LIMIT 1")
    if cursor.fetchone() is None:
        return indexed
    return f"({indexed} OR id IN (SELECT id FROM products_search_stale))"  # noqa: S608


def refresh(engine: Engine, batch: int = BATCH) -> int:
    """Indexes up to ``batch`` waiting rows again (in one write transaction); returns how many it took."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.execute("SELECT id FROM products_search_stale ORDER BY id LIMIT ?", (batch,))
                ids = [row[0] for row in cursor.fetchall()]
                if ids:
                    marks = ",".join("?" * len(ids))
                    cursor.execute(f"DELETE FROM products_search WHERE rowid IN ({marks})", ids)  # noqa: S608
                    cursor.execute("INSERT INTO products_search (rowid, name, sku, description) "  # noqa: S608
                                   f"SELECT id, name, sku, description FROM products WHERE id IN ({marks})", ids)
                    cursor.execute(f"DELETE FROM products_search_stale WHERE id IN ({marks})", ids)  # noqa: S608
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        finally:
            cursor.close()
        return len(ids)
    finally:
        connection.close()


async def refresher(engine: Engine, interval: float = INTERVAL_SECONDS) -> None:
    """Runs until cancelled: indexes waiting rows, batch after batch, then looks again every ``interval``."""
    while True:
        try:
            done = await run_in_threadpool(refresh, engine)
        except Exception as exc:  # noqa: BLE001 - a busy database or the like: try again later, never die
            log.info("search index refresh postponed: %s", exc)
            done = 0
        await asyncio.sleep(0 if done >= BATCH else interval)
