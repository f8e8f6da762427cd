"""Counters of everything the router does: Prometheus metrics for scrapers, per-route figures for the admin
API (and the plan executor's gates: request counts, error rates and latency percentiles per backend)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from router.addons import Addon, Reply
from router.flow import Flow
from router.health import HealthRegistry
from router.state import TableHolder

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
RECENT = 4096  # latencies kept per (route, backend) for exact recent percentiles
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


@dataclass
class BackendFigures:
    requests: int = 0
    errors: int = 0  # 5xx answers, including the router's own 502/503/504
    recent_ms: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.recent_ms)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 6) if self.requests else 0.0,
            "p50_ms": _percentile(ordered, 0.50),
            "p99_ms": _percentile(ordered, 0.99),
        }


@dataclass
class RouteFigures:
    requests: int = 0
    status: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    upstream_errors: int = 0
    fallbacks: int = 0
    rejected: int = 0
    backends: dict[str, BackendFigures] = field(default_factory=lambda: defaultdict(BackendFigures))

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "status": dict(sorted(self.status.items())),
            "upstream_errors": self.upstream_errors,
            "fallbacks": self.fallbacks,
            "rejected": self.rejected,
            "backends": {name: figures.as_dict() for name, figures in sorted(self.backends.items())},
        }


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


class _CircuitCollector(Collector):
    def __init__(self, health: HealthRegistry) -> None:
        self.health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("router_circuit_state", "Circuit per target: 0 closed, 1 half-open, 2 open",
                                  labels=["backend", "target"])
        up = GaugeMetricFamily("router_target_up", "Last active health check passed (1) or failed (0)",
                               labels=["backend", "target"])
        for (backend, target), health in sorted(self.health.targets.items()):
            gauge.add_metric([backend, target], health.circuit.state.value)
            up.add_metric([backend, target], 1 if health.up else 0)
        yield gauge
        yield up


class _ShadowCollector(Collector):
    def __init__(self, snapshot: Callable[[], dict[str, dict[str, int]]]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("router_shadow", "Shadow requests per route by outcome",
                                     labels=["route", "outcome"])
        for route, figures in self.snapshot().items():
            for outcome, count in figures.items():
                family.add_metric([route, outcome], count)
        yield family


class Metrics(Addon):
    def __init__(self, health: HealthRegistry, tables: TableHolder,
                 shadow_snapshot: Callable[[], dict[str, dict[str, int]]] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.tables = tables
        self.requests = Counter("router_requests", "Requests answered", ["route", "backend", "method", "code"],
                                registry=self.registry)
        self.latency = Histogram("router_request_duration_seconds", "Time to the last byte of the answer",
                                 ["route", "backend"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.upstream_errors = Counter("router_upstream_errors", "Backends that could not be used",
                                       ["route", "backend", "kind"], registry=self.registry)
        self.fallbacks = Counter("router_fallbacks", "Requests served by a route's fallback backend",
                                 ["route", "backend"], registry=self.registry)
        self.version = Gauge("router_table_version", "Number of the routing table in use", registry=self.registry)
        self.version.set_function(lambda: self.tables.version.number)
        self.registry.register(_CircuitCollector(health))
        self.shadow_snapshot = shadow_snapshot
        if shadow_snapshot is not None:
            self.registry.register(_ShadowCollector(shadow_snapshot))
        self.routes: dict[str, RouteFigures] = defaultdict(RouteFigures)
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}
        # Requests forwarded and not yet answered, per route: a cutover's freeze waits for the writes that
        # were already on their way to drain before its final sync. Not part of the resettable window.
        self.in_flight: dict[str, int] = defaultdict(int)
        self._open: set[int] = set()

    async def request(self, flow: Flow) -> Reply | None:
        self._open.add(id(flow))
        self.in_flight[flow.route_name] += 1
        return None

    def done(self, flow: Flow) -> None:
        if id(flow) in self._open:
            self._open.discard(id(flow))
            self.in_flight[flow.route_name] -= 1
        status = flow.status or 0
        route, backend = flow.route_name, flow.backend
        seconds = flow.elapsed_ms() / 1000
        # Clients choose methods: anything unusual is one label, or each made-up method would add series.
        method = flow.method if flow.method in STANDARD_METHODS else "OTHER"
        key = (route, backend, method, status)
        children = self._children.get(key)
        if children is None:  # .labels() hashes and locks on every call; cache the children instead
            children = (self.requests.labels(route, backend, method, str(status)),
                        self.latency.labels(route, backend))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        figures = self.routes[route]
        figures.requests += 1
        figures.status[f"{status // 100}xx"] += 1
        if flow.target is None and not flow.attempt_errors:
            # The router answered without asking any backend (a refused request, a write freeze): that
            # says nothing about the backends' health, so it stays out of their error rates.
            figures.rejected += 1
            return
        per_backend = figures.backends[backend]
        per_backend.requests += 1
        per_backend.recent_ms.append(seconds * 1000)
        if status >= 500:
            per_backend.errors += 1
        for failed_backend, kind in flow.attempt_errors:
            self.upstream_errors.labels(route, failed_backend, kind).inc()
            figures.upstream_errors += 1
        if flow.fallback_used:
            self.fallbacks.labels(route, backend).inc()
            figures.fallbacks += 1

    def snapshot(self) -> dict[str, Any]:
        routes = {name: figures.as_dict() for name, figures in sorted(self.routes.items())}
        for name, count in self.in_flight.items():
            if count:  # absent means none (a reset window must not keep listing every route ever seen)
                routes.setdefault(name, RouteFigures().as_dict())["in_flight"] = count
        for name, figures in (self.shadow_snapshot() if self.shadow_snapshot else {}).items():
            routes.setdefault(name, RouteFigures().as_dict())["shadow"] = figures
        return routes

    def reset(self) -> None:
        """Starts a new window for the per-route figures (Prometheus counters keep counting)."""
        self.routes.clear()
