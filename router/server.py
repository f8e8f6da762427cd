"""Assembling and running the router: the public app and the admin API on two sockets of one uvicorn server.

One process, one event loop, one table: the admin API swaps exactly the table the public side serves. The
admin side only answers on its own socket (by default on loopback), never on the public one.
"""

from __future__ import annotations

import gc
import socket
from pathlib import Path
from typing import Any

import uvicorn

from router.addons import AccessLog
from router.admin import AdminApp
from router.app import Receive, RouterApp, Scope, Send
from router.canary import Canary
from router.config import RouterConfig
from router.forwarding import DEFAULT_TRANSPORT, Upstream, make_upstream
from router.freeze import WriteFreeze
from router.http1 import HttpLimits, RouterHttpProtocol
from router.identity import IdentityBridge, secret_problem
from router.leases import Leases
from router.metrics import Metrics
from router.parity.store import ParityStore, store_path
from router.reload import Reloader
from router.shadow import ParityRecorder, ShadowMirror
from router.windows import Windows

GRACEFUL_SECONDS = 10  # requests in flight at a stop get this long to finish


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
        # Order matters: later addons see what earlier ones decided (identity before the canary, which is
        # sticky by user). The freeze and the in-flight count (metrics' request hook) come first, before
        # any addon that awaits (the identity bridge asks the monolith): a write either meets the freeze or
        # is counted in flight at once, so a lease's "drained" can never miss a write still on its way.
        # Metrics records in done(), after the others decided backend and status; the access log is last.
        self.app.addons.extend([WriteFreeze(self.leases), self.metrics, self.identity, Canary(tables),
                                self.shadow])
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


def identity_problem(config: RouterConfig) -> str | None:
    """A table that needs the identity bridge is only accepted when its secret is in the environment."""
    return secret_problem(config.identity) if config.identity is not None else None


def _bind(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"cannot listen on {listen}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def checked_limits(config: RouterConfig, limits: HttpLimits | None) -> HttpLimits:
    """What must hold before anything is started: the identity secret, and the HTTP limits from the
    environment (``HttpLimits.from_env()`` unless given); SystemExit naming the problem otherwise."""
    if problem := identity_problem(config):
        raise SystemExit(f"{config.source}: {problem}")
    if limits is not None:
        return limits
    try:
        return HttpLimits.from_env()
    except ValueError as exc:
        raise SystemExit(f"HTTP limits: {exc}") from None


def uvicorn_config(app: Any, limits: HttpLimits) -> uvicorn.Config:
    """How every router process runs uvicorn (a single process, the primary, each worker)."""
    return uvicorn.Config(
        # httptools, with the limits on request heads uvicorn has no setting for (router/http1.py); the idle
        # time between requests is uvicorn's own setting.
        app, http=RouterHttpProtocol.configured(limits), timeout_keep_alive=limits.keep_alive,
        loop="uvloop", lifespan="on", access_log=False, server_header=False,
        date_header=False, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SECONDS, backlog=2048,
        # The router is the edge: uvicorn's default would take a loopback client's X-Forwarded-For/-Proto as
        # its address and scheme, letting it forge what the router itself sets for the backends.
        proxy_headers=False,
    )


def tune_gc() -> None:
    """Everything built so far lives as long as the process: freeze it out of the collector's sight, and
    collect young objects less often. With the defaults, full collections under load (up to 40 ms each)
    were the router's p99 (see the README's benchmark)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def serve(config: RouterConfig, path: Path | None, *, listen: str | None = None,
          admin_listen: str | None = None, transport: str = DEFAULT_TRANSPORT, access_log: bool = True,
          limits: HttpLimits | None = None, workers: int = 1) -> None:
    """Runs the router until stopped. ``limits`` (how big and how slow a request head may be) default to
    ``HttpLimits.from_env()``: the built-in values unless ``ROUTER_MAX_HEADER_LINE`` and the like say
    otherwise. ``workers`` over 1: that many processes serve the public socket, this one runs the admin API
    and the control plane (``router/workers.py``); 1 is one process doing everything."""
    limits = checked_limits(config, limits)
    router = Router(config, path, transport=transport, access_log=access_log)
    public = _bind(listen or config.listen)
    admin = _bind(admin_listen or config.admin.listen)
    router.admin_port = admin.getsockname()[1]
    if workers > 1:
        from router.workers_primary import serve_primary

        serve_primary(router, public, admin, limits, workers=workers, transport=transport,
                      access_log=access_log)
        return
    server = uvicorn.Server(uvicorn_config(router, limits))
    tune_gc()
    server.run(sockets=[public, admin])
