"""The write freeze: while a live lease freezes a route, its writes are answered 503 with Retry-After.

A cutover freezes the moved endpoints' writes (and those of routes whose legacy code writes the same
tables), waits for the writes already on their way, runs a last sync and a verify, then switches the routes
to the service. Reads keep flowing. The freeze is a lease (``router/control/leases.py``) that its holder renews while it
works, so it lasts as long as the work, and lapses by itself if the holder dies.

A write that meets a lease past its deadline (the expiry task has not run yet) expires it here, which applies
the lease's ``on_expiry`` route changes; the write itself is still refused (it was matched against the table
from before those changes) with Retry-After 1, and its retry is routed by the new table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from router.control.leases import Lease, retry_after
from router.proxy.flow import Flow
from router.proxy.pipeline import Addon, Reply
from router.routing.table import SAFE_METHODS


class Freezes(Protocol):
    """Where the freeze reads the live leases: ``Leases`` itself, or a worker's copy of its primary's
    (``router/server/workers/child.py``), whose ``expire_due`` asks the primary to expire them."""

    @property
    def frozen(self) -> Mapping[str, Lease]: ...

    def expire_due(self) -> None: ...


class WriteFreeze(Addon):
    def __init__(self, leases: Freezes) -> None:
        self.leases = leases

    async def request(self, flow: Flow) -> Reply | None:
        frozen = self.leases.frozen
        if not frozen or flow.method in SAFE_METHODS:  # no lease at all: one dict check per request
            return None
        route = flow.match.route
        lease = frozen.get(route.name) if route is not None else None
        if lease is None or route is None:
            return None
        if lease.remaining() <= 0:
            self.leases.expire_due()
            seconds = 1
        else:
            seconds = retry_after(lease)
        flow.error = "write_freeze"
        return Reply(503, {
            "detail": f"writes to route {route.name!r} are paused for a moment while it moves; retry shortly",
            "code": "write_freeze", "route": route.name,
        }, [(b"retry-after", str(seconds).encode())])
