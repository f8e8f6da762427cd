"""Shadow traffic: a route's requests also go, off the critical path, to a second backend.

The client is answered by the route's backend as usual; the core keeps a copy of the exchange (bodies up
to ``CAPTURE_LIMIT``) and, once the client has its answer, the request is queued for the shadow backend.
Each route has its own bounded queue (``shadow.queue``): when it is full the shadow request is dropped and
counted, so a slow shadow never slows or queues real traffic. Only the route's shadow methods (safe ones by
default) are mirrored unless the route sets ``shadow_writes``.

What happens to the two answers is the comparator's business: ``Comparator`` is the hook the comparison
engine plugs into. The default, ``RulesComparator``, is ``router.compare.compare()`` with the route's rules
(``shadow: {ignore, unordered, headers, ignore_headers, max_differences}``, the one rule model of
``router.parity.rules``, plus the file's ``parity.rules``). Listeners see every outcome; ``ParityRecorder``
is the one that writes the parity store and keeps the latest differences for the admin API (``GET /parity``).
Comparing runs on the event loop but after the client has its answer, and the store is written by its own
thread.

Every outcome is counted three ways: cumulatively (``figures``: Prometheus and ``GET /parity``), in the base
window that ``GET /counters`` shows and ``POST /counters/reset`` starts again, and in each numbered window the
mirrored request started in (``router/control/windows.py``). A job remembers its windows from the moment its request
started, so a comparison that finishes later still lands where the request belongs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from router.compare import Difference, Rules, compare
from router.control.state import TableHolder
from router.control.windows import ShadowFigures, Window, Windows
from router.exceptions import UpstreamError
from router.parity.store import ParityRow, ParityStore, RecentDifferences, stored_differences
from router.proxy.flow import Flow
from router.proxy.pipeline import Addon, Reply
from router.proxy.policy import upstream_url
from router.routing.table import Backend
from router.upstream.interface import Headers, Upstream, UpstreamRequest

__all__ = ["ShadowFigures", "ShadowMirror", "ParityRecorder"]

log = logging.getLogger("router.shadow")
CAPTURE_LIMIT = 1024 * 1024
SHADOW_HEADER = (b"x-shadow-request", b"1")


@dataclass(frozen=True)
class Exchange:
    status: int
    headers: Headers
    body: bytes
    elapsed_ms: float


@dataclass(frozen=True)
class ShadowJob:
    route: str
    backend: str
    method: str
    path: str
    query: bytes
    headers: Headers
    body: bytes | None
    primary: Exchange
    request_id: str
    rules: Rules | None = None  # the route's comparison rules (None: the engine's defaults)
    store: bool = True  # the route wants its comparisons stored
    started_at: float | None = None  # unix time the original request started
    windows: tuple[Window, ...] = ()  # the counting windows its request started in (base included)


@dataclass(frozen=True)
class Verdict:
    equal: bool
    differences: tuple[str, ...] = ()  # readable, one line each
    details: tuple[Difference, ...] = ()  # as the engine found them (path, expected, got, kind)


class Comparator(Protocol):
    def compare(self, job: ShadowJob, shadow: Exchange) -> Verdict: ...


class RulesComparator:
    """The comparison engine with the route's rules (``router.compare``)."""

    def compare(self, job: ShadowJob, shadow: Exchange) -> Verdict:
        found = compare(job.primary, shadow, job.rules)
        return Verdict(not found, tuple(str(d) for d in found), tuple(found))


