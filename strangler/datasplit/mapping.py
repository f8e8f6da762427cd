"""A plan resolved against the databases: which columns, of which kinds, on both sides of each table.

:func:`resolve` introspects the source and the target and checks every table and column the plan names,
raising :class:`PlanError` with the file, the field and the value (``tables[1].columns.pricee: no such
column in catalog_product (columns: id, sku, ...)``). Of each database it needs only the schema role
(:class:`~strangler.datasplit.engines.schema.Schema`: a table's columns, how to name the database in a message).
The bindings it makes live in :mod:`strangler.datasplit.bindings` (the engines read and write rows with them).
"""

from __future__ import annotations

from collections.abc import Callable

from .bindings import Binding, TablePair
from .columns import COMPATIBLE, Column
from .engines.schema import Schema
from .exceptions import PlanError
from .plan import Plan, TableMap

__all__ = ["Binding", "TablePair", "resolve"]   # Binding and TablePair: importers from when they lived here


def resolve(plan: Plan, source: Schema, target: Schema, *, need_target: bool = True) -> list[TablePair]:
    """Introspect both databases and check the plan against them (every error names file, field, value)."""
    def fail(fld: str, msg: str) -> PlanError:
        return PlanError(plan.path, fld, msg)

    pairs: list[TablePair] = []
    side_s, side_t = ("target", "source") if plan.reverse else ("source", "target")
    for t in plan.tables:
        fld = f"tables[{t.index}]"
        src_cols = source.columns(t.source)
        if src_cols is None:
            raise fail(f"{fld}.{side_s}", f"no table {t.source!r} in the {source.label} database ({source.display})")
        tgt_cols = target.columns(t.target)
        if tgt_cols is None:
            if not need_target:
                continue
            hint = " (run `strangler split provision` first?)" if not plan.reverse else ""
            raise fail(f"{fld}.{side_t}",
                       f"no table {t.target!r} in the {target.label} database ({target.display}){hint}")
        pairs.append(_pair(plan, t, src_cols, tgt_cols, source, target, fail))
    return pairs


def _pair(plan: Plan, t: TableMap, src_cols: dict[str, Column], tgt_cols: dict[str, Column], source: Schema,
          target: Schema, fail: Callable[[str, str], PlanError]) -> TablePair:
    fld = f"tables[{t.index}]"

    def listing(cols: dict[str, Column]) -> str:
        return ", ".join(cols)

    columns = t.columns if t.columns is not None else tuple((c, c) for c in src_cols)
    # Errors name the file's own spelling: in reverse the plan's "source" column is this run's target.
    for s, d in columns:
        plan_col = d if plan.reverse else s
        if s not in src_cols:
            raise fail(f"{fld}.columns.{plan_col}",
                       f"no such column in {t.source} (columns: {listing(src_cols)})")
        if d not in tgt_cols:
            raise fail(f"{fld}.columns.{plan_col}" if t.columns is not None else f"{fld}.columns",
                       f"target column {d!r} does not exist in {t.target} (columns: {listing(tgt_cols)})")
    for key_field, key in t.key_fields(fld):
        if key not in dict(columns):
            raise fail(key_field, f"{key!r} is not a mapped column of {t.source}")
    for name in t.plain_ids:
        if name not in dict(columns):
            raise fail(f"{fld}.plain_ids", f"{name!r} is not a mapped column of {t.source}")
    src_list: list[Column] = []
    tgt_list: list[Column] = []
    scales: list[int | None] = []
    for s, d in columns:
        sc, tc = src_cols[s], tgt_cols[d]
        plan_col = d if plan.reverse else s
        if tc.kind not in COMPATIBLE.get(sc.kind, {sc.kind}):
            raise fail(f"{fld}.columns.{plan_col}",
                       f"{t.source}.{s} is {sc.kind} ({sc.declared}) but {t.target}.{d} is {tc.kind} "
                       f"({tc.declared}); these kinds do not convert into each other")
        scale: int | None = None
        if "decimal" in (sc.kind, tc.kind):
            scale = t.decimal_places.get(s)
            if scale is None:
                scale = tc.scale if tc.scale is not None else sc.scale
            if scale is None:
                scale = source.django_scale(t.source, s) if source.django_scale else None
            if scale is None and target.django_scale:
                scale = target.django_scale(t.target, d)
            if scale is None:
                raise fail(f"{fld}.decimal_places.{plan_col}",
                           f"neither database declares the scale of {t.source}.{s}; give it here")
        src_list.append(sc.with_scale(scale if sc.kind == "decimal" else sc.scale))
        tgt_list.append(tc.with_scale(scale if tc.kind == "decimal" else tc.scale))
        scales.append(scale)
    mapped_targets = {d for _, d in columns}
    for name, col in tgt_cols.items():
        if name not in mapped_targets and not col.nullable and not col.has_default:
            raise fail(f"{fld}.columns", f"target column {t.target}.{name} is NOT NULL without a default and "
                                         "nothing is mapped to it")
    return TablePair(t.index, Binding(t.source, t.keys, tuple(src_list)),
                     Binding(t.target, t.target_keys, tuple(tgt_list)), tuple(scales))
