"""The anonymous shopper's session, which stays the monolith's until the accounts are extracted.

The monolith finds an anonymous visitor's cart through ``session["cart_id"]`` (its ``cart_for_request``). The
cart service has no sessions: it passes the shopper's ``Cookie`` header to the monolith's internal session
API (``{CART_MONOLITH_URL}/api/internal/session/cart/``, ``X-Service-Token`` = ``CART_SERVICE_TOKEN``), which
reads (``GET`` → ``{"cart_id": int | null}``) or sets (``PUT {"cart_id": N}``) that key in *that* session and
answers the ``Set-Cookie`` Django's session middleware would have sent the shopper: a new session's cookie,
or the removal of a cookie whose session is gone. :class:`CallerSession` keeps those and the answer carries
them, the last one per cookie name, as the monolith's single answer would.

Django also removes a session cookie that cannot be a session key (:func:`malformed_session_cookie`) from
every answer, whatever the URL; :class:`~extracted.cart.cookies.CookieContext` does that here.

A monolith that does not answer (or refuses the token) is a 503 ``session_unavailable``.
"""

from __future__ import annotations

import logging
from http.cookies import _unquote  # Django's parse_cookie uses it too
from typing import Final

import httpx

from extracted.cart.errors import SessionUnavailable
from extracted.cart.outbound import Upstream
from extracted.cart.upstreams import DEFAULT_MONOLITH_URL, MONOLITH_TIMEOUT_ENV, MONOLITH_URL_ENV

PATH: Final = "/api/internal/session/cart/"
TOKEN_ENV: Final = "CART_SERVICE_TOKEN"  # noqa: S105 - the variable's name, not a secret
# What Django answers to remove the session cookie (the monolith's SESSION_COOKIE_PATH and _SAMESITE).
DELETE_COOKIE: Final = '{name}=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax'

log = logging.getLogger("extracted.cart.sessions")


def parse_cookie(header: str) -> dict[str, str]:
    """Django's ``parse_cookie``: ``;``-separated ``name=value`` pairs, stripped, unquoted; the last one wins."""
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        key, sep, value = chunk.partition("=")
        if not sep:
            key, value = "", chunk
        key, value = key.strip(), value.strip()
        if key or value:
            cookies[key] = _unquote(value)
    return cookies


def valid_session_key(key: str) -> bool:
    """Whether Django would look the key up (8 characters at least; the monolith's session engine also wants at
    most 40, ASCII letters and digits only)."""
    return 8 <= len(key) <= 40 and key.isascii() and key.isalnum()


def malformed_session_cookie(cookie_header: str | None, name: str) -> bool:
    """The request carries a session cookie that cannot be a session key: Django answers its removal on any
    URL, whether or not anything looked at the session."""
    if not cookie_header:
        return False
    cookies = parse_cookie(cookie_header)
    return name in cookies and not valid_session_key(cookies[name])


def cookie_name(set_cookie: str) -> str:
    return set_cookie.split("=", 1)[0].strip()


class Sessions(Upstream):
    """The monolith's internal session API (one client, pooled connections, for the app's life)."""

    def __init__(self, base: str | None = None, *, seconds: float | None = None, cookie: str = "sessionid",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base, seconds, url_env=MONOLITH_URL_ENV, default_url=DEFAULT_MONOLITH_URL,
                         timeout_env=MONOLITH_TIMEOUT_ENV, transport=transport)
        self.cookie = cookie

    async def call(self, method: str, cookie_header: str | None, *, cart_id: int | None = None,
                   request_id: str | None = None) -> tuple[int | None, list[str]]:
        """The session's ``cart_id`` after the call, and the ``Set-Cookie`` values the monolith answered."""
        headers = self.service_headers(TOKEN_ENV, "find an anonymous visitor's cart", request_id)
        if cookie_header:
            headers["cookie"] = cookie_header
        url = self.base_url + PATH
        try:
            response = await self.client().request(method, url, headers=headers,
                                                   json={"cart_id": cart_id} if method == "PUT" else None)
        except httpx.HTTPError as exc:
            log.warning("session API: %s %s did not answer: %s: %s", method, url, type(exc).__name__, exc,
                        extra={"request_id": request_id})
            raise self._unavailable() from None
        value: object = None
        if response.status_code == 200:
            try:
                value = response.json()["cart_id"]
            except (ValueError, KeyError, TypeError):
                value = ""
        if response.status_code != 200 or not (value is None or (isinstance(value, int)
                                                                 and not isinstance(value, bool))):
            log.warning("session API: %s %s answered %s: %s", method, url, response.status_code,
                        response.text[:300], extra={"request_id": request_id})
            raise self._unavailable()
        return value, response.headers.get_list("set-cookie")

    @staticmethod
    def _unavailable() -> SessionUnavailable:
        return SessionUnavailable("Your session cannot be read right now; nothing was changed. Try again shortly.")


class CallerSession:
    """One anonymous caller's session for one request: read at most once, set when a cart is made for it, and
    the ``Set-Cookie`` values to answer (by cookie name, the last one kept)."""

    def __init__(self, sessions: Sessions, cookie_header: str | None, request_id: str | None) -> None:
        self.sessions = sessions
        self.cookie_header = cookie_header
        self.request_id = request_id
        self.set_cookies: dict[str, str] = {}
        self._loaded = False
        self._cart_id: int | None = None

    def _keep(self, values: list[str]) -> None:
        """The session cookie's (the monolith's answer to its internal call may carry others, a renewed CSRF
        cookie: those are answered by :class:`~extracted.cart.cookies.CookieContext` for this request)."""
        for value in values:
            if cookie_name(value) == self.sessions.cookie:
                self.set_cookies[cookie_name(value)] = value

    def _has_key(self) -> bool:
        """Whether there is a session to ask about: a session cookie that can be a key (else it is empty)."""
        key = parse_cookie(self.cookie_header).get(self.sessions.cookie) if self.cookie_header else None
        return key is not None and valid_session_key(key)

    async def cart_id(self) -> int | None:
        """``session["cart_id"]`` (read once; where the monolith's authentication reads the session, so that a
        stale cookie's removal is answered as the monolith answers it)."""
        if not self._loaded:
            if self._has_key():
                self._cart_id, cookies = await self.sessions.call("GET", self.cookie_header,
                                                                  request_id=self.request_id)
                self._keep(cookies)
            self._loaded = True
        return self._cart_id

    async def set_cart_id(self, cart_id: int) -> None:
        """``session["cart_id"] = cart_id``, creating the session if the caller has none."""
        stored, cookies = await self.sessions.call("PUT", self.cookie_header, cart_id=cart_id,
                                                   request_id=self.request_id)
        self._keep(cookies)
        self._cart_id, self._loaded = stored, True
