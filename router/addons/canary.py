"""Canary: a sticky share of a route's traffic goes to the route's backend, the rest to the default.

Who is in the canary is decided by a hash of a stable key into 10,000 buckets: the first of the routes file's
``canary.key`` the request has (default: the user id when the identity bridge knows it, else the session
cookie, else the client address; a header such as a device id, or another cookie, can come before the
address for clients without a session); a route at p% takes buckets below
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

    def keys(self) -> list[str]:
        config = self.tables.current
        if config.canary.key is not None:
            return config.canary.key
        return ["user", f"cookie:{config.identity.session_cookie if config.identity else 'sessionid'}", "client"]

    def sticky_key(self, flow: Flow) -> str:
        for key in self.keys():
            kind, _, name = key.partition(":")
            if kind == "user" and flow.user_id is not None:
                return f"user:{flow.user_id}"
            if kind == "cookie":
                found = cookie_value(flow.headers, name)
                if found:
                    return f"session:{found}"   # as before the key was configurable: nobody changes side
            if kind == "header":
                value = flow.header(name.encode())
                if value:
                    return f"header:{name}:{value.decode('latin-1')}"
            if kind == "client":
                break
        return f"client:{flow.client}"

    async def request(self, flow: Flow) -> Reply | None:
        route = flow.match.route
        if route is None or route.canary is None:
            return None
        flow.in_canary = in_canary(route.canary, route.backend, self.sticky_key(flow))
        if not flow.in_canary:
            flow.backend = flow.default_backend
        return None
