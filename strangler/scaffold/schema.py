"""An app's Django models as the service's tables: columns with their SQLAlchemy types, keys, unique
constraints, indexes, foreign keys inside the app, check constraints, and what could not be carried over.

Names follow the service's naming convention (``pk_<table>``, ``uq_<table>_<columns>``, ``ix_<table>_<columns>``,
``fk_<table>_<column>_<referred>``, ``ck_<table>_<name>``), as the catalog service's schema does. A foreign key
to a model of another app becomes a plain id column (a database cannot hold a constraint into another): listed
in ``plain_ids`` and in the plan. Python-side defaults (Django keeps them in Python too) become the model's
``default=``; callables are named in the notes.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import AppConfig
from django.db import models

from strangler.inventory.tables import key_columns
from strangler.scaffold.naming import service_table
from strangler.scaffold.types import column_type

ON_DELETE = {"CASCADE": "CASCADE", "PROTECT": "RESTRICT", "RESTRICT": "RESTRICT", "SET_NULL": "SET NULL",
             "SET_DEFAULT": "SET DEFAULT"}   # DO_NOTHING: no action in the database either
POSITIVE = (models.PositiveIntegerField, models.PositiveSmallIntegerField, models.PositiveBigIntegerField)
OPERATORS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<", "exact": "="}


@dataclass
class ColumnSpec:
    name: str
    type: str                 # the SQLAlchemy type as code ("sa.String(32)", "ID", "TIMESTAMP")
    python: str               # its Python annotation ("str", "int | None", ...)
    nullable: bool
    primary_key: bool = False
    autoincrement: bool = False
    default: str | None = None   # a literal default, as code


@dataclass
class TableSpec:
    model: str                # "Product"
    source: str               # the monolith's table ("catalog_product")
    name: str                 # the service's table ("products")
    key: tuple[str, ...]      # the primary key's columns (several: a Django 5.2 CompositePrimaryKey)
    columns: list[ColumnSpec] = field(default_factory=list)
    uniques: list[list[str]] = field(default_factory=list)
    indexes: list[list[str]] = field(default_factory=list)
    foreign_keys: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # col, table, col, ondelete
    checks: list[tuple[str, str]] = field(default_factory=list)      # name (without the ck_ prefix), SQL
    plain_ids: list[tuple[str, str]] = field(default_factory=list)   # column, "app.Model" it points at
    notes: list[str] = field(default_factory=list)
    autoincrement: bool = False


def app_tables(config: AppConfig, extra: Sequence[Any] = ()) -> list[TableSpec]:
    """The app's concrete models (many-to-many tables included) and the ``extra`` models of other apps that move
    with it (``scaffold --with auth.User``: an accounts app takes Django's users along), parents before children.
    A foreign key between any two of them is a foreign key in the service; one to a model left behind, a plain id.
    An extra model's many-to-many tables stay behind (named in its notes: they point at models that stay)."""
    mine = [m for m in config.get_models(include_auto_created=True)
            if not m._meta.proxy and not m._meta.abstract and not m._meta.swapped]
    mine += [m for m in extra if m not in mine]
    names = {m: service_table(m._meta.object_name or m.__name__) for m in mine}
    if len(set(names.values())) < len(names):
        raise ValueError(f"two models would make one table: {sorted(names.values())}")
    specs = {m: _table(m, names, config) for m in mine}
    for model in extra:
        for m2m in model._meta.local_many_to_many:
            specs[model].notes.append(f"{m2m.name}: many-to-many to {m2m.related_model._meta.label} "
                                      f"({m2m.remote_field.through._meta.db_table}) stays in the monolith")
    return [specs[m] for m in _parents_first(mine)]


def _parents_first(mine: list[Any]) -> list[Any]:
    done: list[Any] = []
    def visit(model: Any, seen: set[Any]) -> None:
        if model in done or model in seen:
            return
        seen.add(model)
        for f in model._meta.concrete_fields:
            target = getattr(f, "related_model", None)
            if target in mine and target is not model:
                visit(target, seen)
        done.append(model)
    for model in mine:
        visit(model, set())
    return done


def _table(model: Any, names: dict[Any, str], config: AppConfig) -> TableSpec:
    meta = model._meta
    spec = TableSpec(model=meta.object_name, source=meta.db_table, name=names[model], key=key_columns(model))
    for f in meta.concrete_fields:
        spec.columns.append(_column(f, spec, names, config))
        if f.unique and not f.primary_key:
            spec.uniques.append([f.column])
        elif f.db_index and not f.primary_key:
            spec.indexes.append([f.column])
        if isinstance(f, POSITIVE):
            spec.checks.append((f"{f.column}_not_negative", f"{f.column} >= 0"))
    for together in meta.unique_together:
        spec.uniques.append([meta.get_field(n).column for n in together])
    for index in meta.indexes:
        if index.fields and not index.expressions and not getattr(index, "condition", None):
            columns = [meta.get_field(n.lstrip("-")).column for n in index.fields]
            if columns not in spec.indexes:
                spec.indexes.append(columns)
        else:
            spec.notes.append(f"index {index.name}: expressions or a condition, not generated: add it by hand")
    for constraint in meta.constraints:
        _constraint(constraint, meta, spec)
    return spec


def _column(f: Any, spec: TableSpec, names: dict[Any, str], config: AppConfig) -> ColumnSpec:
    target = f.related_model if f.is_relation else None
    kind, python = column_type(f.target_field if target is not None else f)
    if f.primary_key and isinstance(f, models.AutoField | models.BigAutoField | models.SmallAutoField):
        spec.autoincrement = True
    primary = f.primary_key or f.column in spec.key   # a column of a composite key is no primary_key field
    column = ColumnSpec(f.column, kind, python + (" | None" if f.null else ""), f.null, primary,
                        f.primary_key and spec.autoincrement, _default(f, spec))
    if target is not None:
        if target in names:  # moving with it (the app's own, or a model given with --with)
            on_delete = ON_DELETE.get(getattr(f.remote_field.on_delete, "__name__", ""))
            spec.foreign_keys.append((f.column, names[target], f.target_field.column, on_delete))
        else:
            spec.plain_ids.append((f.column, target._meta.label))
    return column


def _default(f: Any, spec: TableSpec) -> str | None:
    if not f.has_default() or f.primary_key:
        return None
    value = f.default
    if isinstance(value, enum.Enum):   # a choices member (TextChoices, IntegerChoices): its stored value
        value = value.value
    if callable(value):
        spec.notes.append(f"{f.column}: default {getattr(value, '__module__', '')}.{getattr(value, '__name__', value)}"
                          f"() is Python's: the service sets it when it writes")
        return None
    if isinstance(value, str):
        return json.dumps(value)   # double quotes, as the rest of the generated code
    if isinstance(value, Decimal):
        return f'Decimal("{value}")'
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)
    spec.notes.append(f"{f.column}: default {value!r} is not a literal: not generated")
    return None


