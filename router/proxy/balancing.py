"""Choosing one target of a backend: round-robin, or the one with the fewest requests in flight."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from router.routing.table import Backend


class Balancer:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.in_flight: dict[str, int] = dict.fromkeys(backend.targets, 0)
        self._cycle: Iterator[str] = itertools.cycle(backend.targets)

    def choose(self, usable: Sequence[str] | None = None) -> str | None:
        """A target among ``usable`` (default: all); None when there is none."""
        candidates = list(self.backend.targets) if usable is None else [t for t in usable if t in self.in_flight]
        if not candidates:
            return None
        if self.backend.balance == "least_busy":
            return min(candidates, key=lambda t: self.in_flight[t])
        for _ in range(len(self.backend.targets)):
            target = next(self._cycle)
            if target in candidates:
                return target
        return candidates[0]

    def acquire(self, target: str) -> None:
        self.in_flight[target] += 1

    def release(self, target: str) -> None:
        self.in_flight[target] -= 1
