"""Loading a routes file (YAML) into a ``RouteTable``, refusing bad files with the file, field and value.

The schema is the pydantic models below (unknown keys are errors, so a typo never silently does nothing).
Cross-references (backend names, the default) and ambiguities (two routes equally specific for one
request) are checked after the schema, and every problem is reported at once, e.g.::

    routes.yaml: routes.catalog.canary: 140 is not a percentage (0-100)
    routes.yaml: routes.catalog.fallback: 'monolth' is not a backend (known: catalog, monolith)
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

from router.compare import DEFAULT_COMPARED_HEADERS, PathError, Rules, parse_path
from router.exceptions import ConfigError, PathRejected
from router.headers import NEVER_MATCHABLE
from router.paths import normalise
from router.table import SAFE_METHODS, Backend, Pattern, Route, RouteTable, Shadow

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token: methods and header names
SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$")
UNITS = {None: 1, "B": 1, "KB": 10**3, "KiB": 2**10, "MB": 10**6, "MiB": 2**20, "GB": 10**9, "GiB": 2**30}


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port")
    return value


class HealthSpec(Spec):
    path: str = "/healthz"
    interval: Annotated[float, Field(ge=0, le=3600)] = 5.0

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'")
        return value


class TimeoutSpec(Spec):
    connect: Annotated[float, Field(gt=0, le=300)] = 2.0
    read: Annotated[float, Field(gt=0, le=3600)] = 30.0


class CircuitSpec(Spec):
    failures: Annotated[int, Field(ge=1, le=10_000)] = 5
    reset_after: Annotated[float, Field(gt=0, le=3600)] = 10.0


class BackendSpec(Spec):
    targets: Annotated[list[str], Field(min_length=1)]
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
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s)://host[:port] URL")
            if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
                raise ValueError(f"{url!r} must be scheme://host[:port] only (no path, query or credentials)")
            try:
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError:
                raise ValueError(f"{url!r} has an invalid port") from None
            cleaned.append(f"{parts.scheme}://{parts.netloc}")
        return cleaned


class HeaderSpec(Spec):
    name: str
    value: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not TOKEN.match(value):
            raise ValueError(f"{value!r} is not a valid header name")
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
        if not TOKEN.match(item):
            raise ValueError(f"[{index}]: {item!r} is not a valid header name")
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


def _methods(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("an empty list matches nothing; leave 'methods' out to match every method")
    out = []
    for method in value:
        if not isinstance(method, str) or not TOKEN.match(method):
            raise ValueError(f"{method!r} is not an HTTP method")
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
            raise ValueError(f"{value!r} is not a percentage (0-100)")
        if not 0 <= value <= 100:
            raise ValueError(f"{value} is not a percentage (0-100)")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'")
        probe = re.sub(r"(?<=/)\{[A-Za-z_][A-Za-z0-9_]*\}(?=/|$)", "x", value)
        if "{" in probe or "}" in probe:
            raise ValueError(f"{value!r}: parameters look like {{name}} and fill a whole segment")
        names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", value)
        if len(names) != len(set(names)):
            raise ValueError(f"{value!r}: a parameter name appears twice")
        try:
            # A route path is written decoded ('/café/'), as match() sees requests; UTF-8 is its wire form.
            normalised = normalise(probe.encode("utf-8"))
        except PathRejected as exc:
            raise ValueError(f"{value!r}: {exc}") from None
        if normalised == "/__router" or normalised.startswith("/__router/"):
            raise ValueError(f"{value!r}: /__router/ is the router's own (liveness); no route may use it")
        if normalised != probe and normalised + "/" != probe:
            raise ValueError(f"{value!r} is not normalised (it would be {normalised!r}); it could never match")
        return value


class AdminSpec(Spec):
    listen: str = "127.0.0.1:8081"
    token_env: str = "ROUTER_ADMIN_TOKEN"  # noqa: S105 - names the variable holding the token

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _check_listen(value)


class IdentitySpec(Spec):
    resolve_url: str
    cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    token_ttl: Annotated[float, Field(gt=0, le=3600)] = 60.0
    secret_env: str = "ROUTER_IDENTITY_SECRET"  # noqa: S105 - names the variable holding the secret
    session_cookie: str = "sessionid"


class FileSpec(Spec):
    version: Literal[1] = 1
    listen: str = "127.0.0.1:8080"
    max_body: int | str = 100 * 2**20
    default: str
    backends: dict[str, BackendSpec]
    routes: dict[str, RouteSpec] = {}
    admin: AdminSpec = AdminSpec()
    identity: IdentitySpec | None = None
    parity: ParitySpec = ParitySpec()

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        return _check_listen(value)

    @field_validator("max_body", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{value!r} is not a size (e.g. 10MiB, 500KB, 1048576)")
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"{value} is not a size")
            return value
        found = SIZE.match(value)
        if not found:
            raise ValueError(f"{value!r} is not a size (e.g. 10MiB, 500KB, 1048576)")
        return int(found.group(1)) * UNITS[found.group(2)]

    @field_validator("backends")
    @classmethod
    def _backend_names(cls, value: dict[str, BackendSpec]) -> dict[str, BackendSpec]:
        if not value:
            raise ValueError("at least one backend is needed")
        for name in value:
            if not NAME.match(str(name)):
                raise ValueError(f"{name!r} is not a name (letters, digits, '-', '_')")
        return value

    @field_validator("routes")
    @classmethod
    def _route_names(cls, value: dict[str, RouteSpec]) -> dict[str, RouteSpec]:
        for name in value:
            if not NAME.match(str(name)):
                raise ValueError(f"{name!r} is not a name (letters, digits, '-', '_')")
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


def load(path: str | Path) -> RouterConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    return parse(text, source=str(path))


def parse(text: str, *, source: str = "<routes>") -> RouterConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError([f"{source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from None
    return parse_data(raw, source=source)


def parse_data(raw: Any, *, source: str = "<routes>") -> RouterConfig:
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: expected a mapping with 'backends', 'routes' and 'default' at the top"])
    try:
        spec = FileSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError([f"{source}: {_describe(err)}" for err in exc.errors()]) from None
    problems = [f"{source}: {p}" for p in _cross_check(spec)]
    if problems:
        raise ConfigError(problems)
    canonical = json.dumps(raw, sort_keys=True, default=str)
    table = _build(spec, version=hashlib.sha256(canonical.encode()).hexdigest()[:12])
    return RouterConfig(table=table, source=source, listen=spec.listen, max_body=int(spec.max_body),
                        admin=spec.admin, identity=spec.identity, parity=spec.parity,
                        warnings=tuple(f"{source}: {w}" for w in unreachable_routes(table)),
                        raw=copy.deepcopy(raw))


def _describe(error: Any) -> str:
    loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    if error["type"] == "missing":
        return f"{loc}: required"
    if error["type"].startswith("value_error"):
        return f"{loc}: {message}"
    return f"{loc}: {message} (got {error.get('input')!r})"


def _cross_check(spec: FileSpec) -> list[str]:
    known = ", ".join(sorted(spec.backends))
    problems = []

    def need(name: str | None, where: str) -> None:
        if name is not None and name not in spec.backends:
            problems.append(f"{where}: {name!r} is not a backend (known: {known})")

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


def _ambiguities(table: RouteTable) -> list[str]:
    problems = []
    routes = list(table.routes)
    for i, a in enumerate(routes):
        for b in routes[i + 1:]:
            if a.specificity() != b.specificity() or not _patterns_overlap(a.pattern, b.pattern):
                continue
            if a.methods is not None and b.methods is not None and not a.methods & b.methods:
                continue
            if _headers_disjoint(a.header, b.header):
                continue
            first, second = sorted((a, b), key=lambda r: r.name)
            problems.append(
                f"routes.{second.name}: as specific as routes.{first.name} and both match the same requests "
                f"({first.pattern.text} vs {second.pattern.text}); make one narrower (methods, header or path)"
            )
    return problems


def unreachable_routes(table: RouteTable) -> list[str]:
    """Routes that parse but can never serve a request: they wait for a header the router strips first."""
    return [
        f"routes.{route.name}.header: {route.header[0]!r} is removed before routing (hop-by-hop or identity "
        "header), so this route can never match"
        for route in table.routes
        if route.header is not None and route.header[0] in NEVER_MATCHABLE
    ]