def _constraint(constraint: Any, meta: Any, spec: TableSpec) -> None:
    prefix = meta.db_table + "_"
    short = constraint.name.removeprefix(prefix)
    if isinstance(constraint, models.UniqueConstraint) and constraint.fields and not constraint.condition \
            and not constraint.expressions:
        columns = [meta.get_field(n).column for n in constraint.fields]
        if columns not in spec.uniques:
            spec.uniques.append(columns)
        return
    condition = getattr(constraint, "condition", None) or getattr(constraint, "check", None)
    if isinstance(constraint, models.CheckConstraint) and isinstance(condition, models.Q):
        sql = _simple_check(condition, meta)
        if sql is not None:
            spec.checks.append((short, sql))
            return
    spec.notes.append(f"constraint {constraint.name} ({type(constraint).__name__}): not generated, add it by hand")


def _simple_check(q: models.Q, meta: Any) -> str | None:
    """``Q(price__gte=0)``-like conditions (ANDed comparisons of a field with a number) as SQL, else None."""
    if q.negated or q.connector != "AND":
        return None
    parts = []
    for child in q.children:
        if not isinstance(child, tuple):
            return None
        lookup, value = child
        name, _, op = lookup.partition("__")
        if op not in OPERATORS or isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return None
        parts.append(f"{meta.get_field(name).column} {OPERATORS[op or 'exact']} {value}")
    return " AND ".join(parts) or None
