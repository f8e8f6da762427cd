"""The callers' sessions, which stay the monolith's after the accounts move (docs/accounts_decision.md).

A Django session names its user by id and holds the user's session auth hash, an HMAC under the monolith's
``SECRET_KEY``, which this service does not have. So every session question goes to the monolith's internal
session API (``{ACCOUNTS_MONOLITH_URL}/api/internal/session/user/``, ``X-Service-Token`` =
``ACCOUNTS_SERVICE_TOKEN``), with the caller's own ``Cookie`` passed on:

- ``GET`` → ``{"user": id | null}``: whose session it is (Django's ``get_user()``: the auth hash checked
  against the monolith's copy of the user; a mismatch flushes the session);
- ``POST {"user": {...}}``: log the session in as Django's ``login()`` does for that user (the user as
  :func:`~.logins.user_answer` renders it: the auth hash is made from its password hash);
- ``DELETE``: Django's ``logout()``.

The monolith answers the ``Set-Cookie`` its own login, logout or session read would have sent the caller (a new
session key and CSRF token; a flushed session's removal); :class:`SessionAnswer` keeps them, the last one per
cookie name, and the service's answer carries them, as the monolith's single answer would. Its ``Vary: Cookie``
says the monolith looked at the session.

A monolith that does not answer, refuses the token or answers what this client does not understand is a 503
``session_unavailable``: nothing about the session is guessed.

| variable | default | |
| --- | --- | --- |
| ``ACCOUNTS_MONOLITH_URL`` | ``http://127.0.0.1:8000`` | the owner of sessions: the monolith itself |
| ``ACCOUNTS_MONOLITH_TIMEOUT`` | 5 | seconds |
| ``ACCOUNTS_SESSION_COOKIE`` | ``sessionid`` | the monolith's ``SESSION_COOKIE_NAME`` |
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from http.cookies import _unquote  # Django's parse_cookie uses it too
from typing import Any, Final

import httpx

from .errors import SessionUnavailable
from .outbound import Upstream

PATH: Final = "/api/internal/session/user/"
TOKEN_ENV: Final = "ACCOUNTS_SERVICE_TOKEN"  # noqa: S105 - the variable's name, not a secret
MONOLITH_URL_ENV: Final = "ACCOUNTS_MONOLITH_URL"
DEFAULT_MONOLITH_URL: Final = "http://127.0.0.1:8000"
MONOLITH_TIMEOUT_ENV: Final = "ACCOUNTS_MONOLITH_TIMEOUT"
SESSION_COOKIE_ENV: Final = "ACCOUNTS_SESSION_COOKIE"
DEFAULT_SESSION_COOKIE: Final = "sessionid"  # Django's SESSION_COOKIE_NAME
# What Django answers to remove the session cookie (the monolith's SESSION_COOKIE_PATH and _SAMESITE).
DELETE_COOKIE: Final = '{name}=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax'

log = logging.getLogger("extracted.accounts.sessions")


def session_cookie() -> str:
    return os.environ.get(SESSION_COOKIE_ENV, "").strip() or DEFAULT_SESSION_COOKIE


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


@dataclass
class SessionAnswer:
    """What the monolith said of the session: its user after the call, the ``Set-Cookie`` values to answer the
    caller (by cookie name, in the order the monolith sent them), and whether it looked at the session."""

    user: int | None
    set_cookies: dict[str, str] = field(default_factory=dict)
    vary_cookie: bool = False


class Sessions(Upstream):
    """The monolith's internal session API (one client, pooled connections, for the app's life)."""

    def __init__(self, base: str | None = None, *, seconds: float | None = None, cookie: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base, seconds, url_env=MONOLITH_URL_ENV, default_url=DEFAULT_MONOLITH_URL,
                         timeout_env=MONOLITH_TIMEOUT_ENV, transport=transport)
        self.cookie = cookie or session_cookie()

    def names_a_session(self, cookie_header: str | None) -> bool:
        """Whether the caller's session cookie can be a session key: only then is there anything to ask the
        monolith (one that cannot is no session to Django; :class:`~.cookies.CookieContext` answers its removal)."""
        key = parse_cookie(cookie_header).get(self.cookie) if cookie_header else None
        return key is not None and valid_session_key(key)

    async def whose(self, cookie_header: str | None, request_id: str | None = None) -> SessionAnswer:
        return await self._call("GET", cookie_header, None, request_id)

    async def log_in(self, cookie_header: str | None, user: dict[str, Any],
                     request_id: str | None = None) -> SessionAnswer:
        return await self._call("POST", cookie_header, {"user": user}, request_id)

    async def log_out(self, cookie_header: str | None, request_id: str | None = None) -> SessionAnswer:
        return await self._call("DELETE", cookie_header, None, request_id)

    async def _call(self, method: str, cookie_header: str | None, body: dict[str, Any] | None,
                    request_id: str | None) -> SessionAnswer:
        headers = self.service_headers(TOKEN_ENV, "read or open the callers' sessions", request_id)
        if cookie_header:
            headers["cookie"] = cookie_header
        url = self.base_url + PATH
        try:
            response = await self.client().request(method, url, headers=headers, json=body)
        except httpx.HTTPError as exc:
            log.warning("session API: %s %s did not answer: %s: %s", method, url, type(exc).__name__, exc,
                        extra={"request_id": request_id})
            raise _unavailable() from None
        user: object = ""
        if response.status_code == 200:
            try:
                user = response.json()["user"]
            except (ValueError, KeyError, TypeError):
                user = ""
        if response.status_code != 200 or not (user is None or (isinstance(user, int)
                                                                and not isinstance(user, bool))):
            log.warning("session API: %s %s answered %s: %s", method, url, response.status_code,
                        response.text[:300], extra={"request_id": request_id})
            raise _unavailable()
        answer = SessionAnswer(user=user if isinstance(user, int) else None)
        for value in response.headers.get_list("set-cookie"):
            answer.set_cookies.pop(cookie_name(value), None)  # the last one of a name, where the monolith put it
            answer.set_cookies[cookie_name(value)] = value
        vary = ",".join(response.headers.get_list("vary"))
        answer.vary_cookie = "cookie" in (token.strip().lower() for token in vary.split(","))
        return answer


def _unavailable() -> SessionUnavailable:
    return SessionUnavailable("Your session cannot be read right now; nothing was changed. Try again shortly.")
