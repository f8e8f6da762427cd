"""``serve()``: binding the sockets, building the router and running it until stopped, as one process or as a
primary with worker processes (``router/server/workers/``)."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from router.config import RouterConfig
from router.http.limits import HttpLimits
from router.server.assembly import Router, identity_problem
from router.server.running import bind, tune_gc, uvicorn_config
from router.server.workers.primary import serve_primary
from router.upstream.transports import DEFAULT_TRANSPORT


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


def serve(config: RouterConfig, path: Path | None, *, listen: str | None = None,
          admin_listen: str | None = None, transport: str = DEFAULT_TRANSPORT, access_log: bool = True,
          limits: HttpLimits | None = None, workers: int = 1) -> None:
    """Runs the router until stopped. ``limits`` (how big and how slow a request head may be) default to
    ``HttpLimits.from_env()``: the built-in values unless ``ROUTER_MAX_HEADER_LINE`` and the like say
    otherwise. ``workers`` over 1: that many processes serve the public socket, this one runs the admin API
    and the control plane (``router/server/workers/supervisor.py``); 1 is one process doing everything."""
    limits = checked_limits(config, limits)
    router = Router(config, path, transport=transport, access_log=access_log)
    public = bind(listen or config.listen)
    admin = bind(admin_listen or config.admin.listen)
    router.admin_port = admin.getsockname()[1]
    if workers > 1:
        serve_primary(router, public, admin, limits, workers=workers, transport=transport,
                      access_log=access_log)
        return
    server = uvicorn.Server(uvicorn_config(router, limits))
    tune_gc()
    server.run(sockets=[public, admin])
