"""Database engines (one class per kind) and the transfers between them (one per pair with a fast path).

``open_engine(url, label)`` picks the class from the URL's scheme; ``transfer_for(source, target)`` picks how
rows move: ATTACH + INSERT ... SELECT for SQLite to SQLite, COPY through a staging table into PostgreSQL,
LOAD DATA LOCAL INFILE through a staging table into MariaDB/MySQL, and batched upserts otherwise.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..exceptions import UnsupportedDatabase
from .base import Engine
from .mysql import MySQLEngine
from .postgresql import PostgreSQLEngine
from .rows import Changed, KeyRange, Selection
from .sqlite import SQLiteEngine
from .transfer import AttachTransfer, GenericTransfer, StagedTransfer, Transfer, transfer_for

ENGINES: dict[str, type[Engine]] = {"sqlite": SQLiteEngine, "postgresql": PostgreSQLEngine,
                                    "postgres": PostgreSQLEngine, "mysql": MySQLEngine, "mariadb": MySQLEngine}
DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def open_engine(url: str | sa.URL, label: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise UnsupportedDatabase(f"{label} database: {url!r} is not a database URL") from exc
    backend = parsed.get_backend_name()
    cls = ENGINES.get(backend)
    if cls is None:
        raise UnsupportedDatabase(f"{label} database {parsed.render_as_string(hide_password=True)}: no engine for "
                                  f"{backend!r} (supported: sqlite, postgresql, mysql/mariadb)")
    return cls(parsed.set(drivername=DRIVERS[cls.kind]), label)


__all__ = ["AttachTransfer", "Changed", "Engine", "GenericTransfer", "KeyRange", "MySQLEngine", "PostgreSQLEngine",
           "SQLiteEngine", "Selection", "StagedTransfer", "Transfer", "open_engine", "transfer_for"]
