"""From a checked ``FileSpec`` to the ``RouteTable``, and the checks across keys: references to backends,
routes that cannot be told apart (ambiguities), routes that can never match."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from router.config.routes import ShadowSpec
from router.parity.rules import DEFAULT_MAX_DIFFERENCES, Rules, RulesSpec
from router.routing.headers import NEVER_MATCHABLE
from router.routing.table import Backend, Pattern, Route, RouteTable, Shadow
from router.validation import show

if TYPE_CHECKING:
    from router.config.settings import FileSpec


def cross_check(spec: FileSpec) -> list[str]:
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
        problems.extend(_ambiguities(build_table(spec, version="check")))
    return problems


def build_table(spec: FileSpec, *, version: str) -> RouteTable:
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


def _shadow_rules(common: RulesSpec, route: ShadowSpec) -> Rules:
    """The file's ``parity.rules`` plus the route's own. A route that lists its headers means exactly those;
    its ``max_differences``, if given, wins over the file's."""
    rules = common.rules().merged(route.rules())
    if route.headers is not None or route.max_differences is None:
        headers = tuple(route.headers) if route.headers is not None else rules.compared_headers
        limit = route.max_differences or common.max_differences or DEFAULT_MAX_DIFFERENCES
        rules = replace(rules, compared_headers=headers, max_differences=limit)
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
