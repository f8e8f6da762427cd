"""The live configuration: swapped atomically, with a short history to roll back to.

Each request reads ``holder.current`` once when it starts and keeps that table to its end, so a swap
never changes the route of a request already in flight; swapping is one reference assignment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from router.config import RouterConfig


@dataclass(frozen=True)
class Version:
    number: int
    config: RouterConfig
    loaded_at: datetime
    origin: str  # "file", "sighup", "admin", "rollback", ...


@dataclass
class TableHolder:
    history_size: int = 20
    versions: list[Version] = field(default_factory=list)
    listeners: list[Callable[[RouterConfig], None]] = field(default_factory=list)
    _counter: int = 0

    @property
    def current(self) -> RouterConfig:
        return self.versions[-1].config

    @property
    def version(self) -> Version:
        return self.versions[-1]

    def swap(self, config: RouterConfig, origin: str) -> Version:
        self._counter += 1
        version = Version(self._counter, config, datetime.now(timezone.utc), origin)
        for listener in self.listeners:
            listener(config)  # before publishing: balancers and health must know new backends first
        self.versions.append(version)
        del self.versions[: -self.history_size]
        return version

    def adopt(self, version: Version) -> None:
        """Serves ``version`` as it is (number and origin included): a worker process taking the table its
        primary decided (``router/server/workers/channel.py``). Listeners first, as in ``swap``."""
        for listener in self.listeners:
            listener(version.config)
        self._counter = max(self._counter, version.number)
        self.versions.append(version)
        del self.versions[: -self.history_size]

    def rollback(self) -> Version | None:
        """Back to the version before the current one (as a new version, so history stays linear)."""
        if len(self.versions) < 2:
            return None
        previous = self.versions[-2].config
        return self.swap(previous, origin=f"rollback to {self.versions[-2].number}")
