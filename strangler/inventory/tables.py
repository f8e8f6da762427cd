"""Every model's table, and every relation a model holds: foreign keys, one-to-ones, many-to-manys (with
their through table) and generic relations, each with the app at both ends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.apps import apps
from django.db import models

from strangler.inventory.apps import AppIndex
from strangler.inventory.model import Relation, Table


def _project_models(index: AppIndex) -> Iterator[tuple[str, Any]]:
    """(app label, model) of every model a project app holds."""
    for model in apps.get_models():
        label = index.label_of(model.__module__)
        if label is not None:
            yield label, model


def key_columns(model: Any) -> tuple[str, ...]:
    """The columns of the model's primary key: several for a ``models.CompositePrimaryKey`` (Django 5.2 and
    later; older Djangos have none), else its one column."""
    pk = model._meta.pk
    if pk is None:
        return ()
    composite = getattr(models, "CompositePrimaryKey", None)
    if composite is not None and isinstance(pk, composite):
        return tuple(f.column for f in pk.fields)
    return (pk.column,)


def tables(index: AppIndex) -> list[Table]:
    found = []
    for label, model in _project_models(index):
        meta = model._meta
        found.append(Table(app=label, model=meta.object_name or model.__name__, table=meta.db_table,
                           managed=meta.managed, key=key_columns(model)))
    return found


def relations(index: AppIndex) -> list[Relation]:
    found = []
    for label, model in _project_models(index):
        for f in model._meta.get_fields():
            relation = _relation(label, model, f, index)
            if relation is not None:
                found.append(relation)
    return found


def _other(index: AppIndex, related: Any) -> tuple[str | None, str | None]:
    if related is None:
        return None, None
    meta = related._meta
    return index.any_label_of(related.__module__) or meta.app_label, meta.object_name


def _relation(label: str, model: Any, f: Any, index: AppIndex) -> Relation | None:
    name = model._meta.object_name
    if type(f).__name__ == "GenericForeignKey":   # contenttypes, if installed: points at any model
        return Relation("generic", label, name, f.name, None, None)
    if not getattr(f, "is_relation", False) or getattr(f, "auto_created", False) and not f.concrete:
        return None   # the reverse side of someone else's relation: listed from that side
    to_app, to_model = _other(index, f.related_model)
    if type(f).__name__ == "GenericRelation":
        return Relation("generic", label, name, f.name, to_app, to_model)
    if isinstance(f, models.ManyToManyField):
        through = f.remote_field.through
        return Relation("many-to-many", label, name, f.name, to_app, to_model,
                        through=through._meta.db_table if through is not None else None)
    if isinstance(f, models.ForeignKey):
        on_delete = getattr(f.remote_field.on_delete, "__name__", None)
        return Relation("one-to-one" if isinstance(f, models.OneToOneField) else "foreign-key", label, name, f.name,
                        to_app, to_model, on_delete=on_delete)
    return None
