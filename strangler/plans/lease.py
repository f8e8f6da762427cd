"""The executor's side of the write freeze: a lease on the router, renewed while the executor works.

The router freezes the writes of the leased routes for as long as the lease lives, and refuses any change to
them made without it (a fencing token). The executor renews it from a heartbeat thread every third of its
TTL; if the executor dies or hangs, the lease lapses within one TTL and the router applies the lease's
``on_expiry`` changes (routes to the side that owns the data) before writes flow again. The freeze is
therefore as long as the work, never a guess, and a stale executor can never switch a route.

The lease id is written to the state database (sub-step ``lease`` of the step): an executor run again after a
crash takes the lease over (``replaces``) without a gap in the freeze.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from strangler import crashpoints
from strangler.plans.admin import RouterAdmin
from strangler.plans.exceptions import LeaseLost, RouterUnavailable, StepFailed
from strangler.plans.schema import RouterSpec
from strangler.plans.state import StateStore

Say = Callable[[str], None]
HELD_WAIT = 65.0  # the longest TTL the router grants, and a little more


class Budget:
    """The largest freeze the plan allows, counted from the moment the lease was taken."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def remaining(self) -> float:
        return self.seconds - self.elapsed

    def check(self, after: str) -> None:
        if self.remaining <= 0:
            raise FreezeOverrun(f"the freeze reached {self.elapsed:.1f}s after {after}, over freeze_seconds "
                                f"{self.seconds:g}")


class FreezeOverrun(StepFailed):
    """The step could not finish inside the largest freeze the plan allows."""


class Lease:
    def __init__(self, spec: RouterSpec, *, state: StateStore, plan: str, step: str, freeze: list[str],
                 fence: list[str], ttl: float, holder: str, say: Say) -> None:
        self.spec, self.state, self.plan, self.step = spec, state, plan, step
        self.freeze, self.fence, self.ttl, self.holder, self.say = freeze, fence, ttl, holder, say
        self.id: str | None = None
        self.on_expiry: dict[str, Any] | None = None
        self._admin = RouterAdmin(spec)       # the main thread's client
        self._beat = RouterAdmin(spec)        # the heartbeat's own (an httpx client per thread)
        self._lost: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- taking, keeping, giving back -------------------------------------------------------------------
    def acquire(self) -> dict[str, Any]:
        previous = self.state.substeps(self.plan, self.step).get("lease")
        deadline = time.monotonic() + HELD_WAIT
        while True:
            try:
                granted = self._admin.acquire_lease(self.freeze, self.fence, self.ttl, self.holder,
                                                    replaces=previous)
                break
            except RouterUnavailable as exc:
                if "409" not in str(exc):
                    raise
                if previous is not None:
                    previous = None  # the recorded lease is gone (it lapsed): nothing to take over
                    continue
                # Held by a lease this run does not know: an executor killed between taking its lease and
                # recording it, whose lease lapses within its TTL (at most a minute); or someone else's.
                if time.monotonic() > deadline:
                    raise
                self.say(f"lease: {exc}; waiting for it to lapse")
                time.sleep(0.5)
        self.id = str(granted["lease"])
        crashpoints.reached("lease.granted")  # granted by the router, not yet recorded here
        self.state.set_substep(self.plan, self.step, "lease", self.id)
        self._thread = threading.Thread(target=self._heartbeat, name="lease-heartbeat", daemon=True)
        self._thread.start()
        return granted

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                with self._lock:
                    if self.id is not None:
                        self._beat.renew_lease(self.id, self.ttl)
            except LeaseLost as exc:
                self._lost = str(exc)
                return
            except RouterUnavailable as exc:
                # The router did not answer this once; the lease lives until its TTL runs out. Keep trying.
                self.say(f"lease: renewal failed ({exc}); retrying")

    def check(self) -> None:
        """Raises :class:`LeaseLost` when the lease lapsed: nothing more may be changed under it."""
        if self._lost is not None:
            raise LeaseLost(f"the write freeze's lease was lost ({self._lost}); the router may already route "
                            "writes again: nothing more is changed by this run")

    def set_on_expiry(self, changes: dict[str, Any]) -> None:
        """Where writes go if this executor dies from now on (sent at once, checked by the router)."""
        self.check()
        assert self.id is not None
        with self._lock:
            self._admin.renew_lease(self.id, self.ttl, on_expiry=changes)
        self.on_expiry = changes

    def patch(self, route: str, **changes: Any) -> dict[str, Any]:
        """A route change fenced by this lease: the router refuses it once the lease is lost."""
        self.check()
        return self._admin.patch(route, lease=self.id, **changes)

    def drain(self, budget: Budget) -> None:
        """Waits until no write that passed before the freeze is still on its way to the old side."""
        assert self.id is not None
        while True:
            self.check()
            current = self._admin.lease(self.id)
            if current is None:
                raise LeaseLost(f"the router no longer knows lease {self.id}")
            if current.get("drained"):
                return
            if budget.remaining <= 0:
                busy = {r: n for r, n in (current.get("in_flight") or {}).items() if n}
                raise FreezeOverrun(f"writes still in flight after {budget.elapsed:.1f}s of freeze: "
                                    + ", ".join(f"{r} {n}" for r, n in busy.items()))
            time.sleep(0.05)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.id is not None:
            self._admin.release_lease(self.id)
            self.state.set_substep(self.plan, self.step, "lease", None)
            self.id = None
        self.close()

    def abandon(self) -> None:
        """Stops renewing without releasing: the router lets the lease lapse and applies ``on_expiry``."""
        self._stop.set()
        self.close()

    def close(self) -> None:
        self._admin.close()
        self._beat.close()
