"""One request's journey through the router, shared by the forwarding core and the addons."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from router.routing.table import Match


@dataclass(slots=True)  # one per request: slots make it quicker to build and to read
class Flow:
    method: str
    path: str  # normalised
    query: bytes
    headers: list[tuple[bytes, bytes]]  # as they will be sent upstream (addons may edit)
    client: str
    scheme: str
    host: str
    request_id: str
    match: Match
    backend: str  # the backend chosen to serve it (a canary may change it)
    default_backend: str = ""  # the table's default (the monolith), where a canary sends the rest
    started: float = field(default_factory=time.perf_counter)
    status: int | None = None  # the status the client got
    target: str | None = None  # the upstream URL base that served it
    error: str | None = None  # why the router answered itself, if it did
    fallback_used: bool = False
    attempt_errors: list[tuple[str, str]] = field(default_factory=list)  # (backend, kind) of failed tries
    user_id: str | None = None  # resolved by the identity bridge
    is_staff: bool = False
    in_canary: bool | None = None  # None: the route has no canary
    # Set by an addon that needs the exchange afterwards (the shadow): the core copies request and
    # response bodies here up to ``capture_limit`` bytes, and says when they did not fit.
    capture_limit: int = 0
    request_body: bytearray | None = None
    response_body: bytearray | None = None
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    capture_overflow: bool = False
    bytes_in: int = 0
    # The client sent "Expect: 100-continue" with a body the router has not started reading yet.
    continue_pending: bool = False
    upgrade: bool = False  # a WebSocket upgrade: no body either way, nothing to mirror or compare
    bytes_out: int = 0

    @property
    def route_name(self) -> str:
        return self.match.route_name

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000
