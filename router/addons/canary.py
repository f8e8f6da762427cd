"""Canary: a sticky share of a route's traffic goes to the route's backend, the rest to the default.

Who is in the canary is decided by a hash of a stable key (the user id when the identity bridge knows it,
else the session cookie, else the client address) into 10,000 buckets; a route at p% takes buckets below
100*p. The bucket does not depend on p, so raising the share only adds people: whoever was moved at 10% is
still moved at 50%. The hash is salted with the backend's name, so the reads and writes routes of one
service put the same person on the same side.
"""

from __future__ import annotations

import hashlib

from router.control.state import TableHolder
from router.proxy.flow import Flow
from router.proxy.pipeline import Addon, Reply
from router.routing.headers import cookie_value

BUCKETS = 10_000


def bucket(salt: str, key: str) -> int:
    digest = hashlib.blake2b(f"{salt}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def in_canary(percent: float, salt: str, key: str) -> bool:
    return bucket(salt, key) < round(percent * BUCKETS / 100)


class Canary(Addon):
    def __init__(self, tables: TableHolder) -> None:
        self.tables = tables

    def sticky_key(self, flow: Flow) -> str:
        if flow.user_id is not None:
            return f"user:{flow.user_id}"
        identity = self.tables.current.identity
        session = cookie_value(flow.headers, identity.session_cookie if identity else "sessionid")
        if session:
            return f"session:{session}"
        return f"client:{flow.client}"

    async def request(self, flow: Flow) -> Reply | None:
        route = flow.match.route
        if route is None or route.canary is None:
            return None
        flow.in_canary = in_canary(route.canary, route.backend, self.sticky_key(flow))
        if not flow.in_canary:
            flow.backend = flow.default_backend
        return None
