"""Requests the HTTP protocol refuses before the application sees them (``protocol.py``: 400, 408, 414, 431,
505): counted and logged like every other answer the router gives.

The protocol cannot reach the metrics or the access log (it is built per connection by uvicorn, in whichever
process serves the socket), so it reports to ``listeners``: the router application of that process
registers itself while it runs (``RouterApp``, between lifespan startup and shutdown) and passes each refusal
through its addons' ``done`` as a request of route ``REFUSED_ROUTE`` that no backend served. A listener's
failure is logged in one line, never with a traceback, and never stops the refusal itself.

A refusal in the middle of a body the application is already reading is the application's to record (it
sees the client go): the protocol leaves the status it answered in the scope under ``SCOPE_KEY``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("router.http")

REFUSED_ROUTE = "(refused)"  # the route name refused requests are counted and logged under
NO_BACKEND = "(none)"
SCOPE_KEY = "router.refused"  # (status, detail) of a refusal that cut short a request the app was serving


@dataclass(frozen=True)
class RefusedRequest:
    status: int
    detail: str
    request_id: str
    client: str  # the client's address, without its port (as the access log writes it)
    method: str  # "" when the request line was not read that far
    target: str  # the request target as far as it was read, cut to 200 characters


listeners: list[Callable[[RefusedRequest], None]] = []


def report(refused: RefusedRequest) -> None:
    for listener in list(listeners):
        try:
            listener(refused)
        except Exception as exc:  # noqa: BLE001 - recording must never stop the answer
            log.error("recording a refused request failed: %s: %s", type(exc).__name__, exc)
