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

The values themselves (valid for a JSON Schema, broken on purpose, or any JSON) come from
:mod:`strangler.contract.schema_values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from hypothesis import strategies as st

from strangler.contract.openapi import Operation, Param
from strangler.contract.requests import ContractRequest
from strangler.contract.schema_values import Pools, broken, json_values, values

OTHER_METHODS = ("HEAD", "OPTIONS", "GET", "POST", "PUT", "PATCH", "DELETE")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
ACCEPTS = (None, "application/json", "*/*", "text/html", "application/xml", "text/plain",
           "application/json; indent=4", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
           "application/vnd.oai.openapi", "nonsense")
BOUNDARY = "strangler-contract-boundary"
MALFORMED = (b"{", b'{"a": 1,}', b"not json", b"", b"[]", b"null", b'"x"', b'{"a": NaN}', b"\xff\xfe{}",
             b"[" * 40 + b"]" * 40, b'{"a": 1e999}')
JUNK = ("", "abc", "-1", "0", "1.5", "1e400", "NaN", "99999999999999999999", "true", " ", "%", "a\x00b", "é")


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
