"""The monolith's OpenAPI schema, reduced to the operations a plan moves.

An operation is kept when the router's own matching (``router.table.RouteTable.match``) sends it to one of
the plan's routes, so the contract covers exactly the paths and methods that shadow, canary and cutover will
move, whatever the routes file says (prefixes, ``{param}`` segments, method lists, exact matches). ``$ref``s
are resolved against the document; what the schema says of each operation is kept as JSON Schema (OpenAPI
3.0's ``nullable`` turned into a ``null`` type) for :mod:`strangler.contract.generate`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strangler.contract.exceptions import ContractError

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
PARAM = re.compile(r"\{([^}/]+)\}")
MAX_DEPTH = 32


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str  # upper case
    template: str  # /api/catalog/products/{id}/
    path_params: tuple[Param, ...] = ()
    query_params: tuple[Param, ...] = ()
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # media type -> JSON Schema
    body_required: bool = False

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"

    def sample_path(self, value: str = "1") -> str:
        return PARAM.sub(value, self.template)


def operations(document: dict[str, Any], covered: Callable[[str, str], bool]) -> list[Operation]:
    """The document's operations whose method and (sample) path ``covered`` accepts, in the document's
    order; ``ContractError`` when the document is not an OpenAPI 3 schema or nothing is covered."""
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3"):
        raise ContractError("the monolith's schema is not an OpenAPI 3 document (no 'openapi: 3.x' key)")
    paths = document.get("paths")
    if not isinstance(paths, dict):
        raise ContractError("the monolith's OpenAPI schema has no 'paths'")
    resolver = _Resolver(document)
    found: list[Operation] = []
    for template, item in paths.items():
        if not isinstance(item, dict):
            continue
        shared = [resolver.resolve(p) for p in item.get("parameters") or []]
        for method in HTTP_METHODS:
            spec = item.get(method)
            if not isinstance(spec, dict):
                continue
            operation = _operation(method.upper(), template, spec, shared, resolver)
            if covered(operation.method, operation.sample_path()):
                found.append(operation)
    return found


def _operation(method: str, template: str, spec: dict[str, Any], shared: list[Any], resolver: _Resolver
               ) -> Operation:
    params: dict[tuple[str, str], Param] = {}
    for raw in [*shared, *(resolver.resolve(p) for p in spec.get("parameters") or [])]:
        if not isinstance(raw, dict) or "name" not in raw:
            continue
        schema = resolver.json_schema(raw.get("schema") or {})
        params[(raw.get("in", ""), raw["name"])] = Param(raw["name"], schema, bool(raw.get("required")))
    for name in PARAM.findall(template):  # a path parameter the schema forgot is still a parameter
        params.setdefault(("path", name), Param(name, {"type": "string"}, True))
    bodies: dict[str, dict[str, Any]] = {}
    body = resolver.resolve(spec.get("requestBody") or {})
    for media, content in (body.get("content") or {}).items():
        if isinstance(content, dict):
            bodies[media] = resolver.json_schema(content.get("schema") or {})
    return Operation(method=method, template=template,
                     path_params=tuple(p for (where, _), p in params.items() if where == "path"),
                     query_params=tuple(p for (where, _), p in params.items() if where == "query"),
                     bodies=bodies, body_required=bool(body.get("required")))


class _Resolver:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, value: Any) -> Any:
        seen = 0
        while isinstance(value, dict) and "$ref" in value:
            value = self._target(value["$ref"])
            seen += 1
            if seen > MAX_DEPTH:
                raise ContractError(f"the OpenAPI schema's $ref chain at {value!r} does not end")
        return value

    def _target(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise ContractError(f"the OpenAPI schema refers to {ref!r}; only local references (#/...) are read")
        node: Any = self.document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise ContractError(f"the OpenAPI schema refers to {ref!r}, which it does not define")
            node = node[part]
        return node

    def json_schema(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        """The schema with every $ref inlined (recursive schemas cut at ``MAX_DEPTH``: anything goes there)
        and OpenAPI's ``nullable`` as a JSON Schema ``null`` type; ``readOnly`` properties dropped."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return {}
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in ("properties", "patternProperties") and isinstance(value, dict):
                props = {name: self.json_schema(sub, depth + 1) for name, sub in value.items()
                         if not (isinstance(self.resolve(sub), dict) and self.resolve(sub).get("readOnly"))}
                out[key] = props
            elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
                out[key] = self.json_schema(value, depth + 1)
            elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
                out[key] = [self.json_schema(sub, depth + 1) for sub in value]
            elif key not in ("nullable", "description", "example", "examples", "title", "xml", "externalDocs"):
                out[key] = value
        if schema.get("nullable"):
            kind = out.get("type")
            if isinstance(kind, str):
                out["type"] = [kind, "null"]
            elif "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        if "required" in out and "properties" in out:
            out["required"] = [name for name in out["required"] if name in out["properties"]]
        return out
