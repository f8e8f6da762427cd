"""Which targets may receive traffic: passive health (a circuit breaker per target) and active checks.

Passive: consecutive failures (connect errors, timeouts, 502/503/504) open a target's circuit; after
``circuit_reset`` seconds one request is let through as a probe (half-open) and its outcome closes or
re-opens the circuit. Active: each backend with a ``health_interval`` is probed on its health path; a target
that fails is taken out until a check passes again. Health checks use httpx, the project's client
everywhere but the hot forwarding path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

import httpx

from router.proxy.background import BackgroundTask
from router.routing.table import Backend


class CircuitState(Enum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass
class Circuit:
    threshold: int
    reset_after: float
    clock: Callable[[], float] = time.monotonic
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def allows(self) -> bool:
        if self.state is CircuitState.CLOSED:
            return True
        if self.state is CircuitState.OPEN and self.clock() - self.opened_at >= self.reset_after:
            self.state = CircuitState.HALF_OPEN
            self.probing = False
        if self.state is CircuitState.HALF_OPEN and not self.probing:
            self.probing = True  # exactly one request probes a half-open circuit
            return True
        return False

    def succeeded(self) -> None:
        self.state, self.failures, self.probing = CircuitState.CLOSED, 0, False

    def failed(self) -> None:
        self.failures += 1
        if self.state is CircuitState.HALF_OPEN or self.failures >= self.threshold:
            self.state, self.opened_at, self.probing = CircuitState.OPEN, self.clock(), False


@dataclass
class TargetHealth:
    circuit: Circuit
    up: bool = True  # the last active check passed (or none has run)
    last_check_error: str | None = None


# A circuit as another process takes it: (backend, target, state, opened_at on time.monotonic(), which is
# CLOCK_MONOTONIC, one clock for every process of the machine).
CircuitDef = tuple[str, str, CircuitState, float]
# An active check's outcome as another process takes it: (backend, target, up, last error).
CheckDef = tuple[str, str, bool, str | None]


@dataclass
class HealthRegistry:
    """Health of every target of every backend; rebuilt (keeping known state) when the table changes.

    With several worker processes (``router/server/workers/``), ``on_circuit`` is told when a request's outcome
    opens or closes a target's circuit (the worker reports it, its primary tells the others: ``adopt_circuit``)
    and ``on_checks`` when an active check changes a target's ``up`` (the primary pushes it: ``adopt_checks``).
    """

    targets: dict[tuple[str, str], TargetHealth] = field(default_factory=dict)
    on_circuit: Callable[[CircuitDef], None] | None = None
    on_checks: Callable[[], None] | None = None

    def sync(self, backends: Mapping[str, Backend]) -> None:
        fresh: dict[tuple[str, str], TargetHealth] = {}
        for backend in backends.values():
            for target in backend.targets:
                key = (backend.name, target)
                known = self.targets.get(key)
                if known is not None and known.circuit.threshold == backend.circuit_failures:
                    known.circuit.reset_after = backend.circuit_reset
                    fresh[key] = known
                else:
                    fresh[key] = TargetHealth(Circuit(backend.circuit_failures, backend.circuit_reset))
        self.targets = fresh

    def usable(self, backend: Backend) -> list[str]:
        """Targets that are up and whose circuit lets a request through (this may claim a probe slot)."""
        out = []
        for target in backend.targets:
            health = self.targets.get((backend.name, target))
            if health is None or (health.up and health.circuit.allows()):
                out.append(target)
        return out

    def record(self, backend: str, target: str, ok: bool) -> None:
        health = self.targets.get((backend, target))
        if health is not None:
            circuit = health.circuit
            before = circuit.state
            circuit.succeeded() if ok else circuit.failed()
            if circuit.state is not before and self.on_circuit is not None:
                self.on_circuit((backend, target, circuit.state, circuit.opened_at))

    def circuits(self) -> tuple[CircuitDef, ...]:
        return tuple((backend, target, h.circuit.state, h.circuit.opened_at)
                     for (backend, target), h in self.targets.items())

    def adopt_circuit(self, found: CircuitDef) -> None:
        """Another process's request opened or closed this circuit: this process agrees. A half-open circuit
        is each process's own (each lets one probe through once ``reset_after`` has passed)."""
        backend, target, state, opened_at = found
        health = self.targets.get((backend, target))
        if health is None:
            return
        circuit = health.circuit
        if state is CircuitState.OPEN:
            circuit.state, circuit.probing = CircuitState.OPEN, False
            circuit.opened_at = max(circuit.opened_at, opened_at)
            circuit.failures = max(circuit.failures, circuit.threshold)
        elif state is CircuitState.CLOSED:
            circuit.succeeded()

    def checks(self) -> tuple[CheckDef, ...]:
        return tuple((backend, target, h.up, h.last_check_error) for (backend, target), h in self.targets.items())

    def adopt_checks(self, checks: tuple[CheckDef, ...]) -> None:
        for backend, target, up, error in checks:
            health = self.targets.get((backend, target))
            if health is not None:
                health.up, health.last_check_error = up, error

    def state(self, backend: str, target: str) -> CircuitState:
        health = self.targets.get((backend, target))
        return health.circuit.state if health else CircuitState.CLOSED


class ActiveChecker(BackgroundTask):
    """Background task probing every backend's targets on their health path."""

    def __init__(self, registry: HealthRegistry, backends: Callable[[], Mapping[str, Backend]]) -> None:
        self.registry = registry
        self._backends = backends
        self._last: dict[str, float] = {}

    async def check_once(self, client: httpx.AsyncClient, backend: Backend) -> None:
        for target in backend.targets:
            health = self.registry.targets.get((backend.name, target))
            if health is None:
                continue
            was = health.up
            try:
                response = await client.get(target + backend.health_path, timeout=backend.connect_timeout + 1)
                health.up = response.status_code < 500
                health.last_check_error = None if health.up else f"status {response.status_code}"
            except httpx.HTTPError as exc:
                health.up, health.last_check_error = False, f"{type(exc).__name__}: {exc}"
            if health.up != was and self.registry.on_checks is not None:
                self.registry.on_checks()

    async def _run(self) -> None:
        async with httpx.AsyncClient() as client:
            while True:
                now = time.monotonic()
                for backend in list(self._backends().values()):
                    interval = backend.health_interval
                    if interval and now - self._last.get(backend.name, 0.0) >= interval:
                        self._last[backend.name] = now
                        await self.check_once(client, backend)
                await asyncio.sleep(0.25)
