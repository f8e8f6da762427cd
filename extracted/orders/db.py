"""The orders service's database: one engine built from ``ORDERS_DATABASE_URL``.

- unset: a SQLite file ``orders.sqlite3`` under ``ORDERS_VAR_DIR`` (default ``<repository>/var``);
- ``sqlite:////abs/path.sqlite3`` (relative paths are taken from the repository root), WAL and a busy timeout;
- ``postgresql://user@host:port/name`` (psycopg 3);
- ``mysql+pymysql://user@host:port/name`` or ``mariadb://...`` (PyMySQL, utf8mb4).

A URL that cannot be used raises :class:`.exceptions.ConfigurationError` naming the
variable and the value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .exceptions import ConfigurationError

ENV_VAR = "ORDERS_DATABASE_URL"
VAR_DIR_ENV = "ORDERS_VAR_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]  # the project root: relative SQLite paths and var/ are its
BUSY_TIMEOUT_SECONDS = 30


def var_dir() -> Path:
    return Path(os.environ.get(VAR_DIR_ENV) or REPO_ROOT / "var").resolve()


def database_url() -> str:
    return os.environ.get(ENV_VAR) or f"sqlite:///{var_dir() / 'orders.sqlite3'}"


def parse_url(raw: str, *, env_var: str = ENV_VAR) -> URL:
    """``raw`` as an SQLAlchemy URL with the driver this service uses; errors name ``env_var`` and the value."""
    expected = ("expected sqlite:////abs/path.sqlite3, postgresql://user@host:port/name "
                "or mysql+pymysql://user@host:port/name")
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as exc:
        raise ConfigurationError(f"{env_var}: cannot parse {raw!r} ({expected})") from exc
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            raise ConfigurationError(
                f"{env_var}: {raw!r} names no SQLite file; every worker needs the same file "
                "(use sqlite:////absolute/path/orders.sqlite3)")
        path = Path(database)
        if not path.is_absolute():
            path = REPO_ROOT / path
        return url.set(drivername="sqlite+pysqlite", database=str(path))
    if backend in ("postgresql", "postgres"):
        if not url.database:
            raise ConfigurationError(f"{env_var}: {raw!r} names no database (add /dbname to the URL)")
        return url.set(drivername="postgresql+psycopg")
    if backend in ("mysql", "mariadb"):
        if not url.database:
            raise ConfigurationError(f"{env_var}: {raw!r} names no database (add /dbname to the URL)")
        query = dict(url.query)
        query.setdefault("charset", "utf8mb4")
        return url.set(drivername=f"{backend}+pymysql", query=query)
    raise ConfigurationError(f"{env_var}: {raw!r} is not a database URL this service supports ({expected})")


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _mysql_session(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # Timestamps are stored as UTC wall time (like Django with USE_TZ); the session zone must not shift them.
        cursor.execute("SET time_zone = '+00:00'")
    finally:
        cursor.close()


def make_engine(raw: str | None = None, *, env_var: str = ENV_VAR, **kwargs: Any) -> Engine:
    """An engine for ``raw`` (default: :func:`database_url`), with the per-engine settings the service relies on."""
    url = parse_url(raw if raw is not None else database_url(), env_var=env_var)
    backend = url.get_backend_name()
    options: dict[str, Any] = {"pool_pre_ping": backend != "sqlite"}
    if backend == "sqlite":
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
        # Python's sqlite3 would otherwise wait up to 5 s only, and BEGIN lazily; the busy_timeout pragma rules.
        options["connect_args"] = {"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
    elif backend == "postgresql":
        options["connect_args"] = {"connect_timeout": 5}
    else:
        options["connect_args"] = {"connect_timeout": 5}
    options.update(kwargs)
    engine = create_engine(url, **options)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif backend in ("mysql", "mariadb"):
        event.listen(engine, "connect", _mysql_session)
    return engine


def dialect_label(engine: Engine) -> str:
    """The database kind as the monolith names it (Django's ``connection.vendor``)."""
    name = engine.dialect.name
    return {"postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql"}.get(name, name)


READ_ONLY_SQLSTATE = "25006"            # PostgreSQL: read_only_sql_transaction (a standby, or a guard trigger)
READ_ONLY_MYSQL_ERRNOS = (1290, 1792)   # MariaDB/MySQL: --read-only server; read-only transaction (or a SIGNAL)
READ_ONLY_PREFIX = "read-only:"         # what a trigger refusing writes says where it can raise no such code


def refused_as_read_only(exc: BaseException) -> bool:
    """The database refused a write because this copy of the data is read-only for now (a standby, or a table
    whose data another database owns while it moves): the client should retry, nothing is broken."""
    seen: BaseException | None = getattr(exc, "orig", None) or exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) == READ_ONLY_SQLSTATE:
            return True
        args = getattr(seen, "args", ())
        if args and isinstance(args[0], int) and args[0] in READ_ONLY_MYSQL_ERRNOS:
            return True
        if (args and str(args[-1]).startswith(READ_ONLY_PREFIX)) or str(seen).startswith(READ_ONLY_PREFIX):
            return True
        seen = seen.__cause__
    return False
