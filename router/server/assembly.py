"""Assembling the router: the public app with its addons and the admin API, served on two sockets of one
uvicorn server (``launch.py`` runs it).

One process, one event loop, one table: the admin API swaps exactly the table the public side serves. The
admin side only answers on its own socket (by default on loopback), never on the public one.
"""

from __future__ import annotations

from pathlib import Path

from router.addons.canary import Canary
from router.addons.freeze import Freezes, WriteFreeze
from router.addons.identity import IdentityBridge, secret_problem
from router.addons.metrics import Metrics
from router.addons.shadow import ParityRecorder, ShadowMirror
from router.admin.api import AdminApp
from router.config import RouterConfig
from router.control.leases import Leases
from router.control.reload import Reloader
from router.control.state import TableHolder
from router.control.windows import Windows
from router.parity.store import ParityStore, store_path
from router.proxy.access_log import AccessLog
from router.proxy.app import Receive, RouterApp, Scope, Send
from router.proxy.pipeline import Addon
from router.upstream.interface import Upstream
from router.upstream.transports import DEFAULT_TRANSPORT, make_upstream


class Router:
    """The whole running router: public ASGI app, admin app, and what they share."""

    def __init__(self, config: RouterConfig, path: Path | None, *, transport: str = DEFAULT_TRANSPORT,
                 access_log: bool = True, upstream: Upstream | None = None) -> None:
        if upstream is None:  # a given one is for tests: an in-process fake instead of real backends
            upstream = make_upstream(transport)
        self.app = RouterApp(config, upstream=upstream, addons=[])
        tables = self.app.tables
        self.identity = IdentityBridge(tables)
        # One set of counting windows for the request figures and the shadow's: a gate's window has both.
        self.windows = Windows()
        self.leases = Leases(tables)
        self.shadow = ShadowMirror(tables, self.app.upstream, self.app.choose_target, windows=self.windows)
        # The parity store's path is read once, at startup (a reload changes rules, not where rows go).
        self.parity_store = (ParityStore(store_path(config.parity.store, path), max_rows=config.parity.max_rows,
                                         max_age_days=config.parity.max_age_days)
                             if config.parity.store else None)
        self.parity = ParityRecorder(self.parity_store)
        self.shadow.listeners.append(self.parity)
        self.metrics = Metrics(self.app.health, tables, self.shadow.snapshot, windows=self.windows)
        self.reloader = Reloader(tables, path, checks=[identity_problem]) if path is not None else None
        self.app.addons.extend(pipeline(self.leases, self.metrics, self.identity, tables, self.shadow))
        if access_log:
            log = AccessLog()
            self.app.addons.append(log)
            self.app.background.append(log)
        if self.parity_store is not None:
            self.app.background.append(self.parity_store)  # stops after the shadow has drained into it
        self.app.background.extend([self.identity, self.shadow, self.leases])
        if self.reloader is not None:
            self.app.background.append(self.reloader)
        self.admin = AdminApp(self.app.tables, self.metrics, token_env=config.admin.token_env,
                              reloader=self.reloader, shadow=self.shadow, parity=self.parity,
                              leases=self.leases)
        self.admin_port: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" and self.admin_port is not None:
            server = scope.get("server") or (None, None)
            if server[1] == self.admin_port:
                await self.admin(scope, receive, send)
                return
        await self.app(scope, receive, send)


def pipeline(leases: Freezes, metrics: Metrics, identity: IdentityBridge, tables: TableHolder,
             shadow: ShadowMirror) -> list[Addon]:
    """The addons in the order they run, in a single process and in each worker alike (the access log, when
    there is one, goes after them).

    Order matters: later addons see what earlier ones decided (identity before the canary, which is sticky by
    user). The freeze and the in-flight count (metrics' request hook) come first, before any addon that awaits
    (the identity bridge asks the monolith): a write either meets the freeze or is counted in flight at once,
    so a lease's "drained" can never miss a write still on its way. Metrics records in done(), after the
    others decided backend and status."""
    return [WriteFreeze(leases), metrics, identity, Canary(tables), shadow]


def identity_problem(config: RouterConfig) -> str | None:
    """A table that needs the identity bridge is only accepted when its secret is in the environment."""
    return secret_problem(config.identity) if config.identity is not None else None
