"""Where the two databases of a plan are: the monolith's (from Django's settings) and the service's.

The monolith's database is read from ``django.db.connections[alias].settings_dict`` (so tests and
``MONOLITH_DATABASE_URL``-style settings are followed), never from shop code; decimal scales that SQLite does
not declare are looked up on the Django model that owns the table, whatever app it belongs to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .bindings import TablePair
from .engines import Engine, open_engine
from .exceptions import PlanError, UnsupportedDatabase
from .mapping import resolve
from .plan import Plan, absolutise_sqlite

DJANGO_ENGINES = {"sqlite3": "sqlite", "postgresql": "postgresql+psycopg", "postgis": "postgresql+psycopg",
                  "mysql": "mysql+pymysql"}


def django_url(alias: str = "default") -> sa.URL:
    from django.db import connections

    settings = connections[alias].settings_dict
    backend = str(settings["ENGINE"]).rsplit(".", 1)[-1]
    driver = DJANGO_ENGINES.get(backend)
    if driver is None:
        raise UnsupportedDatabase(f"DATABASES[{alias!r}]: ENGINE {settings['ENGINE']!r} is not supported")
    if driver == "sqlite":
        return sa.URL.create("sqlite", database=str(settings["NAME"]))
    port = int(settings["PORT"]) if settings.get("PORT") else None
    return sa.URL.create(driver, username=settings.get("USER") or None, password=settings.get("PASSWORD") or None,
                         host=settings.get("HOST") or None, port=port, database=str(settings["NAME"]))


def django_scale(table: str, column: str) -> int | None:
    """``decimal_places`` of the Django field stored in ``table.column`` (any installed app), if any."""
    from django.apps import apps

    for model in apps.get_models(include_auto_created=True):
        if model._meta.db_table != table:
            continue
        for f in model._meta.concrete_fields:
            if f.column == column:
                return getattr(f, "decimal_places", None)
    return None


@dataclass
class Split:
    """A plan bound to its two databases for one run (forward, or reverse with ``--reverse``)."""

    plan: Plan
    source: Engine
    target: Engine
    monolith: Engine
    service: Engine
    _pairs: list[TablePair] | None = None

    def pairs(self, *, need_target: bool = True) -> list[TablePair]:
        if self._pairs is None or not need_target:
            pairs = resolve(self.plan, self.source, self.target, need_target=need_target)
            if not need_target:
                return pairs
            self._pairs = pairs
        return self._pairs

    @property
    def source_tables(self) -> list[str]:
        return [t.source for t in self.plan.tables]

    def close(self) -> None:
        self.source.dispose()
        self.target.dispose()


def monolith_engine(plan: Plan) -> Engine:
    src = plan.source
    if src.database:
        try:
            url: Any = django_url(src.database)
        except KeyError as exc:
            raise PlanError(plan.path, "source.database", f"no Django database alias {src.database!r}") from exc
        engine = open_engine(url, "monolith")
        engine.django_scale = django_scale
        return engine
    if src.url_env:
        value = os.environ.get(src.url_env)
        if not value:
            raise PlanError(plan.path, "source.url_env", f"the environment variable {src.url_env} is not set")
        return open_engine(absolutise_sqlite(value, plan.root), "monolith")
    return open_engine(absolutise_sqlite(src.url or "", plan.root), "monolith")


def bind(plan: Plan, *, reverse: bool = False) -> Split:
    """Open the engines of a plan; with ``reverse`` the service is the source and the monolith the target."""
    if reverse and not plan.reverse:
        plan = plan.reversed()
    monolith = monolith_engine(plan)
    service = open_engine(plan.service_url(), "service")
    source, target = (service, monolith) if plan.reverse else (monolith, service)
    return Split(plan, source, target, monolith, service)
