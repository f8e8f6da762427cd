"""The data-split engine: move a set of monolith tables into a service's own database and keep them in step.

Operations (each a function here and a CLI entry ``python manage.py strangler split OP PLAN``)::

    split = open_split("migration_plans/catalog.yaml")          # reverse=True: service -> monolith
    check(split) · provision(split) · capture(split) · uncapture(split) · copy(split) · sync(split)
    verify(split) · status(split)

Modules: ``plan`` (the YAML schema), ``columns`` (column kinds), ``bindings`` (a table as each side sees
it), ``mapping`` (the plan checked against introspection), ``databases`` (where the databases are),
``engines/`` (one class per database kind, its roles one abstract base class each, and the transfers between
them), one module per operation, ``report`` (their results), ``progress``, ``exceptions``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import ownership
from .capture import capture, captured, uncapture
from .copy import copy
from .databases import Split, bind
from .exceptions import DataSplitError, OwnershipError, PlanError
from .plan import Plan, load_plan
from .provision import provision
from .status import status
from .sync import sync
from .verify import recheck, verify


def _driver_errors() -> tuple[type[BaseException], ...]:
    """The drivers' own errors, of the drivers installed (the postgres and mysql extras are optional)."""
    import importlib
    import sqlite3

    import sqlalchemy

    found: list[type[BaseException]] = [sqlite3.Error, sqlalchemy.exc.DBAPIError]
    for module in ("psycopg", "pymysql"):
        try:
            found.append(importlib.import_module(module).Error)
        except ImportError:
            continue
    return tuple(found)


DRIVER_ERRORS = _driver_errors()


def open_split(plan: str | Path | Plan, *, reverse: bool = False) -> Split:
    loaded = plan if isinstance(plan, Plan) else load_plan(plan)
    return bind(loaded, reverse=reverse)


def check(split: Split) -> dict[str, Any]:
    """The plan against both databases: every table and column exists, kinds convert, scales are known."""
    pairs = split.pairs()
    snapshots = {t.index for t in split.plan.snapshots}
    return {"plan": split.plan.name, "ok": True, "direction": split.plan.direction,
            "source": split.source.display, "target": split.target.display,
            "tables": [{"source": p.source.table, "target": p.target.table,
                        "key": list(p.source.keys) if p.source.composite else p.source.keys[0],
                        "snapshot": p.index in snapshots,
                        "columns": {s.name: f"{t.name} ({s.kind}" + (f", scale {sc})" if sc is not None else ")")
                                    for s, t, sc in zip(p.source.columns, p.target.columns, p.scales, strict=True)}}
                       for p in pairs]}


__all__ = ["DRIVER_ERRORS", "DataSplitError", "OwnershipError", "Plan", "PlanError", "Split", "bind", "capture",
           "captured", "check", "copy", "load_plan", "open_split", "ownership", "provision", "recheck", "status",
           "sync", "uncapture", "verify"]
