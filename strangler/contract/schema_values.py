"""JSON Schema turned into Hypothesis strategies: values a schema takes (:func:`values`), values it refuses
but only just (:func:`broken`), and any JSON (:func:`json_values`); biased towards values seen in the monolith's
own answers (:class:`Pools`), so generated requests meet real data.

A subset of JSON Schema: what OpenAPI 3.0 schemas written by drf-spectacular and similar generators use;
anything else falls back to arbitrary JSON. :mod:`strangler.contract.generate` builds requests with these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from hypothesis import strategies as st

MAX_TEXT = 40


@dataclass(frozen=True)
class Pools:
    """Values found in the monolith's own answers, so generated requests meet real data."""

    ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # collection path -> ids in it
    fields: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # field name -> scalar values seen
    keys: tuple[str, ...] = ()  # object keys seen (what an ordering parameter names)
    words: tuple[str, ...] = ()  # words of the text seen (what a search finds)

    def related(self, name: str | None) -> tuple[Any, ...]:
        """Values seen for the field ``name``, or for the field it is a bound of (``max_price``: ``price``)."""
        if not name:
            return ()
        if name in self.fields:
            return self.fields[name]
        for field_name, seen in self.fields.items():
            if name.endswith("_" + field_name) or name.startswith(field_name + "_"):
                return seen
        return ()

    def ids_for(self, template: str) -> tuple[str, ...]:
        """Ids for the first parameter of ``template``: those of the collection it sits under."""
        prefix = template.split("{", 1)[0]
        if prefix in self.ids and self.ids[prefix]:
            return self.ids[prefix]
        return tuple(sorted({i for ids in self.ids.values() for i in ids}, key=_id_order))[:200]


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (1 << 62, value)


