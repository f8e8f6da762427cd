"""Reading a routes file: bytes, YAML (``router.safeyaml``), the schema, the checks, the ``RouterConfig``.

Every problem is reported at once, each naming the file, the key and the value; a duplicate key also says
whose key it is (a route, a backend) and where it first appears.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from router import safeyaml
from router.config.routes import ParitySpec
from router.config.settings import AdminSpec, CanarySpec, FileSpec, IdentitySpec
from router.config.tables import build_table, cross_check, unreachable_routes
from router.config.values import MAX_BYTES, refused
from router.exceptions import ConfigError
from router.routing.table import RouteTable
from router.validation import describe, key_text, show


@dataclass(frozen=True)
class RouterConfig:
    """Everything in a routes file: the table plus the process-level settings."""

    table: RouteTable
    source: str
    listen: str = "127.0.0.1:8080"
    max_body: int = 100 * 2**20
    admin: AdminSpec = field(default_factory=AdminSpec)
    identity: IdentitySpec | None = None
    canary: CanarySpec = field(default_factory=CanarySpec)
    parity: ParitySpec = field(default_factory=ParitySpec)
    warnings: tuple[str, ...] = ()
    # The file's data as parsed; the admin API edits a copy and validates it through parse_data().
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def read(path: str | Path) -> bytes:
    """The bytes of the routes file at ``path``: never more than ``MAX_BYTES`` + 1 (enough to see it is too
    big), so a huge file costs no memory; ``ConfigError`` when it cannot be read."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None


def load(path: str | Path) -> RouterConfig:
    path = Path(path)
    return parse_bytes(read(path), source=str(path))


def parse_bytes(data: bytes, *, source: str = "<routes>") -> RouterConfig:
    """A routes file's bytes: refused when over ``MAX_BYTES`` or not UTF-8, then as ``parse``."""
    try:
        text = safeyaml.decode(data, max_bytes=MAX_BYTES)
    except safeyaml.YamlRefused as exc:
        raise refused([f"{source}: {exc}"]) from None
    return parse(text, source=source)


def parse(text: str, *, source: str = "<routes>") -> RouterConfig:
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise refused([f"{source}: larger than {MAX_BYTES:,} bytes; a config file this big is a mistake"])
    try:
        raw = safeyaml.loads(text)
    except safeyaml.YamlRefused as exc:
        raise refused([f"{source}: {_yaml_problem(text, exc)}"]) from None
    return parse_data(raw, source=source)


def _yaml_problem(text: str, exc: safeyaml.YamlRefused) -> str:
    """What ``safeyaml`` refused, in words; a duplicate key also says whose key it is (a route, a backend)."""
    if exc.line is None or exc.column is None or not exc.message.startswith("duplicate key"):
        return str(exc)
    found = _duplicate_at(text, exc.line, exc.column)
    if found is None:  # pragma: no cover - safeyaml found it, so composing again finds it too
        return str(exc)
    path, key, first_line = found
    if first_line is None:  # equal once read (1 and 0x1, yes and true), written differently
        given = re.search(r"first at line (\d+)", exc.message)
        first_line = int(given.group(1)) if given else exc.line
    where = ".".join([*path, key_text(key)])
    kind = {"routes": "route", "backends": "backend"}.get(path[0]) if len(path) == 1 else None
    if kind is not None:
        return (f"{exc.where}: {where}: {kind} {show(key)} is defined twice (first at line {first_line}); YAML "
                "would silently keep only the second")
    return f"{exc.where}: {where}: duplicate key {show(key)} (first at line {first_line})"


def _duplicate_at(text: str, line: int, column: int) -> tuple[list[str], str, int | None] | None:
    """The key path of the mapping holding the duplicate key at ``line``:``column`` (1-based), the key, and
    the line where it first appears.

    Only called after ``safeyaml`` refused a duplicate key, which it does once the whole document has been
    composed under its limits (no aliases, bounded depth and size): composing it again here is safe.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:  # pragma: no cover - it composed a moment ago
        return None
    stack: list[tuple[Node, list[str]]] = [(root, [])] if root is not None else []
    while stack:
        node, path = stack.pop()
        if isinstance(node, MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
                if isinstance(key_node, ScalarNode):
                    mark = key_node.start_mark
                    if (mark.line + 1, mark.column + 1) == (line, column):
                        return path, key, first.get(key)
                    first.setdefault(key, mark.line + 1)
                stack.append((value_node, [*path, key_text(key)]))
        elif isinstance(node, SequenceNode):
            stack.extend((item, [*path[:-1], f"{path[-1]}[{i}]"] if path else [f"[{i}]"])
                         for i, item in enumerate(node.value))
    return None


def parse_data(raw: Any, *, source: str = "<routes>") -> RouterConfig:
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: expected a mapping with 'backends', 'routes' and 'default' at the top"])
    try:
        spec = FileSpec.model_validate(raw)
    except ValidationError as exc:
        raise refused([f"{source}: {describe(err)}" for err in exc.errors()]) from None
    problems = [f"{source}: {p}" for p in cross_check(spec)]
    if problems:
        raise refused(problems)
    canonical = json.dumps(raw, sort_keys=True, default=str)
    table = build_table(spec, version=hashlib.sha256(canonical.encode()).hexdigest()[:12])
    return RouterConfig(table=table, source=source, listen=spec.listen, max_body=int(spec.max_body),
                        admin=spec.admin, identity=spec.identity, canary=spec.canary, parity=spec.parity,
                        warnings=tuple(f"{source}: {w}" for w in unreachable_routes(table)),
                        raw=copy.deepcopy(raw))
