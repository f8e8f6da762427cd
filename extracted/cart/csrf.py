"""The CSRF check the monolith's DRF runs for callers its session authenticates (a logged-in browser).

DRF's ``SessionAuthentication`` enforces Django's CSRF protection on the caller it authenticates by session
cookie, for every method but GET, HEAD, OPTIONS and TRACE, at authentication time (before the permission check
and the method's 405): 403 ``{"detail": "CSRF Failed: <reason>"}``. The check reads a POST's form field through
DRF's ``request.POST``, which parses any POST's body with the monolith's parsers: once the cookie passed, a body
they refuse is their 415 or 400, from the check, whatever the header says. A caller authenticated by
``Authorization: Token`` is never checked: token authentication comes first in the monolith and answers alone
(a user, or its 401).

Behind the router a session caller arrives with the router's identity token (minted from the session cookie),
the cookie itself, and no ``Authorization: Token`` header: :func:`enforce_for` holds such a caller to the check
(:func:`.callers.session_consulted` is the test, the one ``Vary: Cookie`` follows). Nobody else is checked: an
anonymous caller (DRF's session authentication found no user, so it enforced nothing), a token caller, and the
internal URLs other services call with ``X-Service-Token`` (no identity, no session). A service that
authenticates session cookies itself calls :func:`enforce` for the callers it so found.

A port of ``django.middleware.csrf`` as the monolith configures it (the ``csrftoken`` cookie, the
``X-CSRFToken`` header or a form's ``csrfmiddlewaretoken``, no trusted origins; plain HTTP, no
``SECURE_PROXY_SSL_HEADER``: ``request.is_secure()`` is never true there, so an ``Origin`` must be
``http://<Host>`` and the ``Referer`` is never checked), with Django's reasons word for word. Django's CSRF
middleware also hands out a new cookie when the one sent cannot be a CSRF secret (:func:`malformed_cookie`,
:func:`new_cookie`: a service that answers that too does it around its app).
"""

from __future__ import annotations

import hmac
import secrets
import string
import time
from collections.abc import Callable
from email.utils import formatdate
from http.cookies import _unquote  # Django's parse_cookie uses it too
from typing import Any, Final

from starlette.requests import Request

from .callers import session_consulted
from .exceptions import PermissionDenied
from .identity import Caller
from .parsers import FormData, content_length, parse_body
from .settings import DATA_UPLOAD_MAX_MEMORY_SIZE

SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # Django's CSRF middleware's, TRACE included
COOKIE: Final = "csrftoken"  # Django's CSRF_COOKIE_NAME
COOKIE_AGE: Final = 60 * 60 * 24 * 7 * 52  # Django's CSRF_COOKIE_AGE
HEADER: Final = "x-csrftoken"  # Django's CSRF_HEADER_NAME (HTTP_X_CSRFTOKEN)
HEADER_SHOWN: Final = "X-Csrftoken"  # how Django names that header in its messages
FORM_FIELD: Final = "csrfmiddlewaretoken"
SECRET_LENGTH: Final = 32
TOKEN_LENGTH: Final = 2 * SECRET_LENGTH
CHARS: Final = string.ascii_letters + string.digits

# A POST's body as DRF's ``request.POST`` makes it for the check: parsed when the check asks for it.
PostData = Callable[[], Any]


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def _format_problem(token: str) -> str | None:
    if len(token) not in (TOKEN_LENGTH, SECRET_LENGTH):
        return "has incorrect length"
    if any(ch not in CHARS for ch in token):
        return "has invalid characters"
    return None


def _unmask(token: str) -> str:
    mask, cipher = token[:SECRET_LENGTH], token[SECRET_LENGTH:]
    return "".join(CHARS[CHARS.index(c) - CHARS.index(m)] for c, m in zip(cipher, mask, strict=True))


def _form_token(post: PostData) -> str:
    """``request.POST.get("csrfmiddlewaretoken", "")`` on DRF's request: the body parsed by the monolith's parsers
    (a form's fields; nothing for any other body), and a body they refuse raises their error (415, 400) from here,
    as DRF's ``request.POST`` does inside the check."""
    data = post()
    value = data.get(FORM_FIELD, "") if isinstance(data, FormData) else ""
    return value if isinstance(value, str) else ""


