"""The outermost middleware: what every answer gets, whatever answered it.

:class:`RequestContext` gives each request its id (the caller's ``X-Request-Id`` when sane, else a new one;
returned on the answer and logged), adds the headers Django's middleware adds to every monolith answer,
writes one access log line per request, and turns anything unhandled into a JSON 500 carrying the request
id instead of a traceback. A service whose monolith adds more to every answer (a session or CSRF cookie's
renewal) subclasses it and overrides :meth:`RequestContext.answer_headers`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .responses import json_response

# Set in the scope by whatever answers before Django's innermost middleware would have run (the request gate,
# the URL resolver's redirect): those answers lack X-Frame-Options, as the monolith's do.
EARLY: Final = "orders.early"
# Django's SecurityMiddleware and XFrameOptionsMiddleware add these to every monolith response; the answers
# Django gives before its innermost middleware (a body over the limit, a Host not allowed) lack the first.
STATIC_HEADERS: Final = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin")]
EARLY_HEADERS: Final = STATIC_HEADERS[1:]
_VALID_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = logging.getLogger("extracted.orders")
access_log = logging.getLogger("extracted.orders.access")


class RequestContext:
    """Request id (kept when sane, else created; returned), the monolith's static headers, one JSON access log
    line per request, and a JSON 500 with the request id instead of any traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        rid_header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                static = EARLY_HEADERS if scope.get(EARLY) else STATIC_HEADERS
                message["headers"] = self.answer_headers(scope, status,
                                                         [*message.get("headers", ()), *static, rid_header])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id, "path": scope.get("path")})
            if not response_started:
                body = {"detail": "Internal server error.", "code": "server_error", "request_id": request_id}
                await json_response(body, 500)(scope, receive, send_wrapper)
        finally:
            access_log.info("request", extra={
                "request_id": request_id, "method": scope.get("method"), "path": scope.get("path"),
                "status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2)})

    def answer_headers(self, scope: Scope, status: int, headers: list[tuple[bytes, bytes]]
                       ) -> list[tuple[bytes, bytes]]:
        """An answer's headers once the static ones and the request id are in: as they are here; a service's
        subclass adds what its monolith's middleware adds to every answer (``scope[EARLY]``: answered before
        Django's middleware ran)."""
        return headers
