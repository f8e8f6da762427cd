"""The routing table as plain data, and ``match()``: which route a request belongs to.

Nothing here does I/O. The forwarding core asks ``RouteTable.match()`` and then decides what to do with
the answer (canary split, fallback, shadow). Matching is on the *normalised* path (see ``paths.py``) and
the most specific route wins whatever the order of the file:

1. an exact route beats a prefix route;
2. more path segments beat fewer;
3. at the first segment where two patterns differ, a literal beats a ``{param}``;
4. a route that restricts methods beats one that does not; one that requires a header beats one that does
   not.

Two routes that tie on all of these and can both match one request are a configuration error
(``router.config`` refuses them), so ``match()`` never has to guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from router.parity.rules import Rules
from router.routing.paths import segments as path_segments

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


@dataclass(frozen=True)
class Backend:
    name: str
    targets: tuple[str, ...]
    health_path: str = "/healthz"
    health_interval: float = 5.0  # seconds between active checks; 0 turns them off
    connect_timeout: float = 2.0
    read_timeout: float = 30.0
    balance: Literal["round_robin", "least_busy"] = "round_robin"
    circuit_failures: int = 5  # consecutive failures that open the circuit
    circuit_reset: float = 10.0  # seconds before a half-open probe


@dataclass(frozen=True)
class Shadow:
    backend: str
    methods: frozenset[str] = SAFE_METHODS
    queue: int = 100  # requests waiting for the shadow; beyond this they are dropped and counted
    rate: float = 10.0  # shadowed requests per second at most (sampled beyond): bounds the cost under load
    rules: Rules = field(default_factory=Rules)  # how the two answers are compared (router.compare)
    store: bool = True  # write each comparison to the parity store (when the router has one)


@dataclass(frozen=True)
class Pattern:
    """A path pattern: literal segments and ``{name}`` segments, matched as a prefix or exactly."""

    text: str
    kind: Literal["prefix", "exact"]
    parts: tuple[str, ...]
    trailing_slash: bool

    @classmethod
    def parse(cls, text: str, kind: Literal["prefix", "exact"]) -> Pattern:
        return cls(text=text, kind=kind, parts=path_segments(text), trailing_slash=text.endswith("/"))

    @staticmethod
    def is_param(part: str) -> bool:
        return part.startswith("{") and part.endswith("}")

    def match(self, parts: tuple[str, ...], trailing_slash: bool) -> dict[str, str] | None:
        if self.kind == "exact":
            if len(parts) != len(self.parts) or (parts and trailing_slash != self.trailing_slash):
                return None
        elif len(parts) < len(self.parts):
            return None
        params: dict[str, str] = {}
        for want, got in zip(self.parts, parts, strict=False):
            if self.is_param(want):
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params

    def specificity(self) -> tuple[int, int, tuple[int, ...]]:
        return (1 if self.kind == "exact" else 0, len(self.parts), tuple(0 if self.is_param(p) else 1
                                                                          for p in self.parts))


@dataclass(frozen=True)
class Route:
    name: str
    pattern: Pattern
    backend: str
    methods: frozenset[str] | None = None  # None: any method
    header: tuple[str, str | None] | None = None  # (lower-case name, required value or None for "present")
    canary: float | None = None  # percent of traffic for ``backend``; the rest goes to the table's default
    fallback: str | None = None
    shadow: Shadow | None = None
    shadow_writes: bool = False

    def specificity(self) -> tuple[tuple[int, int, tuple[int, ...]], int, int]:
        return (self.pattern.specificity(), 1 if self.methods else 0, 1 if self.header else 0)

    def accepts(self, method: str, headers: Mapping[str, str]) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        if self.header is not None:
            name, value = self.header
            got = headers.get(name)
            if got is None or (value is not None and got != value):
                return False
        return True


@dataclass(frozen=True)
class Match:
    route: Route | None  # None: no route matched, the table's default backend serves it
    backend: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def route_name(self) -> str:
        return self.route.name if self.route else "default"


@dataclass(frozen=True)
class RouteTable:
    backends: Mapping[str, Backend]
    routes: tuple[Route, ...]
    default: str
    version: str = "0"

    def __post_init__(self) -> None:
        # Most specific first, so the first route that accepts a request is the one that wins.
        # Ties (routes that cannot overlap, router.config checks) are listed by name so output is stable.
        ordered = tuple(sorted(sorted(self.routes, key=lambda r: r.name), key=Route.specificity, reverse=True))
        object.__setattr__(self, "routes", ordered)

    def match(self, method: str, path: str, headers: Mapping[str, str] | None = None) -> Match:
        """``path`` must already be normalised; ``headers`` keys lower-case."""
        headers = headers or {}
        parts = path_segments(path)
        trailing = path.endswith("/") and path != "/"
        for route in self.routes:
            params = route.pattern.match(parts, trailing)
            if params is not None and route.accepts(method, headers):
                return Match(route=route, backend=route.backend, params=params)
        return Match(route=None, backend=self.default)

    def route(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)