def check(request: Request, post: PostData | None = None) -> None:
    """Raises ``Rejected`` with Django's reason when the request fails the check. ``post``: for a POST, its body
    as :func:`post_data` reads it (None for other methods: Django reads no body then); parsed only once the cookie
    passed, as Django does, and a parser's refusal raised as it is."""
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "")
        if origin != f"http://{host}":
            raise Rejected(f"Origin checking failed - {origin} does not match any trusted origins.")
    cookies = parse_cookie(request.headers.get("cookie", ""))
    secret = cookies.get(COOKIE)
    if secret is None:
        raise Rejected("CSRF cookie not set.")
    problem = _format_problem(secret)
    if problem:
        raise Rejected(f"CSRF cookie {problem}.")
    if len(secret) == TOKEN_LENGTH:
        secret = _unmask(secret)
    token, source = "", "POST"
    if request.method == "POST" and post is not None:
        token = _form_token(post)
    if token == "":
        header = request.headers.get(HEADER)
        if header is None:
            raise Rejected("CSRF token missing.")
        token, source = header, f"the {HEADER_SHOWN!r} HTTP header"
    problem = _format_problem(token)
    if problem:
        raise Rejected(f"CSRF token from {source} {problem}.")
    if len(token) == TOKEN_LENGTH:
        token = _unmask(token)
    if not hmac.compare_digest(token.encode(), secret.encode()):
        raise Rejected(f"CSRF token from {source} incorrect.")


def by_session(request: Request, caller: Caller | None) -> bool:
    """Whether DRF's ``SessionAuthentication`` is what authenticated ``caller``: there is one (the router's
    identity token named a user), and no ``Authorization: Token`` said who it is (token authentication runs
    first and answers alone), so the router resolved the caller's session cookie."""
    return caller is not None and session_consulted(request)


async def enforce_for(request: Request, caller: Caller | None) -> None:
    """DRF's ``enforce_csrf`` where DRF runs it: on a caller its session authenticated (:func:`by_session`),
    right after authentication. Anyone else goes on unchecked."""
    if by_session(request, caller):
        await enforce(request)


async def enforce(request: Request) -> None:
    """DRF's ``enforce_csrf`` for a caller authenticated by session: 403 ``CSRF Failed: ...`` for a write (every
    method but GET, HEAD, OPTIONS and TRACE) that fails the check; a POST whose body the monolith's parsers refuse
    is their 415 or 400, once the cookie passed (DRF's ``request.POST`` parses it inside the check)."""
    if request.method in SAFE:
        return
    post = await post_data(request) if request.method == "POST" else None
    try:
        check(request, post)
    except Rejected as exc:
        raise PermissionDenied(f"CSRF Failed: {exc.reason}") from None


async def post_data(request: Request) -> PostData:
    """The request's body, read as :func:`.parsers.read_body` reads it (nothing without a Content-Length, nothing
    over Django's 1 MiB) but kept by the request (``request.body()``: the handler reads it again), and the parse
    DRF would make of it, for the check to call."""
    length = content_length(request.headers.get("content-length"))
    too_big = length > DATA_UPLOAD_MAX_MEMORY_SIZE
    body = await request.body() if length and not too_big else b""
    too_big = too_big or len(body) > DATA_UPLOAD_MAX_MEMORY_SIZE
    content_type = request.headers.get("content-type")
    return lambda: parse_body(body, content_type, length=length, too_big=too_big)


def malformed_cookie(cookie_header: str | None) -> bool:
    """The request carries a CSRF cookie that cannot be one: Django's CSRF middleware then hands out a new one on
    every answer it sees (everything but what Django answers before it: a body too large, a Host not allowed,
    the redirect to the slashed URL)."""
    if not cookie_header:
        return False
    value = parse_cookie(cookie_header).get(COOKIE)
    return value is not None and _format_problem(value) is not None


def new_cookie() -> str:
    """The ``Set-Cookie`` of a new CSRF secret, as Django writes it."""
    secret = "".join(secrets.choice(CHARS) for _ in range(SECRET_LENGTH))
    expires = formatdate(time.time() + COOKIE_AGE, usegmt=True)
    return f"{COOKIE}={secret}; expires={expires}; Max-Age={COOKIE_AGE}; Path=/; SameSite=Lax"
