"""The write freeze: while a route is frozen, its writes are answered 503 with Retry-After.

A cutover freezes the moved endpoints' writes for a few seconds, runs a last sync and a verify, then
switches them to the service. Reads keep flowing. The freeze is a deadline (``frozen_until``), not a flag,
so it lifts itself even if the process that set it dies.
"""

from __future__ import annotations

import math
import time

from router.addons import Addon, Reply
from router.flow import Flow
from router.table import SAFE_METHODS


class WriteFreeze(Addon):
    async def request(self, flow: Flow) -> Reply | None:
        route = flow.match.route
        if route is None or route.frozen_until is None or flow.method in SAFE_METHODS:
            return None
        remaining = route.frozen_until - time.time()
        if remaining <= 0:
            return None
        flow.error = "write_freeze"
        return Reply(503, {
            "detail": f"writes to route {route.name!r} are paused for a moment while it moves; retry shortly",
            "code": "write_freeze", "route": route.name,
        }, [(b"retry-after", str(max(1, math.ceil(remaining))).encode())])
