"""The outermost middleware of the accounts service: the template's :class:`~.context.RequestContext`, plus what
the monolith's session and CSRF middleware add to every answer (the cart service has its own copy).

Django's session middleware answers a request whose session cookie cannot be a session key
(``sessions.malformed_session_cookie``) with the cookie's removal and ``Vary: Cookie``, unless something answered
a cookie of that name already (a login's new session, relayed from the monolith). The body limit's 413 is
Django's before its session middleware: without them. Likewise for a CSRF cookie that cannot be one
(``csrf.malformed_cookie``): Django's CSRF middleware hands out a new one on every answer given after it ran,
unless a login rotated it already (then that one, relayed from the monolith, is the only one).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Scope

from . import csrf
from .context import EARLY, RequestContext
from .sessions import DELETE_COOKIE, malformed_session_cookie, session_cookie


class CookieContext(RequestContext):
    """Request id, static headers, access log, JSON 500 (:class:`RequestContext`), and the session and CSRF
    cookies' answers."""

    def __init__(self, app: ASGIApp, *, session_cookie_name: str | None = None) -> None:
        super().__init__(app)
        self.session_cookie = session_cookie_name or session_cookie()

    def answer_headers(self, scope: Scope, status: int, headers: list[tuple[bytes, bytes]]
                       ) -> list[tuple[bytes, bytes]]:
        cookie = Headers(scope=scope).get("cookie")
        if csrf.malformed_cookie(cookie) and not scope.get(EARLY):
            if not _sets(headers, csrf.COOKIE):
                headers = [*headers, (b"set-cookie", csrf.new_cookie().encode())]
            headers = _vary_cookie(headers)
        if malformed_session_cookie(cookie, self.session_cookie) and status != 413:
            if not _sets(headers, self.session_cookie):
                headers = [*headers, (b"set-cookie", DELETE_COOKIE.format(name=self.session_cookie).encode())]
            headers = _vary_cookie(headers)
        return headers


def _sets(headers: list[tuple[bytes, bytes]], name: str) -> bool:
    prefix = name.encode() + b"="
    return any(k.lower() == b"set-cookie" and v.startswith(prefix) for k, v in headers)


def _vary_cookie(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Django's ``patch_vary_headers(response, ("Cookie",))``."""
    vary = [v for k, v in headers if k.lower() == b"vary"]
    if not vary:
        return [*headers, (b"vary", b"Cookie")]
    if any(b"cookie" in (token.strip().lower() for token in v.split(b",")) for v in vary):
        return headers
    return [(k, v + b", Cookie" if k.lower() == b"vary" else v) for k, v in headers]
