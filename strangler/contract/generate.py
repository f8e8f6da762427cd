"""Hypothesis strategies for requests generated from the monolith's OpenAPI operations.

Every choice is drawn so that Hypothesis shrinks it towards the plainest request: the operation's own method,
an anonymous caller, no query parameter, no Accept header, the usual Host, a JSON body valid for the schema.
What is drawn besides:

- methods the operation does not declare (``PUT`` on a list, ``OPTIONS``, ``HEAD``);
- path parameters mostly from ids the monolith itself answered (so details exist), else numbers next to them,
  huge ones, or text;
- query parameters of the operation, of the collection it belongs to (list filters on a detail URL), and the
  framework's own (``format``), repeated or not, each valid for its schema (values seen in the monolith's
  answers first) or not;
- ``Accept`` (JSON, HTML, XML, anything, nonsense), a ``Host`` outside the allowed ones;
- bodies valid for the operation's schema, broken on purpose (a required field dropped, a field of another
  type, a list where a string goes, too long, unknown keys), any JSON, or malformed bytes; sent as JSON, as a
  form, as multipart, as JSON without a Content-Type, as text/plain, or not at all;
- identities: anonymous, a user, staff, a token nobody issued.

JSON Schema is turned into strategies here (a subset: what OpenAPI 3.0 schemas written by drf-spectacular and
similar generators use; anything else falls back to arbitrary JSON).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from hypothesis import strategies as st

from strangler.contract.openapi import Operation, Param
from strangler.contract.requests import ContractRequest

OTHER_METHODS = ("HEAD", "OPTIONS", "GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
ACCEPTS = (None, "application/json", "*/*", "text/html", "application/xml", "text/plain",
           "application/json; indent=4", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
           "application/vnd.oai.openapi", "nonsense")
BOUNDARY = "strangler-contract-boundary"
MALFORMED = (b"{", b'{"a": 1,}', b"not json", b"", b"[]", b"null", b'"x"', b'{"a": NaN}', b"\xff\xfe{}",
             b"[" * 40 + b"]" * 40, b'{"a": 1e999}')
JUNK = ("", "abc", "-1", "0", "1.5", "1e400", "NaN", "99999999999999999999", "true", " ", "%", "a\x00b", "é")
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


@dataclass(frozen=True)
class Generation:
    operations: tuple[Operation, ...]
    pools: Pools = Pools()
    host: str = "localhost"
    other_host: str = "contract-check.invalid"
    # Query parameters every endpoint of the framework takes (DRF: format=...), with values to try.
    extra_query: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ordering_param: str = "ordering"
    search_param: str = "search"
    writes: bool = True  # False: only safe methods are generated (the databases cannot be reset)
    identities: tuple[str, ...] = ("anonymous", "user", "staff", "bad-token", "revoked-token")


def requests(generation: Generation) -> st.SearchStrategy[ContractRequest]:
    if not generation.operations:
        raise ValueError("no operation to generate requests for")
    return _request(generation)


def _chance(percent: int) -> st.SearchStrategy[bool]:
    """True ``percent``% of the time; shrinks to True (the common case)."""
    return st.integers(0, 99).map(lambda n: n < percent)


@st.composite
def _request(draw: st.DrawFn, g: Generation) -> ContractRequest:
    ops = g.operations if g.writes else tuple(o for o in g.operations if o.method in ("GET", "HEAD", "OPTIONS"))
    op = draw(st.sampled_from(ops))
    method = op.method if draw(_chance(85)) else draw(st.sampled_from(OTHER_METHODS))
    if not g.writes and method not in ("GET", "HEAD", "OPTIONS"):
        method = "GET"
    unsafe = method not in ("GET", "HEAD", "OPTIONS")
    # Writes are mostly sent as staff, who may write: that is where the two sides' write paths are compared.
    order = ("anonymous", "staff", "staff", "user", "bad-token", "revoked-token") if unsafe else (
        "anonymous", "user", "staff", "bad-token", "revoked-token")
    identity = draw(st.sampled_from([i for i in order if i in g.identities] or list(g.identities)))
    path = op.template
    for param in op.path_params:
        path = path.replace("{" + param.name + "}", draw(_path_value(g, op, param)), 1)
    query = draw(_query(g, op))
    headers: list[tuple[str, str]] = []
    # Most requests are plain (no Accept, the usual Host, valid values) so that one odd thing at a time shows.
    accept = None if draw(_chance(60)) else draw(st.sampled_from(ACCEPTS))
    if accept is not None:
        headers.append(("Accept", accept))
    if not draw(_chance(95)):
        headers.append(("Host", g.other_host))
    body: bytes | None = None
    if method in BODY_METHODS or (unsafe and not draw(_chance(90))):
        content_type, body = draw(_body(g, op, method))
        if content_type is not None:
            headers.append(("Content-Type", content_type))
    return ContractRequest(method=method, path=path, operation=op.name, query=tuple(query), identity=identity,
                           headers=tuple(headers), body=body)


@st.composite
def _path_value(draw: st.DrawFn, g: Generation, op: Operation, param: Param) -> str:
    ids = g.pools.ids_for(op.template)
    kind = draw(st.integers(0, 19))
    if kind < 15 and ids:
        return draw(st.sampled_from(ids))
    if kind < 18:
        numeric = [int(i) for i in ids if i.isdigit()]
        top = max(numeric, default=0)
        return str(draw(st.sampled_from((top + 1, 0, top + 1000, 10**18 - 1, 10**19, 10**30))))
    return quote(draw(st.sampled_from((*JUNK[1:], "-", "1.0", "01", "1 ")) | st.text(min_size=1, max_size=8)),
                 safe="")


@st.composite
def _query(draw: st.DrawFn, g: Generation, op: Operation) -> list[tuple[str, str]]:
    candidates: list[Param] = list(op.query_params)
    if op.path_params:  # the list filters of the collection this item belongs to
        collection = op.template.split("{", 1)[0]
        for other in g.operations:
            if other.template == collection and other.method == "GET":
                candidates += [p for p in other.query_params if p not in candidates]
    candidates += [Param(name, {"enum": list(values)}) for name, values in g.extra_query.items()]
    candidates.append(Param("unknown_parameter", {"type": "string"}))
    chosen = draw(st.lists(st.sampled_from(candidates), max_size=3))
    return [(p.name, draw(_query_value(g, p))) for p in chosen]


@st.composite
def _query_value(draw: st.DrawFn, g: Generation, param: Param) -> str:
    if not draw(_chance(85)):
        return draw(st.sampled_from(JUNK) | st.text(max_size=10))
    if param.name == g.ordering_param and g.pools.keys:
        names = draw(st.lists(st.sampled_from(g.pools.keys), min_size=1, max_size=2))
        signs = draw(st.lists(st.booleans(), min_size=len(names), max_size=len(names)))
        return ",".join(("-" if s else "") + n for n, s in zip(names, signs, strict=True))
    if param.name == g.search_param and g.pools.words:
        return str(draw(st.sampled_from(g.pools.words)))
    return _as_query(draw(values(param.schema, g.pools, name=param.name)))


def _as_query(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    return orjson.dumps(value).decode()


# -- bodies ------------------------------------------------------------------------------------------------

ENCODINGS = ("json", "json", "json", "json", "form", "multipart", "none", "json-untyped", "text", "malformed")


@st.composite
def _body(draw: st.DrawFn, g: Generation, op: Operation, method: str) -> tuple[str | None, bytes | None]:
    schema = _body_schema(g, op, method)
    kind = draw(st.integers(0, 9))
    if kind < 6:
        value = draw(values(schema, g.pools))
    elif kind < 9:
        value = draw(broken(schema, g.pools))
    else:
        value = draw(json_values())
    encoding = draw(st.sampled_from(ENCODINGS))
    if encoding == "none":
        return None, None
    if encoding == "malformed":
        return "application/json", draw(st.sampled_from(MALFORMED))
    if encoding == "form":
        return "application/x-www-form-urlencoded", urlencode(_form_fields(value)).encode()
    if encoding == "multipart":
        return f"multipart/form-data; boundary={BOUNDARY}", _multipart(_form_fields(value))
    data = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    if encoding == "json-untyped":
        return None, data
    return ("text/plain" if encoding == "text" else "application/json"), data


def _body_schema(g: Generation, op: Operation, method: str) -> dict[str, Any]:
    """The schema of the body the operation takes (or, for another method on the same path, the body that
    path's own write takes: a PUT sent to a list is then at least shaped like a real item)."""
    bodies = op.bodies
    if not bodies:
        for other in g.operations:
            if other.template == op.template and other.method == method and other.bodies:
                bodies = other.bodies
                break
    for media in ("application/json", *bodies):
        if media in bodies:
            return bodies[media]
    return {}


def _form_fields(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        return [("value", _as_query(value))] if value is not None else []
    out: list[tuple[str, str]] = []
    for key, item in value.items():
        if isinstance(item, list):
            out += [(str(key), _as_query(v)) for v in item]
        else:
            out.append((str(key), _as_query(item)))
    return out


def _multipart(fields: list[tuple[str, str]]) -> bytes:
    parts = []
    for name, value in fields:
        safe = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{safe}"\r\n\r\n'.encode()
                     + value.encode("utf-8", "surrogatepass") + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


# -- JSON Schema -> strategies -------------------------------------------------------------------------------

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
                            timezones=st.just(UTC)).map(lambda d: d.isoformat())
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
