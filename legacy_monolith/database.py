"""Turns ``MONOLITH_DATABASE_URL`` into Django's ``DATABASES['default']``.

The URL is parsed by dj-database-url; what this module adds is a clear error naming the variable and the
value when the URL is unusable, and per-engine options the shop depends on (SQLite's write lock taken at
``BEGIN`` so two checkouts cannot both read the last item's stock before either writes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

ENV_VAR = "MONOLITH_DATABASE_URL"
SUPPORTED = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")


def database_from_url(url: str, *, var_dir: Path, env_var: str = ENV_VAR) -> dict[str, Any]:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    base_scheme = scheme.split("+", 1)[0]
    if base_scheme not in SUPPORTED:
        raise ImproperlyConfigured(
            f"{env_var}: {url!r} is not a database URL this shop supports "
            "(expected sqlite:////abs/path.sqlite3, postgresql://user@host:port/name or mysql://user@host:port/name)"
        )
    if base_scheme == "mariadb":
        url = "mysql" + url[len(scheme):]
    try:
        config: dict[str, Any] = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj-database-url raises bare ValueErrors/KeyErrors on odd URLs
        raise ImproperlyConfigured(f"{env_var}: cannot parse {url!r}: {exc}") from exc

    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = config.get("NAME") or ""
        if not name or name == ":memory:":
            raise ImproperlyConfigured(
                f"{env_var}: {url!r} names no SQLite file; gunicorn workers each need the same file "
                "(use sqlite:////absolute/path/shop.sqlite3)"
            )
        config["CONN_MAX_AGE"] = 0
        config["CONN_HEALTH_CHECKS"] = False
        config["OPTIONS"] = {
            # BEGIN IMMEDIATE: writers queue for the lock instead of failing with "database is locked"
            # when they upgrade a read transaction.
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
        config["TEST"] = {"NAME": str(var_dir / f"test_{Path(name).stem}.sqlite3")}
    elif engine == "django.db.backends.postgresql":
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"{env_var}: {url!r} names no database (add /dbname to the URL)")
    elif engine == "django.db.backends.mysql":
        if not config.get("NAME"):
            raise ImproperlyConfigured(f"{env_var}: {url!r} names no database (add /dbname to the URL)")
        config.setdefault("OPTIONS", {}).update({"charset": "utf8mb4", "isolation_level": "read committed"})
    return config


READ_ONLY_SQLSTATE = "25006"            # PostgreSQL: read_only_sql_transaction (a standby, or a guard trigger)
READ_ONLY_MYSQL_ERRNOS = (1290, 1792)   # MariaDB/MySQL: --read-only server; read-only transaction (or a SIGNAL)
READ_ONLY_PREFIX = "read-only:"         # what a trigger refusing writes says where it can raise no such code


def refused_as_read_only(exc: BaseException) -> bool:
    """The database refused a write because this copy of the data is read-only for now (a standby, or a table
    whose data another database owns while it moves): the client should retry, nothing is broken."""
    seen: BaseException | None = exc
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
