"""Database engines (one class per kind) and the transfers between them (one per pair with a fast path).

``open_engine(url, label)`` picks the class from the URL's scheme; ``transfer_for(source, target)`` picks how
rows move: ATTACH + INSERT ... SELECT for SQLite to SQLite, COPY through a staging table into PostgreSQL,
LOAD DATA LOCAL INFILE through a staging table into MariaDB/MySQL, and batched upserts otherwise.

The PostgreSQL and MariaDB engines are imported when a URL of their kind is opened: their drivers come with
the ``postgres`` and ``mysql`` extras (``strangler.extras``), and a SQLite-only project installs neither.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ... import extras
from ..exceptions import UnsupportedDatabase
from .base import Engine
from .rows import Changed, KeyRange, Selection
from .sqlite import SQLiteEngine
from .transfer import AttachTransfer, GenericTransfer, StagedTransfer, Transfer, transfer_for

if TYPE_CHECKING:
    from .mysql import MySQLEngine
    from .postgresql import PostgreSQLEngine

# backend -> (module, class, extra that brings its driver)
ENGINES: dict[str, tuple[str, str, str | None]] = {
    "sqlite": ("sqlite", "SQLiteEngine", None),
    "postgresql": ("postgresql", "PostgreSQLEngine", "postgres"),
    "postgres": ("postgresql", "PostgreSQLEngine", "postgres"),
    "mysql": ("mysql", "MySQLEngine", "mysql"), "mariadb": ("mysql", "MySQLEngine", "mysql"),
}
DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def engine_class(backend: str, where: str) -> type[Engine]:
    module, name, extra = ENGINES[backend]
    if extra is not None:
        extras.require(extra, where)
    found: type[Engine] = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    return found


def __getattr__(name: str) -> Any:   # MySQLEngine, PostgreSQLEngine: imported when asked for
    if name in ("MySQLEngine", "PostgreSQLEngine"):
        return engine_class("mysql" if name == "MySQLEngine" else "postgresql", name)
    raise AttributeError(name)


def open_engine(url: str | sa.URL, label: str) -> Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise UnsupportedDatabase(f"{label} database: {url!r} is not a database URL") from exc
    backend = parsed.get_backend_name()
    if backend not in ENGINES:
        raise UnsupportedDatabase(f"{label} database {parsed.render_as_string(hide_password=True)}: no engine for "
                                  f"{backend!r} (supported: sqlite, postgresql, mysql/mariadb)")
    try:
        cls = engine_class(backend, f"the {label} database ({backend})")
    except extras.MissingExtra as exc:
        raise UnsupportedDatabase(str(exc)) from exc
    return cls(parsed.set(drivername=DRIVERS[cls.kind]), label)


__all__ = ["AttachTransfer", "Changed", "Engine", "GenericTransfer", "KeyRange", "MySQLEngine", "PostgreSQLEngine",
           "SQLiteEngine", "Selection", "StagedTransfer", "Transfer", "open_engine", "transfer_for"]