class ParityRecorder:
    """A shadow listener: one ``ParityRow`` per outcome, to the store (if any, and if the route stores) and
    to the in-memory list of latest differences."""

    def __init__(self, store: ParityStore | None, recent: RecentDifferences | None = None) -> None:
        self.store = store
        self.recent = recent or RecentDifferences()

    def __call__(self, job: ShadowJob, shadow: Exchange | None, verdict: Verdict | None,
                 error: str | None = None) -> None:
        target = job.path + ("?" + job.query.decode("latin-1") if job.query else "")
        details: tuple[dict[str, Any], ...] = ()
        if shadow is None or verdict is None:
            outcome = "error"
        else:
            outcome = "equal" if verdict.equal else "different"
            details = stored_differences(verdict.details) if verdict.details else tuple(
                {"path": "?", "kind": "value", "expected": None, "got": text} for text in verdict.differences)
        row = ParityRow(at=time.time(), route=job.route, method=job.method, target=target,
                        request_id=job.request_id, primary_status=job.primary.status,
                        shadow_status=shadow.status if shadow is not None else None, outcome=outcome,
                        differences=details, primary_ms=round(job.primary.elapsed_ms, 3),
                        shadow_ms=round(shadow.elapsed_ms, 3) if shadow is not None else None,
                        error=error if shadow is None else None, request_started_at=job.started_at,
                        windows=tuple(window.number for window in job.windows if window.number))
        self.keep(row, job.store)

    def keep(self, row: ParityRow, store: bool) -> None:
        """Into the latest differences, and into the store when the route stores. A worker process overrides
        this to send the row to its primary, which keeps the one store (``router/server/workers/child.py``)."""
        self.recent.add(row)
        if self.store is not None and store:
            self.store.record(row)


@dataclass
class _RouteQueue:
    queue: asyncio.Queue[ShadowJob]
    worker: asyncio.Task[None]


