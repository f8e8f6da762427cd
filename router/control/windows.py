"""Counting windows: the per-route figures of the requests that started after a given moment.

A gate must judge only what happened after it started: figures that a reset missed (shadow comparisons of an
earlier run, say) would let it pass on old answers, and a reset of shared figures by one plan's gate would
wipe another's. So each gate opens a window of its own (``POST /windows``) and reads only it
(``GET /counters?window=N``, ``GET /parity?window=N``).

A window counts a request when the request *started* at or after the window opened (``Flow.started``, the
same clock), and a shadow outcome when the mirrored request did (a comparison that finishes after the window
opened but of a request answered before it is not the window's). ``Windows.base`` is the window that plain
``GET /counters`` shows; ``POST /counters/reset`` replaces it with a new one opened now, shadow figures
included.

Bounds: at most ``MAX_WINDOWS`` numbered windows (the oldest goes first), and one not read for
``IDLE_SECONDS`` is dropped; a dropped window, or one of a previous router process, is unknown (404). Numbers
come from the wall clock in milliseconds (and always grow), so a restarted router never hands out the number
a gate of the previous process still holds.

Cost per request: one comparison per window open (the base is one), and the increments of each window that
counts the request. With no numbered window open that is what the router did before windows existed.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_WINDOWS = 32
IDLE_SECONDS = 3600.0
RECENT = 4096  # latencies kept per (route, backend) for exact recent percentiles


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


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

    def add(self, status: int, backend: str, ms: float, *, rejected: bool, upstream_errors: int,
            fallback: bool) -> None:
        self.requests += 1
        self.status[f"{status // 100}xx"] += 1
        if rejected:
            # The router answered without asking any backend (a refused request, a write freeze): that
            # says nothing about the backends' health, so it stays out of their error rates.
            self.rejected += 1
            return
        per_backend = self.backends[backend]
        per_backend.requests += 1
        per_backend.recent_ms.append(ms)
        if status >= 500:
            per_backend.errors += 1
        self.upstream_errors += upstream_errors
        if fallback:
            self.fallbacks += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "status": dict(sorted(self.status.items())),
            "upstream_errors": self.upstream_errors,
            "fallbacks": self.fallbacks,
            "rejected": self.rejected,
            "backends": {name: figures.as_dict() for name, figures in sorted(self.backends.items())},
        }


@dataclass
class ShadowFigures:
    sampled_out: int = 0  # over the route's rate: not mirrored at all
    queued: int = 0
    dropped: int = 0  # queue full, or the exchange too large to keep
    compared: int = 0
    equal: int = 0
    different: int = 0
    errors: int = 0  # the shadow backend failed to answer

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(eq=False)
class Window:
    number: int  # 0: the base window (GET /counters)
    opened_at: float  # unix time, as reported
    opened: float  # time.perf_counter() when it opened: compared with Flow.started
    used: float = field(default_factory=time.monotonic)  # last read (idle windows are dropped)
    routes: dict[str, RouteFigures] = field(default_factory=lambda: defaultdict(RouteFigures))
    shadow: dict[str, ShadowFigures] = field(default_factory=lambda: defaultdict(ShadowFigures))

    @classmethod
    def now(cls, number: int) -> Window:
        return cls(number=number, opened_at=time.time(), opened=time.perf_counter())


# What a window is, for another process (number, opened_at, opened): a worker counts into windows of the same
# numbers and opening moments. ``opened`` is time.perf_counter(), CLOCK_MONOTONIC on Linux: one clock for
# every process of the machine, so a worker compares its requests' start with the primary's moment.
WindowDef = tuple[int, float, float]


class Windows:
    def __init__(self, *, limit: int = MAX_WINDOWS, idle_seconds: float = IDLE_SECONDS) -> None:
        self.limit = limit
        self.idle_seconds = idle_seconds
        # The base counts everything from the start (a request that began before the router was built
        # cannot exist), until the first reset.
        self.base = Window(number=0, opened_at=time.time(), opened=float("-inf"))
        self.numbered: dict[int, Window] = {}  # in opening order
        # What a request is counted into (base first): rebuilt on every change, read on every request.
        self.counting: tuple[Window, ...] = (self.base,)
        self._last = 0
        self.listeners: list[Callable[[], None]] = []  # told of every change of the set (workers' primary)

    def _rebuild(self) -> None:
        self.counting = (self.base, *self.numbered.values())
        for listener in self.listeners:
            listener()

    def definitions(self) -> tuple[WindowDef, tuple[WindowDef, ...]]:
        """The base window and the numbered ones, as ``adopt`` takes them in another process."""
        return ((0, self.base.opened_at, self.base.opened),
                tuple((w.number, w.opened_at, w.opened) for w in self.numbered.values()))

    def adopt(self, base: WindowDef, numbered: Sequence[WindowDef]) -> None:
        """Counts into exactly these windows from now on (a worker following its primary): windows it has
        already keep their figures, new ones start empty, the others are dropped."""
        if self.base.opened != base[2]:
            self.base = Window(number=0, opened_at=base[1], opened=base[2])
        self.numbered = {number: self.numbered.get(number) or Window(number=number, opened_at=at, opened=opened)
                         for number, at, opened in numbered}
        self._rebuild()

    def by_number(self, number: int) -> Window | None:
        """The window (0: the base) without marking it read or pruning: a worker's figures for its primary."""
        return self.base if number == 0 else self.numbered.get(number)

    def reset(self) -> Window:
        """``POST /counters/reset``: the base window starts again, now (requests and shadow figures)."""
        self.base = Window.now(0)
        self._rebuild()
        return self.base

    def open(self) -> Window:
        self.prune()
        self._last = max(self._last + 1, int(time.time() * 1000))
        window = Window.now(self._last)
        self.numbered[window.number] = window
        while len(self.numbered) > self.limit:
            del self.numbered[next(iter(self.numbered))]
        self._rebuild()
        return window

    def close(self, number: int) -> bool:
        found = self.numbered.pop(number, None) is not None
        self._rebuild()
        return found

    def get(self, number: int) -> Window | None:
        """The window, marked as read now; None when it is unknown (dropped, or of another process)."""
        self.prune()
        window = self.numbered.get(number)
        if window is not None:
            window.used = time.monotonic()
        return window

    def containing(self, started: float) -> tuple[Window, ...]:
        """The windows a request that started at ``started`` (perf_counter) is counted in."""
        return tuple(window for window in self.counting if started >= window.opened)

    def prune(self) -> None:
        cutoff = time.monotonic() - self.idle_seconds
        idle = [number for number, window in self.numbered.items() if window.used < cutoff]
        for number in idle:
            del self.numbered[number]
        if idle:
            self._rebuild()
