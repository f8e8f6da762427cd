"""Loading a routes file (YAML) into a ``RouteTable``, refusing bad files with the file, field and value.

The YAML is read by ``router.safeyaml``: duplicate keys (a second route of the same name would silently
replace the first), aliases (an "alias bomb" expands a few lines into billions of values), nesting deeper
than 64 levels, files over 1 MB and bytes that are not UTF-8 are refused, naming the line.

The schema is the pydantic models below: unknown keys are errors (a typo never silently does nothing) and
types are strict (no ``true`` where seconds are meant, no number where a string is, URLs are http(s) with a
host). Cross-references (backend names, the default) and ambiguities (two routes equally specific for one
request) are checked after the schema, and every problem is reported at once, e.g.::

    routes.yaml: routes.catalog.canary: 140 is not a percentage (0-100)
    routes.yaml: routes.catalog.fallback: 'monolth' is not a backend (known: catalog, monolith)
    routes.yaml: backends.catalog.timeouts.connect: expected a number, got True
    routes.yaml: line 14, column 3: routes.catalog: route 'catalog' is defined twice (first at line 9)

Values are shown truncated (``show``), and so is every problem (``MAX_PROBLEM``), so a refusal never
prints a whole file back.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from router import safeyaml
from router.compare import DEFAULT_COMPARED_HEADERS, PathError, Rules, parse_path
from router.exceptions import ConfigError, PathRejected
from router.headers import NEVER_MATCHABLE
from router.paths import normalise
from router.table import SAFE_METHODS, Backend, Pattern, Route, RouteTable, Shadow

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token: methods and header names
SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$")
UNITS = {None: 1, "B": 1, "KB": 10**3, "KiB": 2**10, "MB": 10**6, "MiB": 2**20, "GB": 10**9, "GiB": 2**30}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_BYTES = safeyaml.MAX_BYTES  # a routes file larger than this is refused before it is parsed
MAX_BACKENDS = 100
MAX_ROUTES = 1000  # far beyond any real table; bounds the work a reload may cost (ambiguities, matching)
MAX_TARGETS = 100
MAX_PATH = 2048
MAX_SHOWN = 60  # characters of a value shown in a problem
MAX_PROBLEM = 300  # characters of one problem
MAX_PROBLEMS = 50  # problems listed; the rest are counted


def show(value: Any) -> str:
    """``repr(value)``, cut to ``MAX_SHOWN`` characters: what a problem shows of a value."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def _clip(problem: str) -> str:
    return problem if len(problem) <= MAX_PROBLEM else problem[:MAX_PROBLEM - 3] + "..."