class ShadowMirror(Addon):
    def __init__(self, tables: TableHolder, upstream: Upstream, choose_target: Callable[[Backend], str | None],
                 comparator: Comparator | None = None, *, workers_per_route: int = 2,
                 windows: Windows | None = None) -> None:
        self.tables = tables
        self.upstream = upstream
        self.choose_target = choose_target
        self.comparator: Comparator = comparator or RulesComparator()
        self.workers_per_route = workers_per_route
        # Each of N worker processes mirrors 1/N of a route's rate (the rate is the router's, not a worker's).
        self.rate_share = 1.0
        self.figures: dict[str, ShadowFigures] = defaultdict(ShadowFigures)  # cumulative
        self.windows = windows if windows is not None else Windows()
        self._buckets: dict[str, tuple[float, float]] = {}  # route -> (tokens, last refill)
        self._queues: dict[str, list[_RouteQueue]] = {}
        # callables(job, shadow_exchange_or_None, verdict_or_None[, error=...]): every outcome
        self.listeners: list[Any] = []
        self._stopping = False

    async def request(self, flow: Flow) -> Reply | None:
        route = flow.match.route
        if route is None or route.shadow is None or flow.upgrade:  # an upgrade has no answer to compare
            return None
        if flow.backend == route.shadow.backend or not (route.shadow_writes or flow.method in route.shadow.methods):
            return None
        if not self._admit(route.name, route.shadow.rate * self.rate_share):
            self._count(route.name, "sampled_out", self.windows.containing(flow.started))
            return None
        flow.capture_limit = CAPTURE_LIMIT
        return None

    def _admit(self, route: str, rate: float) -> bool:
        """A token bucket per route (burst of one second's worth): decided before any body is copied."""
        now = time.monotonic()
        burst = max(rate, 1.0)  # a rate under 1/s (a worker's share of a small one) still admits now and then
        tokens, last = self._buckets.get(route, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[route] = (tokens, now)
            return False
        self._buckets[route] = (tokens - 1, now)
        return True

    def _count(self, route: str, outcome: str, windows: tuple[Window, ...]) -> None:
        self.figures[route].add(outcome)
        for window in windows:
            window.shadow[route].add(outcome)

    def done(self, flow: Flow) -> None:
        route = flow.match.route
        if route is None or route.shadow is None or not flow.capture_limit or flow.status is None:
            return
        if flow.backend == route.shadow.backend:
            return  # the shadow backend answered the client itself (a canary split): nothing to mirror
        windows = self.windows.containing(flow.started)
        if flow.capture_overflow or flow.target is None:
            self._count(route.name, "dropped", windows)  # too big to compare, or the router answered itself
            return
        job = ShadowJob(
            route=route.name, backend=route.shadow.backend, method=flow.method, path=flow.path, query=flow.query,
            headers=[h for h in flow.headers] + [SHADOW_HEADER],
            body=bytes(flow.request_body) if flow.request_body is not None else None,
            primary=Exchange(flow.status, flow.response_headers, bytes(flow.response_body or b""),
                             flow.elapsed_ms()),
            request_id=flow.request_id, rules=route.shadow.rules, store=route.shadow.store,
            started_at=time.time() - (time.perf_counter() - flow.started), windows=windows,
        )
        queue = self._queue_for(route.name, route.shadow.queue)
        try:
            queue.put_nowait(job)
            self._count(route.name, "queued", windows)
        except asyncio.QueueFull:
            self._count(route.name, "dropped", windows)

    def _queue_for(self, route: str, size: int) -> asyncio.Queue[ShadowJob]:
        current = self._queues.get(route)
        if current is not None and current[0].queue.maxsize != size:
            # The route's queue size changed (reload or admin): retire the old queue and its workers.
            old = current[0].queue
            while not old.empty():
                job = old.get_nowait()
                self._count(job.route, "dropped", job.windows)
            for entry in current:
                entry.worker.cancel()
            current = None
        if current is None:
            queue: asyncio.Queue[ShadowJob] = asyncio.Queue(maxsize=size)
            current = [_RouteQueue(queue, asyncio.get_running_loop().create_task(self._work(queue)))
                       for _ in range(self.workers_per_route)]
            self._queues[route] = current
        return current[0].queue

    async def _work(self, queue: asyncio.Queue[ShadowJob]) -> None:
        while True:
            job = await queue.get()
            try:
                await self._run(job)
            except Exception:  # a broken comparator must not kill the worker
                log.exception("shadow comparison failed for %s %s", job.method, job.path)
            finally:
                queue.task_done()

    async def _run(self, job: ShadowJob) -> None:
        table = self.tables.current.table
        backend = table.backends.get(job.backend)
        target = self.choose_target(backend) if backend is not None else None
        if backend is None or target is None:
            self._count(job.route, "errors", job.windows)
            return
        url = upstream_url(target, job.path, job.query)
        started = time.perf_counter()
        try:
            response = await self.upstream.handle_request(UpstreamRequest(
                method=job.method, url=url, headers=job.headers, body=job.body,
                connect_timeout=backend.connect_timeout, read_timeout=backend.read_timeout))
            body = bytearray()
            try:
                async for chunk in response.iter_body():
                    body.extend(chunk)
                    if len(body) > CAPTURE_LIMIT:
                        self._count(job.route, "dropped", job.windows)
                        return
            finally:
                response.close()
        except UpstreamError as exc:
            self._count(job.route, "errors", job.windows)
            for listener in self.listeners:
                if isinstance(listener, ParityRecorder):
                    listener(job, None, None, error=str(exc) or type(exc).__name__)
                else:
                    listener(job, None, None)
            log.info("shadow %s %s to %s failed: %s", job.method, job.path, job.backend, exc)
            return
        shadow = Exchange(response.status, response.headers, bytes(body), (time.perf_counter() - started) * 1000)
        verdict = self.comparator.compare(job, shadow)
        self._count(job.route, "compared", job.windows)
        self._count(job.route, "equal" if verdict.equal else "different", job.windows)
        for listener in self.listeners:
            listener(job, shadow, verdict)

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {route: figures.as_dict() for route, figures in sorted(self.figures.items())}

    async def drain(self, timeout: float = 5.0) -> None:
        """Waits until every queued shadow request has been handled (tests, graceful shutdown)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(q.queue.join() for qs in self._queues.values()
                                                    for q in qs[:1])), timeout)

    def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.drain(timeout=2.0)
        for route_queues in self._queues.values():
            for entry in route_queues:
                entry.worker.cancel()
        for route_queues in self._queues.values():
            for entry in route_queues:
                with contextlib.suppress(asyncio.CancelledError):
                    await entry.worker
        self._queues.clear()
