"""provision: create the service's database when missing and bring it to head with the service's own Alembic.

Alembic runs in-process with the plan's script location and version table; the service's URL is given both as
``sqlalchemy.url`` and in the plan's environment variable (an env.py may read either), and an open connection
is passed in ``config.attributes["connection"]`` for env.py files that use one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .databases import Split
from .exceptions import DataSplitError, PlanError


@dataclass
class ProvisionReport:
    plan: str
    database: str
    created: bool
    revision_before: str | None
    revision_after: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@contextmanager
def temporary_env(name: str | None, value: str) -> Iterator[None]:
    """``name`` set to ``value`` inside the block, as it was afterwards (nothing when ``name`` is empty)."""
    if not name:
        yield
        return
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def current_revision(split: Split) -> str | None:
    engine, table = split.service, split.plan.service.version_table
    if not engine.exists():
        return None
    with engine.sa_engine().connect() as conn:
        if not sa.inspect(conn).has_table(table):
            return None
        rows = conn.exec_driver_sql(f"SELECT version_num FROM {engine.q(table)}").fetchall()
    return ",".join(sorted(r[0] for r in rows)) or None


def provision(split: Split) -> ProvisionReport:
    from alembic import command
    from alembic.config import Config

    plan = split.plan
    if plan.reverse:
        raise DataSplitError("provision prepares the service's database; it has no reverse (the monolith's "
                             "schema belongs to Django's migrations)")
    migrations = plan.service.migrations
    if migrations is None or not (migrations / "env.py").exists():
        raise PlanError(plan.path, "service.migrations",
                        f"{migrations or '(not set)'} is not an Alembic environment (no env.py there)")
    engine = split.service
    created = engine.create()
    before = current_revision(split)
    url = engine.url.render_as_string(hide_password=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("version_table", plan.service.version_table)
    with temporary_env(plan.service.database_url_env, url), engine.sa_engine().begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()
    return ProvisionReport(plan.name, engine.display, created, before, current_revision(split))