def refused(problems: list[str]) -> ConfigError:
    """A ``ConfigError`` with every problem cut to ``MAX_PROBLEM`` characters and at most ``MAX_PROBLEMS`` of
    them (the rest counted), so that no file, however broken, is printed back whole."""
    shown = [_clip(p) for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        first = problems[0].partition(": ")[0]
        shown.append(f"{first}: ... and {len(problems) - MAX_PROBLEMS} more problems")
    return ConfigError(shown)


class Spec(BaseModel):
    # strict: no coercion (true is not 1 second, 5 is not "5"); ints are still numbers where floats are meant
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _check_listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{show(value)} is not host:port")
    return value


def _check_env_name(value: str) -> str:
    if not ENV_NAME.match(value):
        raise ValueError(f"{show(value)} is not an environment variable name (letters, digits, '_')")
    return value


def _plain_host(parts: Any) -> bool:
    """The URL's host is a name, an IPv4 address or a bracketed IPv6 address (no spaces, no odd characters)."""
    host = parts.netloc.rpartition("@")[2]
    if not host.endswith("]"):
        host = host.rpartition(":")[0] if ":" in host else host
    return bool(parts.hostname) and HOST.match(host) is not None


def _split_url(value: str) -> Any:
    """``urlsplit(value)``, or None unless it is an http(s) URL with a plain host."""
    if CONTROL.search(value) or " " in value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed '[' of an IPv6 address
        return None
    if parts.scheme not in ("http", "https") or not _plain_host(parts):
        return None
    return parts


def _port_ok(parts: Any) -> bool:
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    return True


class HealthSpec(Spec):
    path: str = "/healthz"
    interval: Annotated[float, Field(ge=0, le=3600)] = 5.0

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{show(value)} must start with '/'")
        if CONTROL.search(value) or " " in value or len(value) > MAX_PATH:
            raise ValueError(f"{show(value)} is not a request path (no spaces or control characters, at most "
                             f"{MAX_PATH} characters)")
        return value


class TimeoutSpec(Spec):
    connect: Annotated[float, Field(gt=0, le=300)] = 2.0
    read: Annotated[float, Field(gt=0, le=3600)] = 30.0


class CircuitSpec(Spec):
    failures: Annotated[int, Field(ge=1, le=10_000)] = 5
    reset_after: Annotated[float, Field(gt=0, le=3600)] = 10.0


class BackendSpec(Spec):
    targets: Annotated[list[str], Field(min_length=1, max_length=MAX_TARGETS)]
    health: HealthSpec = HealthSpec()
    timeouts: TimeoutSpec = TimeoutSpec()
    balance: Literal["round_robin", "least_busy"] = "round_robin"
    circuit: CircuitSpec = CircuitSpec()

    @field_validator("targets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("targets")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        cleaned = []
        for url in value:
            parts = _split_url(url)
            if parts is None:
                raise ValueError(f"{show(url)} is not an http(s)://host[:port] URL")
            if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
                raise ValueError(f"{show(url)} must be scheme://host[:port] only (no path, query or credentials)")
            if not _port_ok(parts):
                raise ValueError(f"{show(url)} has an invalid port")
            cleaned.append(f"{parts.scheme}://{parts.netloc}")
        return cleaned


class HeaderSpec(Spec):
    name: str
    value: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not TOKEN.match(value) or len(value) > 256:
            raise ValueError(f"{show(value)} is not a valid header name")
        return value.lower()


def _json_paths(value: list[str]) -> list[str]:
    for index, item in enumerate(value):
        try:
            parse_path(item)
        except PathError as exc:
            raise ValueError(f"[{index}]: {exc}") from None
    return value


def _header_names(value: list[str]) -> list[str]:
    for index, item in enumerate(value):
        if not TOKEN.match(item) or len(item) > 256:
            raise ValueError(f"[{index}]: {show(item)} is not a valid header name")
    return [item.lower() for item in value]


class CompareSpec(Spec):
    """How two answers are compared (see ``router.compare``): JSON paths to ignore, lists compared as
    multisets, headers compared (default: content-type, location) and headers ignored."""

    ignore: list[str] = []
    unordered: list[str] = []
    headers: list[str] | None = None
    ignore_headers: list[str] = []

    @field_validator("ignore", "unordered")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        return _json_paths(value)

    @field_validator("headers", "ignore_headers")
    @classmethod
    def _headers(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _header_names(value)

    def rules(self) -> Rules:
        return Rules(ignore_paths=tuple(self.ignore), unordered_lists=tuple(self.unordered),
                     compared_headers=tuple(self.headers) if self.headers is not None else DEFAULT_COMPARED_HEADERS,
                     ignore_headers=tuple(self.ignore_headers))


class ShadowSpec(CompareSpec):
    backend: str
    methods: list[str] = sorted(SAFE_METHODS)
    queue: Annotated[int, Field(ge=1, le=100_000)] = 100
    # At most this many shadowed requests a second (default 10: a few hundred a minute is plenty for a gate);
    # the rest are not mirrored (counted as sampled out).
    # The shadow's work shares the router's CPU: unbounded, it doubled p99 under load.
    rate: Annotated[float, Field(gt=0, le=100_000)] = 10.0
    store: bool = True

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        return _methods(value) or []


class ParitySpec(Spec):
    """Top-level ``parity:``: where shadow comparisons are stored (SQLite; a relative path is from the routes
    file's folder; ``null`` keeps none; read at startup only), how much of them is kept, and comparison rules
    for every shadowed route (a route's own rules add to these)."""

    store: str | None = "var/parity.sqlite3"
    max_rows: Annotated[int, Field(ge=1, le=100_000_000)] = 100_000
    max_age_days: Annotated[float, Field(gt=0, le=3650)] | None = 30.0
    rules: CompareSpec = CompareSpec()

    @field_validator("store")
    @classmethod
    def _store(cls, value: str | None) -> str | None:
        if value is not None and CONTROL.search(value):
            raise ValueError(f"{show(value)} is not a file path (control characters; null keeps no store)")
        return value


def _methods(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("an empty list matches nothing; leave 'methods' out to match every method")
    out = []
    for method in value:
        if not isinstance(method, str) or not TOKEN.match(method) or len(method) > 32:
            raise ValueError(f"{show(method)} is not an HTTP method")
        out.append(method.upper())
    if "GET" in out and "HEAD" not in out:
        out.append("HEAD")  # a HEAD is a GET without the body; splitting them would surprise everyone
    return out


class RouteSpec(Spec):
    path: str
    match: Literal["prefix", "exact"] = "prefix"
    methods: list[str] | None = None
    header: HeaderSpec | None = None
    backend: str
    canary: float | None = None
    fallback: str | None = None
    shadow: ShadowSpec | None = None
    shadow_writes: bool = False
    # No write freeze here: a freeze is a lease held by whoever moves the route (router/leases.py), kept in
    # memory beside the table, so it outlives reloads and is never written to a file by mistake.

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str] | None) -> list[str] | None:
        return _methods(value)

    @field_validator("shadow", mode="before")
    @classmethod
    def _shadow_shorthand(cls, value: Any) -> Any:
        return {"backend": value} if isinstance(value, str) else value

    @field_validator("canary", mode="before")
    @classmethod
    def _canary(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{show(value)} is not a percentage (0-100)")
        if not 0 <= value <= 100:  # NaN fails this too
            raise ValueError(f"{value} is not a percentage (0-100)")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{show(value)} must start with '/'")
        if len(value) > MAX_PATH:
            raise ValueError(f"{show(value)} is longer than {MAX_PATH} characters")
        probe = re.sub(r"(?<=/)\{[A-Za-z_][A-Za-z0-9_]*\}(?=/|$)", "x", value)
        if "{" in probe or "}" in probe:
            raise ValueError(f"{show(value)}: parameters look like {{name}} and fill a whole segment")
        names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", value)
        if len(names) != len(set(names)):
            raise ValueError(f"{show(value)}: a parameter name appears twice")
        try:
            # A route path is written decoded ('/café/'), as match() sees requests; UTF-8 is its wire form.
            normalised = normalise(probe.encode("utf-8"))
        except PathRejected as exc:
            raise ValueError(f"{show(value)}: {exc}") from None
        if normalised == "/__router" or normalised.startswith("/__router/"):
            raise ValueError(f"{show(value)}: /__router/ is the router's own (liveness); no route may use it")
        if normalised != probe and normalised + "/" != probe:
            raise ValueError(f"{show(value)} is not normalised (it would be {show(normalised)}); it could never "
                             "match")
        return value


class AdminSpec(Spec):
    listen: str = "127.0.0.1:8081"
    token_env: str = "ROUTER_ADMIN_TOKEN"  # noqa: S105 - names the variable holding the token

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _check_listen(value)

    @field_validator("token_env")
    @classmethod
    def _env(cls, value: str) -> str:
        return _check_env_name(value)


class IdentitySpec(Spec):
    resolve_url: str
    cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    token_ttl: Annotated[float, Field(gt=0, le=3600)] = 60.0
    secret_env: str = "ROUTER_IDENTITY_SECRET"  # noqa: S105 - names the variable holding the secret
    session_cookie: str = "sessionid"

    @field_validator("resolve_url")
    @classmethod
    def _resolve_url(cls, value: str) -> str:
        parts = _split_url(value)
        if parts is None or not _port_ok(parts):
            raise ValueError(f"{show(value)} is not an http(s) URL with a host "
                             "(e.g. http://127.0.0.1:8000/api/accounts/me/)")
        if "@" in parts.netloc or parts.fragment:
            raise ValueError(f"{show(value)}: no credentials or fragment here (the caller's own credentials are "
                             "what is sent)")
        return value

    @field_validator("secret_env")
    @classmethod
    def _env(cls, value: str) -> str:
        return _check_env_name(value)

    @field_validator("session_cookie")
    @classmethod
    def _cookie(cls, value: str) -> str:
        if not TOKEN.match(value) or len(value) > 256:
            raise ValueError(f"{show(value)} is not a cookie name")
        return value


class FileSpec(Spec):
    version: Literal[1] = 1
    listen: str = "127.0.0.1:8080"
    max_body: int | str = 100 * 2**20
    default: str
    backends: Annotated[dict[str, BackendSpec], Field(max_length=MAX_BACKENDS)]
    routes: Annotated[dict[str, RouteSpec], Field(max_length=MAX_ROUTES)] = {}
    admin: AdminSpec = AdminSpec()
    identity: IdentitySpec | None = None
    parity: ParitySpec = ParitySpec()

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _check_listen(value)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        if isinstance(value, bool):  # Literal[1] takes True even when strict: True == 1
            raise ValueError(f"{show(value)} is not a version (expected 1)")
        return value

    @field_validator("max_body", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{show(value)} is not a size (e.g. 10MiB, 500KB, 1048576)")
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"{value} is not a size")
            return value
        found = SIZE.match(value) if len(value) <= 64 else None
        if not found:
            raise ValueError(f"{show(value)} is not a size (e.g. 10MiB, 500KB, 1048576)")
        return int(found.group(1)) * UNITS[found.group(2)]

    @field_validator("backends")
    @classmethod
    def _backend_names(cls, value: dict[str, BackendSpec]) -> dict[str, BackendSpec]:
        if not value:
            raise ValueError("at least one backend is needed")
        for name in value:
            if not NAME.match(str(name)):
                raise ValueError(f"{show(name)} is not a name (letters, digits, '-', '_')")
        return value

    @field_validator("routes")
    @classmethod
    def _route_names(cls, value: dict[str, RouteSpec]) -> dict[str, RouteSpec]:
        for name in value:
            if not NAME.match(str(name)):
                raise ValueError(f"{show(name)} is not a name (letters, digits, '-', '_')")
        return value


@dataclass(frozen=True)
class RouterConfig:
    """Everything in a routes file: the table plus the process-level settings."""

    table: RouteTable
    source: str
    listen: str = "127.0.0.1:8080"
    max_body: int = 100 * 2**20
    admin: AdminSpec = field(default_factory=AdminSpec)
    identity: IdentitySpec | None = None
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
    where = ".".join([*path, _key_text(key)])
    kind = {"routes": "route", "backends": "backend"}.get(path[0]) if len(path) == 1 else None
    if kind is not None:
        return (f"{exc.where}: {where}: {kind} {show(key)} is defined twice (first at line {first_line}); YAML "
                "would silently keep only the second")
    return f"{exc.where}: {where}: duplicate key {show(key)} (first at line {first_line})"


def _key_text(key: str) -> str:
    return key if len(key) <= MAX_SHOWN else key[:MAX_SHOWN - 3] + "..."


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
                stack.append((value_node, [*path, _key_text(key)]))
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
        raise refused([f"{source}: {_describe(err)}" for err in exc.errors()]) from None
    problems = [f"{source}: {p}" for p in _cross_check(spec)]
    if problems:
        raise refused(problems)
    canonical = json.dumps(raw, sort_keys=True, default=str)
    table = _build(spec, version=hashlib.sha256(canonical.encode()).hexdigest()[:12])
    return RouterConfig(table=table, source=source, listen=spec.listen, max_body=int(spec.max_body),
                        admin=spec.admin, identity=spec.identity, parity=spec.parity,
                        warnings=tuple(f"{source}: {w}" for w in unreachable_routes(table)),
                        raw=copy.deepcopy(raw))


# pydantic's type errors, in words: "expected a number, got True" rather than "Input should be a valid number"
_EXPECTED = {
    "float_type": "a number", "int_type": "an integer", "int_from_float": "an integer",
    "string_type": "a string", "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "finite_number": "a finite number",
}


def _describe(error: Any) -> str:
    parts = list(error["loc"])
    if parts and parts[-1] == "[key]":  # a mapping's key itself is wrong (routes: {1: ...})
        where = ".".join(_key_text(str(part)) for part in parts[:-2]) or "(top level)"
        return f"{where}: {show(error.get('input'))} is not a name (expected a string)"
    loc = ".".join(_key_text(str(part)) for part in parts) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    if kind == "missing":
        return f"{loc}: required"
    if kind.startswith("value_error"):
        return f"{loc}: {message}"
    if kind in _EXPECTED:
        return f"{loc}: expected {_EXPECTED[kind]}, got {show(error.get('input'))}"
    if kind == "too_long" and isinstance(error.get("input"), dict):
        ctx = error.get("ctx") or {}
        return f"{loc}: at most {ctx.get('max_length')} entries, got {len(error['input'])}"
    return f"{loc}: {message} (got {show(error.get('input'))})"


def _cross_check(spec: FileSpec) -> list[str]:
    known = ", ".join(sorted(spec.backends))
    problems = []

    def need(name: str | None, where: str) -> None:
        if name is not None and name not in spec.backends:
            problems.append(f"{where}: {show(name)} is not a backend (known: {known})")

    need(spec.default, "default")
    for name, route in spec.routes.items():
        need(route.backend, f"routes.{name}.backend")
        need(route.fallback, f"routes.{name}.fallback")
        if route.shadow:
            need(route.shadow.backend, f"routes.{name}.shadow.backend")
            if route.shadow.backend == route.backend:
                problems.append(f"routes.{name}.shadow.backend: {route.backend!r} already serves the route")
        if route.fallback is not None and route.fallback == route.backend:
            problems.append(f"routes.{name}.fallback: {route.fallback!r} is the route's own backend")
        if route.canary is not None and route.backend == spec.default:
            problems.append(
                f"routes.{name}.canary: the route's backend is the default ({spec.default!r}), "
                "so a canary would split traffic between a backend and itself"
            )
    if not problems:
        problems.extend(_ambiguities(_build(spec, version="check")))
    return problems


def _build(spec: FileSpec, *, version: str) -> RouteTable:
    backends = {
        name: Backend(name=name, targets=tuple(b.targets), health_path=b.health.path,
                      health_interval=b.health.interval, connect_timeout=b.timeouts.connect,
                      read_timeout=b.timeouts.read, balance=b.balance, circuit_failures=b.circuit.failures,
                      circuit_reset=b.circuit.reset_after)
        for name, b in spec.backends.items()
    }
    routes = tuple(
        Route(
            name=name,
            pattern=Pattern.parse(r.path, r.match),
            backend=r.backend,
            methods=frozenset(r.methods) if r.methods else None,
            header=(r.header.name, r.header.value) if r.header else None,
            canary=r.canary,
            fallback=r.fallback,
            shadow=Shadow(backend=r.shadow.backend, methods=frozenset(m.upper() for m in r.shadow.methods),
                          queue=r.shadow.queue, rate=r.shadow.rate,
                          rules=_shadow_rules(spec.parity.rules, r.shadow),
                          store=r.shadow.store) if r.shadow else None,
            shadow_writes=r.shadow_writes,
        )
        for name, r in spec.routes.items()
    )
    return RouteTable(backends=backends, routes=routes, default=spec.default, version=version)


def _shadow_rules(common: CompareSpec, route: ShadowSpec) -> Rules:
    rules = common.rules().merged(route.rules())
    if route.headers is not None:  # a route that lists its headers means exactly those
        rules = Rules(ignore_paths=rules.ignore_paths, ignore_headers=rules.ignore_headers,
                      compared_headers=tuple(route.headers), unordered_lists=rules.unordered_lists)
    return rules


def _patterns_overlap(a: Pattern, b: Pattern) -> bool:
    if a.kind != b.kind or len(a.parts) != len(b.parts):
        return False
    if a.kind == "exact" and a.trailing_slash != b.trailing_slash:
        return False
    return all(Pattern.is_param(x) or Pattern.is_param(y) or x == y for x, y in zip(a.parts, b.parts, strict=True))


def _headers_disjoint(a: tuple[str, str | None] | None, b: tuple[str, str | None] | None) -> bool:
    """Only one header with two different required values rules out a request matching both routes."""
    return (a is not None and b is not None and a[0] == b[0] and a[1] is not None and b[1] is not None
            and a[1] != b[1])


def _overlap_key(route: Route) -> tuple[Any, ...]:
    """Routes equally specific whose patterns overlap share this key, and only they do: equal specificity
    puts their ``{param}`` segments at the same places, so they overlap exactly when their literal segments
    (and, matched exactly, their trailing slashes) are the same. Grouping by it keeps the check linear for
    tables of distinct paths."""
    pattern = route.pattern
    literals = tuple(part for part in pattern.parts if not Pattern.is_param(part))
    return (route.specificity(), literals, pattern.trailing_slash if pattern.kind == "exact" else None)


def _ambiguities(table: RouteTable) -> list[str]:
    groups: dict[tuple[Any, ...], list[tuple[int, Route]]] = {}
    for index, route in enumerate(table.routes):
        groups.setdefault(_overlap_key(route), []).append((index, route))
    found: list[tuple[int, int, str]] = []
    for group in groups.values():
        for position, (i, a) in enumerate(group):
            for j, b in group[position + 1:]:
                if a.specificity() != b.specificity() or not _patterns_overlap(a.pattern, b.pattern):
                    continue  # pragma: no cover - the key guarantees both; kept as the rule itself
                if a.methods is not None and b.methods is not None and not a.methods & b.methods:
                    continue
                if _headers_disjoint(a.header, b.header):
                    continue
                first, second = sorted((a, b), key=lambda r: r.name)
                found.append((i, j,
                    f"routes.{second.name}: as specific as routes.{first.name} and both match the same requests "
                    f"({first.pattern.text} vs {second.pattern.text}); make one narrower (methods, header or path)"))
    return [problem for _i, _j, problem in sorted(found)]


def unreachable_routes(table: RouteTable) -> list[str]:
    """Routes that parse but can never serve a request: they wait for a header the router strips first."""
    return [
        f"routes.{route.name}.header: {route.header[0]!r} is removed before routing (hop-by-hop or identity "
        "header), so this route can never match"
        for route in table.routes
        if route.header is not None and route.header[0] in NEVER_MATCHABLE
    ]
