"""The outermost middleware: what every answer gets, whatever answered it.

:class:`RequestContext` gives each request its id (the caller's ``X-Request-Id`` when sane, else a new one;
returned on the answer and logged), adds the headers Django's middleware adds to every monolith answer,
writes one access log line per request, and turns anything unhandled into a JSON 500 carrying the request
id instead of a traceback.

It also answers what Django's session middleware adds to every answer of a request whose session cookie
cannot be a session key (``sessions.malformed_session_cookie``): the cookie's removal and ``Vary: Cookie``,
unless something answered a cookie of that name already (a new session, made for a new cart). The body limit's
413 is Django's before its session middleware: without them. Likewise for a CSRF cookie that cannot be one
(``csrf.malformed_cookie``): Django's CSRF middleware hands out a new one, on every answer given after it ran.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extracted.cart import csrf
from extracted.cart.responses import json_response
from extracted.cart.sessions import DELETE_COOKIE, malformed_session_cookie

# Set in the scope by whatever answers before Django's innermost middleware would have run (the request gate,
# the URL resolver's redirect): those answers lack X-Frame-Options, as the monolith's do.
EARLY: Final = "cart.early"
# Django's SecurityMiddleware and XFrameOptionsMiddleware add these to every monolith response; the answers
# Django gives before its innermost middleware (a body over the limit, a Host not allowed) lack the first.
STATIC_HEADERS: Final = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin")]
EARLY_HEADERS: Final = STATIC_HEADERS[1:]
_VALID_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = logging.getLogger("extracted.cart")
access_log = logging.getLogger("extracted.cart.access")


class RequestContext:
    """Request id (kept when sane, else created; returned), the monolith's static headers, one JSON access log
    line per request, and a JSON 500 with the request id instead of any traceback."""

    def __init__(self, app: ASGIApp, *, session_cookie: str = "sessionid") -> None:
        self.app = app
        self.session_cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        malformed = malformed_session_cookie(headers.get("cookie"), self.session_cookie)
        bad_csrf = csrf.malformed_cookie(headers.get("cookie"))
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
                message["headers"] = [*message.get("headers", ()), *static, rid_header]
                if bad_csrf and not scope.get(EARLY):
                    renewed = (b"set-cookie", csrf.new_cookie().encode())
                    message["headers"] = _vary_cookie([*message["headers"], renewed])
                if malformed and status != 413:
                    message["headers"] = self._remove_session_cookie(message["headers"])
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

    def _remove_session_cookie(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """Django's ``SessionMiddleware`` for an empty session whose cookie came: the cookie's removal, and
        ``Cookie`` added to ``Vary``."""
        prefix = self.session_cookie.encode() + b"="
        if not any(k.lower() == b"set-cookie" and v.startswith(prefix) for k, v in headers):
            headers = [*headers, (b"set-cookie", DELETE_COOKIE.format(name=self.session_cookie).encode())]
        return _vary_cookie(headers)


def _vary_cookie(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Django's ``patch_vary_headers(response, ("Cookie",))``."""
    vary = [v for k, v in headers if k.lower() == b"vary"]
    if not vary:
        return [*headers, (b"vary", b"Cookie")]
    if any(b"cookie" in (token.strip().lower() for token in v.split(b",")) for v in vary):
        return headers
    return [(k, v + b", Cookie" if k.lower() == b"vary" else v) for k, v in headers]
