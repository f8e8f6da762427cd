"""The figures the admin API shows (``/counters``, ``/parity``, ``/metrics``, a lease's in-flight writes), of one
process or summed over the worker processes.

With workers, every request is counted in the worker that served it; the primary asks each worker for its
figures when the admin API is asked (``WorkerFigures``, one control-channel call per worker) and adds them up
here. Counters add up as they are. Latency percentiles do not, so the workers send their raw recent samples
(each worker's latest ``windows.RECENT`` per route and backend) and the percentiles are taken over their union.
Prometheus families are summed sample by sample (same name and labels), histogram buckets included; a
``_created`` sample keeps the earliest time.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from router.addons.metrics import Metrics
from router.addons.shadow import ShadowMirror
from router.control.windows import RouteFigures, ShadowFigures, Window

Payload = dict[str, Any] | list[Any] | bytes

# The families a worker counts (its requests and shadow comparisons); everything else is the primary's own
# (the table version, circuits as the workers reported them, reload refusals, workers and restarts).
SUMMED = frozenset({"router_requests", "router_request_duration_seconds", "router_upstream_errors",
                    "router_fallbacks", "router_shadow"})


@dataclass(frozen=True)
class WorkerFigures:
    """One worker's answer to its primary's ``figures`` call."""

    in_flight: dict[str, int]
    routes: dict[str, RouteFigures]  # of the window asked for (empty when the worker does not have it)
    shadow: dict[str, ShadowFigures]  # of that window
    shadow_total: dict[str, dict[str, int]]  # cumulative shadow outcomes
    families: list[Metric] = field(default_factory=list)  # its Prometheus families in SUMMED (when asked)


def worker_figures(metrics: Metrics, shadow: ShadowMirror, window: int, *, families: bool) -> WorkerFigures:
    found = metrics.windows.by_number(window)
    return WorkerFigures(
        in_flight={route: count for route, count in metrics.in_flight.items() if count},
        routes=dict(found.routes) if found is not None else {},
        shadow=dict(found.shadow) if found is not None else {},
        shadow_total=shadow.snapshot(),
        families=[family for family in metrics.registry.collect() if family.name in SUMMED] if families else [],
    )


@dataclass
class Figures:
    """What the admin API renders its answers from."""

    in_flight: Mapping[str, int]
    routes: Mapping[str, RouteFigures]
    shadow: Mapping[str, ShadowFigures]
    shadow_total: dict[str, dict[str, int]]
    registry: Collector  # for /metrics (generate_latest takes anything with collect())

    @classmethod
    def local(cls, metrics: Metrics, shadow: ShadowMirror | None, window: Window | None) -> Figures:
        """This process's own figures (a single-process router)."""
        window = window if window is not None else metrics.windows.base
        return cls(in_flight=metrics.in_flight, routes=window.routes, shadow=window.shadow,
                   shadow_total=shadow.snapshot() if shadow is not None else {}, registry=metrics.registry)

    @classmethod
    def summed(cls, primary: Collector, parts: list[WorkerFigures]) -> Figures:
        in_flight: dict[str, int] = defaultdict(int)
        shadow_total: dict[str, dict[str, int]] = {}
        for part in parts:
            for route, count in part.in_flight.items():
                in_flight[route] += count
            for route, outcomes in part.shadow_total.items():
                into = shadow_total.setdefault(route, {})
                for outcome, count in outcomes.items():
                    into[outcome] = into.get(outcome, 0) + count
        return cls(in_flight=dict(in_flight), routes=merge_routes(part.routes for part in parts),
                   shadow=merge_shadow(part.shadow for part in parts),
                   shadow_total=dict(sorted(shadow_total.items())),
                   registry=SummedCollector(primary, [part.families for part in parts]))


def merge_routes(parts: Iterable[Mapping[str, RouteFigures]]) -> dict[str, RouteFigures]:
    out: dict[str, RouteFigures] = defaultdict(RouteFigures)
    for routes in parts:
        for name, figures in routes.items():
            into = out[name]
            into.requests += figures.requests
            into.upstream_errors += figures.upstream_errors
            into.fallbacks += figures.fallbacks
            into.rejected += figures.rejected
            for status, count in figures.status.items():
                into.status[status] += count
            for backend, given in figures.backends.items():
                target = into.backends[backend]
                target.requests += given.requests
                target.errors += given.errors
                if target.recent_ms.maxlen is not None:  # the union of every worker's recent samples
                    target.recent_ms = deque(target.recent_ms)
                target.recent_ms.extend(given.recent_ms)
    return dict(out)


def merge_shadow(parts: Iterable[Mapping[str, ShadowFigures]]) -> dict[str, ShadowFigures]:
    out: dict[str, ShadowFigures] = defaultdict(ShadowFigures)
    for shadow in parts:
        for name, figures in shadow.items():
            into = out[name]
            for outcome, count in vars(figures).items():
                setattr(into, outcome, getattr(into, outcome) + count)
    return dict(out)


def sum_families(families: list[Metric]) -> Metric:
    first = families[0]
    out = Metric(first.name, first.documentation, first.type, first.unit)
    values: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
    for family in families:
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            known = values.get(key)
            if known is None:
                values[key] = sample
            elif sample.name.endswith("_created"):
                values[key] = known._replace(value=min(known.value, sample.value))
            else:
                values[key] = known._replace(value=known.value + sample.value)
    out.samples = list(values.values())
    return out


class SummedCollector(Collector):
    """The primary's registry with the workers' families of ``SUMMED`` added in."""

    def __init__(self, primary: Collector, parts: list[list[Metric]]) -> None:
        self.primary = primary
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        extra: dict[str, list[Metric]] = defaultdict(list)
        for families in self.parts:
            for family in families:
                extra[family.name].append(family)
        for family in self.primary.collect():
            if family.name in SUMMED:
                yield sum_families([family, *extra.pop(family.name, [])])
            else:
                yield family
        for families in extra.values():
            yield sum_families(families)


@dataclass(frozen=True)
class Deferred:
    """An answer made of figures (requests counted, in flight, compared): rendered once any change the request
    made has reached every worker, from the figures gathered then (``Figures``: this process's, or the sum of
    every worker's)."""

    window: Window | None
    render: Callable[[Figures], Payload]


class Cluster(Protocol):
    """The worker processes behind this admin API (``router/server/workers/supervisor.py``), when there are any."""

    async def settle(self) -> None:
        """Returns once every worker serves with the primary's current table, leases and windows."""

    async def figures(self, window: int) -> Figures:
        """The figures summed over every worker (``window``: 0 for the base window)."""

    def status(self) -> dict[str, Any]: ...
