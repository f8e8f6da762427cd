"""The CSRF check the monolith's DRF runs for callers its session authenticates (a logged-in browser).

DRF's ``SessionAuthentication`` enforces Django's CSRF protection on the caller it authenticates by session
cookie, for every method but GET, HEAD, OPTIONS and TRACE, at authentication time (before the method's 405):
403 ``{"detail": "CSRF Failed: <reason>"}``. The accounts service authenticates a caller by session cookie itself
when neither an identity token nor ``Authorization: Token`` came (the monolith's session API says whose session it
is: :mod:`.sessions`), and holds it to the same check. A port of ``django.middleware.csrf`` as the monolith
configures it (the ``csrftoken`` cookie, the ``X-CSRFToken`` header or a form's ``csrfmiddlewaretoken``, no trusted
origins, plain HTTP: the ``Referer`` is only checked over HTTPS); the cart service has its own copy.
"""

from __future__ import annotations

import hmac
import secrets
import string
import time
from email.utils import formatdate
from typing import Final

from starlette.requests import Request

from .exceptions import ApiError, PermissionDenied
from .parsers import FormData, parse_body
from .sessions import parse_cookie

SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
COOKIE: Final = "csrftoken"  # Django's CSRF_COOKIE_NAME
COOKIE_AGE: Final = 60 * 60 * 24 * 7 * 52  # Django's CSRF_COOKIE_AGE
HEADER: Final = "x-csrftoken"  # Django's CSRF_HEADER_NAME (HTTP_X_CSRFTOKEN)
HEADER_SHOWN: Final = "X-Csrftoken"  # how Django names that header in its messages
FORM_FIELD: Final = "csrfmiddlewaretoken"
SECRET_LENGTH: Final = 32
TOKEN_LENGTH: Final = 2 * SECRET_LENGTH
CHARS: Final = string.ascii_letters + string.digits
_FORMS: Final = ("application/x-www-form-urlencoded", "multipart/form-data")


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _format_problem(token: str) -> str | None:
    if len(token) not in (TOKEN_LENGTH, SECRET_LENGTH):
        return "has incorrect length"
    if any(ch not in CHARS for ch in token):
        return "has invalid characters"
    return None


def _unmask(token: str) -> str:
    mask, cipher = token[:SECRET_LENGTH], token[SECRET_LENGTH:]
    return "".join(CHARS[CHARS.index(c) - CHARS.index(m)] for c, m in zip(cipher, mask, strict=True))


def _form_token(request: Request, body: bytes) -> str:
    """``request.POST.get("csrfmiddlewaretoken", "")``: Django parses form bodies only."""
    if not _is_form(request):
        return ""
    try:
        data = parse_body(body, request.headers.get("content-type", ""))
    except ApiError:
        return ""
    value = data.get(FORM_FIELD, "") if isinstance(data, FormData) else ""
    return value if isinstance(value, str) else ""


def check(request: Request, body: bytes | None = None) -> None:
    """Raises ``Rejected`` with Django's reason when the request fails the check. ``body``: the request's body,
    for a POST's form field (read by the caller; None when there is none)."""
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
    if request.method == "POST" and body:
        token = _form_token(request, body)
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


async def enforce(request: Request) -> None:
    """DRF's ``enforce_csrf`` for a caller authenticated by session: 403 ``CSRF Failed: ...``."""
    if request.method in SAFE:
        return
    body = await request.body() if request.method == "POST" and _is_form(request) else None
    try:
        check(request, body)
    except Rejected as exc:
        raise PermissionDenied(f"CSRF Failed: {exc.reason}") from None


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower() in _FORMS


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
