"""How every router process runs: its sockets, its uvicorn server and its garbage collector (a single process,
the primary of ``--workers N`` and each of its workers alike)."""

from __future__ import annotations

import gc
import socket
from typing import Any

import uvicorn

from router.http.limits import HttpLimits
from router.http.protocol import RouterHttpProtocol

GRACEFUL_SECONDS = 10  # requests in flight at a stop get this long to finish


def bind(listen: str) -> socket.socket:
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


def uvicorn_config(app: Any, limits: HttpLimits) -> uvicorn.Config:
    """How every router process runs uvicorn (a single process, the primary, each worker)."""
    return uvicorn.Config(
        # httptools, with the limits on request heads uvicorn has no setting for (router/http/protocol.py); the idle
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