def json_values() -> st.SearchStrategy[Any]:
    scalars = (st.none() | st.booleans() | st.integers(-(2**40), 2**40)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


def _ecma(pattern: str) -> re.Pattern[str] | None:
    """JSON Schema patterns are ECMA-262: ``\\d`` is ASCII there (re.ASCII); None when Python cannot read it."""
    try:
        return re.compile(pattern, re.ASCII)
    except re.error:
        return None


def _merge(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for schema in schemas:
        for key, value in schema.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", []), *value})
            else:
                merged.setdefault(key, value)
    return merged


def values(schema: Mapping[str, Any], pools: Pools = Pools(), *, name: str | None = None,
           depth: int = 0) -> st.SearchStrategy[Any]:
    """Values valid for ``schema`` (as far as this subset knows), biased towards values seen in the
    monolith's answers for a field of the same ``name``."""
    schema = dict(schema)
    if depth > 6 or not schema:
        return json_values()
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema and schema["enum"]:
        return st.sampled_from(list(schema["enum"]))
    for key in ("oneOf", "anyOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return st.one_of([values(s, pools, name=name, depth=depth + 1) for s in schema[key]])
    if isinstance(schema.get("allOf"), list):
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        return values(_merge([rest, *schema["allOf"]]), pools, name=name, depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([values({**schema, "type": t}, pools, name=name, depth=depth + 1) for t in kind])
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else None
    seen = [v for v in pools.related(name) if _fits(kind, v)]
    own = _typed(kind, schema, pools, depth)
    if seen:
        return st.integers(0, 9).flatmap(lambda n: st.sampled_from(seen) if n < 5 else own)
    return own


def _fits(kind: str | None, value: Any) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":  # a decimal in a string ("12.50") is a number in a query string
        return (isinstance(value, int | float) and not isinstance(value, bool)) or (
            isinstance(value, str) and _DECIMAL.fullmatch(value) is not None)
    return False


_DECIMAL = re.compile(r"-?\d+(\.\d+)?")


def _typed(kind: str | None, schema: dict[str, Any], pools: Pools, depth: int) -> st.SearchStrategy[Any]:
    if kind == "object":
        props: dict[str, Any] = schema.get("properties") or {}
        required = [k for k in schema.get("required") or [] if k in props]
        return st.fixed_dictionaries(
            {k: values(props[k], pools, name=k, depth=depth + 1) for k in required},
            optional={k: values(s, pools, name=k, depth=depth + 1) for k, s in props.items() if k not in required})
    if kind == "array":
        low = int(schema.get("minItems", 0))
        high = max(low, min(int(schema.get("maxItems", low + 3)), low + 3))
        return st.lists(values(schema.get("items") or {}, pools, depth=depth + 1), min_size=low, max_size=high)
    if kind == "string":
        return _strings(schema)
    if kind == "integer":
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        low = int(minimum) + (1 if schema.get("exclusiveMinimum") is True else 0) if minimum is not None else -(10**6)
        high = int(maximum) - (1 if schema.get("exclusiveMaximum") is True else 0) if maximum is not None else 10**9
        high = max(low, high)
        small = st.integers(min_value=max(low, 0), max_value=min(high, 30)) if max(low, 0) <= min(high, 30) \
            else st.nothing()
        return small | st.integers(min_value=low, max_value=high)  # counts, pages and ids are mostly small
    if kind == "number":
        low_f, high_f = schema.get("minimum"), schema.get("maximum")
        plain = st.decimals(min_value=max(low_f, 0) if low_f is not None else 0,
                            max_value=min(high_f, 1000) if high_f is not None else 1000, places=2,
                            allow_nan=False, allow_infinity=False).map(str)
        return plain | st.floats(min_value=low_f, max_value=high_f, allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return json_values()


def _strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low = int(schema.get("minLength", 0))
    high = max(low, int(schema.get("maxLength", max(low, MAX_TEXT))))

    def fits(text: str) -> bool:
        return low <= len(text) <= high

    form = schema.get("format")
    if form == "date-time":
        return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                            timezones=st.just(timezone.utc)).map(lambda d: d.isoformat())
    if form == "date":
        return st.dates().map(lambda d: d.isoformat())
    if form == "uuid":
        return st.uuids().map(str)
    if form == "email":
        return st.from_regex(r"\A[a-z0-9]{1,10}@[a-z]{1,8}\.(com|org)\Z")
    if form in ("uri", "url"):
        return st.from_regex(r"\Ahttps://[a-z]{1,10}\.example/[a-z0-9]{0,8}\Z")
    if form == "decimal" and "pattern" not in schema:
        return st.decimals(min_value=-1000, max_value=100000, places=2, allow_nan=False,
                           allow_infinity=False).map(str)
    pattern = _ecma(str(schema["pattern"])) if "pattern" in schema else None
    if pattern is not None:
        return st.from_regex(pattern, fullmatch=True).filter(fits)
    return st.text(min_size=low, max_size=min(high, low + MAX_TEXT))


def broken(schema: Mapping[str, Any], pools: Pools = Pools()) -> st.SearchStrategy[Any]:
    """A value the schema refuses, close to a valid one: one field dropped, of the wrong type (a list where
    a string goes, a string where a number goes, null), too long or empty, or an unknown key added."""
    props: dict[str, Any] = dict(schema.get("properties") or {})
    if not props:
        return json_values()
    return _broken(dict(schema), props, pools)


@st.composite
def _broken(draw: st.DrawFn, schema: dict[str, Any], props: dict[str, Any], pools: Pools) -> Any:
    value = draw(values(schema, pools))
    if not isinstance(value, dict):
        return value
    name = draw(st.sampled_from(sorted(props)))
    how = draw(st.integers(0, 3))
    if how == 0:
        required = list(schema.get("required") or [])
        value.pop(draw(st.sampled_from(required)) if required else name, None)
    elif how == 1:
        value[name] = draw(_wrong_type(props[name], value.get(name)))
    elif how == 2:
        limit = int(props[name].get("maxLength", 0) or 0)
        value[name] = draw(st.sampled_from(("", " ", "x" * (limit + 1) if limit else "x" * 5000)))
    else:
        value[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in props))] = draw(json_values())
    return value


def _wrong_type(schema: Mapping[str, Any], current: Any) -> st.SearchStrategy[Any]:
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind}
    options: list[st.SearchStrategy[Any]] = [st.just([current] if current is not None else ["x"])]
    if "null" not in kinds:
        options.append(st.none())
    if "string" not in kinds:
        options.append(st.sampled_from(("abc", "", "1.5", "12abc")))
    if not kinds & {"integer", "number"}:
        options.append(st.sampled_from((0, -1, 1.5, 2**63)))
    if "boolean" not in kinds:
        options.append(st.sampled_from((True, "sometimes")))
    options.append(st.just({"nested": current}))
    return st.one_of(options)
