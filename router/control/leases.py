"""The write freeze as a lease: held by whoever moves routes (the plan executor), renewed while it works,
lapsing by itself when the holder stops renewing.

A lease names routes whose writes are frozen (``freeze``: non-safe methods are answered 503 ``write_freeze``
with Retry-After by ``router/addons/freeze.py``) and routes that are only fenced (``fence``). Every route in
either list can be changed through the admin API only by a PATCH that carries the lease's id (header
``X-Router-Lease``): an executor that lost its lease (it hung past the TTL, or a restarted executor took the
lease over) can never switch a route any more.

Why a lease and not a timer: a freeze that lifts itself at a guessed deadline lets writes reach the old side
again while a slow cutover is still between its final sync and the switch: acknowledged there, and lost.
A lease lasts exactly as long as its holder keeps renewing it. When it lapses (the holder died), the router
first applies the lease's ``on_expiry`` route changes (validated like a PATCH when they were given, applied
through the same path), so writes go to the side that owns the data, and only then lifts the freeze.
Released (``DELETE /leases/{id}``), a lease lifts its freeze without ``on_expiry``: the holder finished.

Expiry is prompt: a timer on the event loop fires at the earliest deadline, every admin call about leases
or routes expires due leases first, and a write arriving on a frozen route after the deadline expires the
lease on the spot (that write still gets its 503: it was matched against the table from before
``on_expiry``). Should ``on_expiry`` no longer apply to the table in use (a reload removed a backend, say),
the lease keeps its freeze: refused writes are retried by clients, lost ones are not. The change is tried
again every second, and the lease can be released by hand.

Leases live in memory beside the table, not in the routes file: they survive reloads and rollbacks (which
neither check nor change them), and a router restart ends them (with the table the file says).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from router.control import edits
from router.control.state import TableHolder
from router.exceptions import AdminError

log = logging.getLogger("router.leases")

MAX_SECONDS = 60.0
MAX_HOLDER = 200
KEEP_ENDED = 1024  # ended leases remembered, so a late renewal learns "expired" rather than "unknown"
RETRY_FAILED_EXPIRY = 1.0  # seconds between attempts to apply an on_expiry that did not apply
HEADER = "x-router-lease"
ACQUIRE_KEYS = ("freeze", "fence", "seconds", "holder", "replaces", "on_expiry")
RENEW_KEYS = ("seconds", "on_expiry")

OnExpiry = dict[str, dict[str, Any]]


def when(unix: float) -> str:
    return datetime.fromtimestamp(unix, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(eq=False)
class Lease:
    id: str
    freeze: tuple[str, ...]
    fence: tuple[str, ...]
    holder: str
    seconds: float  # the TTL of the last acquire or renewal
    deadline: float  # time.monotonic(): expiry is decided on this (a wall-clock step does not move it)
    expires_at: float  # unix time of the same moment, as reported
    acquired_at: float
    on_expiry: OnExpiry = field(default_factory=dict)
    expiry_failed: list[str] | None = None  # on_expiry could not be applied at expiry: still frozen

    @property
    def routes(self) -> tuple[str, ...]:
        return self.freeze + self.fence

    def remaining(self, now: float | None = None) -> float:
        return self.deadline - (time.monotonic() if now is None else now)

    def as_dict(self, in_flight: Mapping[str, int]) -> dict[str, Any]:
        busy = {route: max(0, in_flight.get(route, 0)) for route in self.freeze}
        out: dict[str, Any] = {
            "lease": self.id, "freeze": list(self.freeze), "fence": list(self.fence), "holder": self.holder,
            "seconds": self.seconds, "acquired_at": self.acquired_at, "expires_at": self.expires_at,
            "remaining": round(max(0.0, self.remaining()), 3), "on_expiry": self.on_expiry,
            "in_flight": busy, "drained": not any(busy.values()),
        }
        if self.expiry_failed is not None:
            out["expiry_failed"] = self.expiry_failed
        return out


# -- request bodies ---------------------------------------------------------------------------------------------

def _object(body: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise AdminError(400, f"body must be a JSON object with some of: {', '.join(keys)}")
    unknown = sorted(set(body) - set(keys))
    if unknown:
        raise AdminError(400, f"{', '.join(unknown)}: unknown key{'s' if len(unknown) > 1 else ''} "
                              f"(known: {', '.join(keys)})")
    return body


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_SECONDS:
        raise AdminError(400, f"seconds: {value!r} is not a lease time in seconds (more than 0, at most "
                              f"{MAX_SECONDS:g})")
    return float(value)


def _names(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AdminError(400, f"{key}: {value!r} is not a list of route names")
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True)
class AcquireRequest:
    freeze: tuple[str, ...]
    fence: tuple[str, ...]
    seconds: float
    holder: str
    replaces: str | None
    on_expiry: OnExpiry | None


def acquire_request(body: Any) -> AcquireRequest:
    body = _object(body, ACQUIRE_KEYS)
    if "freeze" not in body:
        raise AdminError(400, "freeze: required (the routes whose writes the lease freezes; [] to only fence)")
    if "seconds" not in body:
        raise AdminError(400, f"seconds: required (the lease's time to live, at most {MAX_SECONDS:g})")
    freeze = _names("freeze", body["freeze"])
    fence = tuple(r for r in _names("fence", body.get("fence", [])) if r not in freeze)
    if not freeze and not fence:
        raise AdminError(400, "freeze: a lease needs at least one route (in freeze or fence)")
    holder = body.get("holder")
    if not isinstance(holder, str) or not holder.strip() or len(holder) > MAX_HOLDER:
        raise AdminError(400, f"holder: {holder!r} is not a text of 1 to {MAX_HOLDER} characters saying who "
                              "holds the lease (e.g. 'catalog cutover')")
    replaces = body.get("replaces")
    if replaces is not None and not isinstance(replaces, str):
        raise AdminError(400, f"replaces: {replaces!r} is not a lease id")
    return AcquireRequest(freeze=freeze, fence=fence, seconds=_seconds(body["seconds"]), holder=holder.strip(),
                          replaces=replaces, on_expiry=_on_expiry(body["on_expiry"]) if "on_expiry" in body else None)


def renew_request(body: Any) -> tuple[float, OnExpiry | None]:
    body = _object(body, RENEW_KEYS)
    if "seconds" not in body:
        raise AdminError(400, f"seconds: required (the lease's time to live, at most {MAX_SECONDS:g})")
    return _seconds(body["seconds"]), _on_expiry(body["on_expiry"]) if "on_expiry" in body else None


def _on_expiry(value: Any) -> OnExpiry:
    if not isinstance(value, dict):
        raise AdminError(400, f"on_expiry: {value!r} is not an object of route changes "
                              '({"route": {"backend": ...}}; {} for none)')
    return {str(route): edits.check(f"on_expiry.{route}", changes) for route, changes in value.items()}


# -- the leases -------------------------------------------------------------------------------------------------

class Leases:
    def __init__(self, tables: TableHolder) -> None:
        self.tables = tables
        self.live: dict[str, Lease] = {}
        # route -> the live lease freezing its writes: what the freeze addon reads on every write.
        self.frozen: dict[str, Lease] = {}
        self.held: dict[str, Lease] = {}  # route -> the live lease freezing or fencing it
        self.ended: OrderedDict[str, str] = OrderedDict()  # id -> why it is gone ("expired at ...")
        self._loop: asyncio.AbstractEventLoop | None = None  # set by start(): expiry runs on a timer there
        self._timer: asyncio.TimerHandle | None = None
        # Told of every change of the live leases (a primary pushes them to its workers,
        # router/server/workers/supervisor.py).
        self.listeners: list[Callable[[], None]] = []

    def _index(self) -> None:
        self.frozen = {route: lease for lease in self.live.values() for route in lease.freeze}
        self.held = {route: lease for lease in self.live.values() for route in lease.routes}
        self._schedule()
        for listener in self.listeners:
            listener()

    def _end(self, lease: Lease, why: str) -> None:
        self.live.pop(lease.id, None)
        self.ended[lease.id] = why
        while len(self.ended) > KEEP_ENDED:
            self.ended.popitem(last=False)
        self._index()

    def gone(self, lease_id: str) -> str:
        """Why ``lease_id`` is not live, for the 404/409 details."""
        why = self.ended.get(lease_id)
        return f"lease {lease_id} {why}" if why else f"no lease {lease_id} (unknown, or the router restarted)"

    def _check_on_expiry(self, on_expiry: OnExpiry) -> None:
        if on_expiry:
            try:
                edits.edited(self.tables.current, on_expiry, source="on_expiry")
            except AdminError as exc:
                raise AdminError(400, f"on_expiry: {exc.detail}", **exc.extra) from None

    # -- the admin API's operations (each expires due leases first) ---------------------------------------------

    def acquire(self, request: AcquireRequest) -> Lease:
        self.expire_due()
        routes = {r.name for r in self.tables.current.table.routes}
        unknown = [f"{key}: no route {name!r}" for key, names in (("freeze", request.freeze),
                                                                  ("fence", request.fence))
                   for name in names if name not in routes]
        if unknown:
            raise AdminError(400, f"{'; '.join(unknown)} (known: {', '.join(sorted(routes))})")
        replaced: Lease | None = None
        if request.replaces is not None:
            replaced = self.live.get(request.replaces)
            if replaced is None:
                raise AdminError(409, f"replaces: {self.gone(request.replaces)}; nothing to take over "
                                      "(acquire without 'replaces')")
        for route in request.freeze + request.fence:
            holder = self.held.get(route)
            if holder is not None and holder is not replaced:
                raise AdminError(409, f"route {route!r} is held by lease {holder.id} (holder {holder.holder!r}) "
                                      f"until {when(holder.expires_at)}",
                                 route=route, lease=holder.id, holder=holder.holder, expires_at=holder.expires_at)
        on_expiry = request.on_expiry or {}
        self._check_on_expiry(on_expiry)
        lease = Lease(id=secrets.token_hex(8), freeze=request.freeze, fence=request.fence, holder=request.holder,
                      seconds=request.seconds, deadline=0.0, expires_at=0.0, acquired_at=time.time(),
                      on_expiry=on_expiry)
        self._extend(lease, request.seconds)
        # One step, no await: the old lease's freeze ends as the new one's begins, no write slips between.
        if replaced is not None:
            self.live.pop(replaced.id, None)
            self.ended[replaced.id] = f"was replaced by {lease.id} at {when(time.time())}"
        self.live[lease.id] = lease
        self._index()
        log.warning(json.dumps({"event": "lease_acquired", "lease": lease.id, "holder": lease.holder,
                                "freeze": list(lease.freeze), "fence": list(lease.fence),
                                "seconds": lease.seconds, "replaces": replaced.id if replaced else None}))
        return lease

    @staticmethod
    def _extend(lease: Lease, seconds: float) -> None:
        lease.seconds = seconds
        lease.deadline = time.monotonic() + seconds
        lease.expires_at = time.time() + seconds

    def get(self, lease_id: str) -> Lease:
        self.expire_due()
        lease = self.live.get(lease_id)
        if lease is None:
            raise AdminError(404, self.gone(lease_id))
        return lease

    def renew(self, lease_id: str, seconds: float, on_expiry: OnExpiry | None) -> Lease:
        self.expire_due()
        lease = self.live.get(lease_id)
        if lease is None:
            raise AdminError(409, self.gone(lease_id))
        if lease.expiry_failed is not None:
            raise AdminError(409, f"lease {lease_id} expired at {when(lease.expires_at)} (its on_expiry could "
                                  f"not be applied: {'; '.join(lease.expiry_failed)}; it keeps the freeze until "
                                  "released)")
        if on_expiry is not None:
            self._check_on_expiry(on_expiry)
            lease.on_expiry = on_expiry
        self._extend(lease, seconds)
        self._index()
        return lease

    def release(self, lease_id: str) -> Lease:
        self.expire_due()
        lease = self.live.get(lease_id)
        if lease is None:
            raise AdminError(404, self.gone(lease_id))
        self._end(lease, f"was released at {when(time.time())}")
        log.warning(json.dumps({"event": "lease_released", "lease": lease.id, "holder": lease.holder}))
        return lease

    def fence(self, route: str, given: str | None) -> None:
        """A change of ``route`` with lease ``given`` (the X-Router-Lease header, or None): allowed, or 409."""
        self.expire_due()
        if given is not None and (given not in self.live or self.live[given].expiry_failed is not None):
            why = self.gone(given) if given not in self.live else \
                f"lease {given} expired at {when(self.live[given].expires_at)}"
            raise AdminError(409, f"{why}: nothing is changed under it")
        holder = self.held.get(route)
        if holder is None or holder.id == given:
            return
        raise AdminError(409, f"route {route!r} is held by lease {holder.id} (holder {holder.holder!r}) until "
                              f"{when(holder.expires_at)}; send X-Router-Lease",
                         route=route, lease=holder.id, holder=holder.holder, expires_at=holder.expires_at)

    # -- expiry -------------------------------------------------------------------------------------------------

    def expire_due(self, *, retry_failed: bool = False) -> None:
        """Expires every lease past its deadline. Leases whose on_expiry failed are tried again only when
        asked (by the expiry timer, once a second), not on every write that meets them."""
        now = time.monotonic()
        for lease in [lease for lease in self.live.values() if lease.deadline <= now]:
            if lease.expiry_failed is None or retry_failed:
                self.expire(lease)

    def expire(self, lease: Lease) -> bool:
        """Applies ``on_expiry`` (the routes to the side that owns the data), then drops the lease, which lifts
        its freeze. False when on_expiry could not be applied: the lease keeps freezing."""
        if lease.id not in self.live:
            return True
        if lease.on_expiry:
            try:
                version = edits.apply(self.tables, lease.on_expiry, origin=f"lease {lease.id} expired")
            except AdminError as exc:
                found = exc.extra.get("problems")
                problems = [str(p) for p in found] if isinstance(found, list) else [exc.detail]
                if lease.expiry_failed != problems:
                    log.error(json.dumps({"event": "lease_expiry_failed", "lease": lease.id, "holder": lease.holder,
                                          "problems": problems, "frozen": list(lease.freeze)}))
                lease.expiry_failed = problems
                return False
            applied: int | None = version.number
        else:
            applied = None
        self._end(lease, f"expired at {when(lease.expires_at)}")
        log.warning(json.dumps({"event": "lease_expired", "lease": lease.id, "holder": lease.holder,
                                "on_expiry": lease.on_expiry, "table_version": applied}))
        return True

    def _schedule(self) -> None:
        """One timer for the earliest deadline (a lease whose on_expiry failed: again in a second)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is None or not self.live:
            return
        now = time.monotonic()
        delay = min(RETRY_FAILED_EXPIRY if lease.expiry_failed is not None else lease.deadline - now
                    for lease in self.live.values())
        # loop.time() is monotonic too; a hair late rather than early, so the lease is due when it fires.
        self._timer = self._loop.call_later(max(0.0, delay) + 0.001, self._tick)

    def _tick(self) -> None:
        self._timer = None
        try:
            self.expire_due(retry_failed=True)
        except Exception:  # a bug here must not stop expiry for good
            log.exception("lease expiry failed")
        self._schedule()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._schedule()

    async def stop(self) -> None:
        self._loop = None
        self._schedule()


def retry_after(lease: Lease) -> int:
    """Seconds a frozen write should wait: the lease's time left, at least 1."""
    return max(1, math.ceil(lease.remaining()))
