"""Counters of everything the router does: Prometheus metrics for scrapers, per-route figures for the admin
API (and the plan executor's gates: request counts, error rates and latency percentiles per backend)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from router.control.state import TableHolder
from router.control.windows import BackendFigures, RouteFigures, ShadowFigures, Window, Windows
from router.proxy.flow import Flow
from router.proxy.health import HealthRegistry
from router.proxy.pipeline import Addon, Reply

__all__ = ["BackendFigures", "Metrics", "RouteFigures", "route_snapshot"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


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
    """Prometheus counters (cumulative, for scrapers) and the per-route figures of the counting windows
    (``router/control/windows.py``: what ``GET /counters`` shows, the base window or a gate's own). ``shadow_snapshot``
    feeds Prometheus only; the windows' shadow figures are written by the shadow itself into the same
    ``windows`` (share one ``Windows`` between the two)."""

    def __init__(self, health: HealthRegistry, tables: TableHolder,
                 shadow_snapshot: Callable[[], dict[str, dict[str, int]]] | None = None, *,
                 windows: Windows | None = None) -> None:
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
        self.windows = windows if windows is not None else Windows()
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
        rejected = flow.target is None and not flow.attempt_errors
        ms = seconds * 1000
        for window in self.windows.counting:
            if flow.started >= window.opened:
                window.routes[route].add(status, backend, ms, rejected=rejected,
                                         upstream_errors=len(flow.attempt_errors), fallback=flow.fallback_used)
        if rejected:
            return
        for failed_backend, kind in flow.attempt_errors:
            self.upstream_errors.labels(route, failed_backend, kind).inc()
        if flow.fallback_used:
            self.fallbacks.labels(route, backend).inc()

    @property
    def routes(self) -> dict[str, RouteFigures]:
        """The base window's per-route figures (what plain ``GET /counters`` shows)."""
        return self.windows.base.routes

    def snapshot(self, window: Window | None = None) -> dict[str, Any]:
        """Per-route figures of ``window`` (default: the base window), with the requests in flight now and
        the shadow's figures of that window."""
        window = window if window is not None else self.windows.base
        return route_snapshot(window.routes, window.shadow, self.in_flight)

    def reset(self) -> None:
        """Starts the base window again, now: request and shadow figures alike (Prometheus keeps counting).
        Requests that started before the reset and finish after it are not counted in the new window."""
        self.windows.reset()


def route_snapshot(routes: Mapping[str, RouteFigures], shadow: Mapping[str, ShadowFigures],
                   in_flight: Mapping[str, int]) -> dict[str, Any]:
    """What ``GET /counters`` shows per route: one process's figures, or those summed over worker processes
    (``router/admin/figures.py``)."""
    out = {name: figures.as_dict() for name, figures in sorted(routes.items())}
    for name, count in in_flight.items():
        if count:  # absent means none (a reset window must not keep listing every route ever seen)
            out.setdefault(name, RouteFigures().as_dict())["in_flight"] = count
    for name, figures in sorted(shadow.items()):
        out.setdefault(name, RouteFigures().as_dict())["shadow"] = figures.as_dict()
    return out
