"""The service's own token authentication: ``Authorization: Token <key>`` looked up in ``tokens``, as the
monolith's ``legacy_monolith.authentication.TokenAuthentication`` (DRF's, with keys that cannot exist refused
before the database sees them) answers it.

The accounts service is the identity authority once it owns the users and their tokens: the router's identity
bridge asks its ``/api/accounts/me/`` with the client's own credential and no identity token. So a request that
came without ``X-Identity-Token`` is authenticated here from its ``Authorization`` header; one that came with it
is the identity token's (the router's resolved truth: :func:`.callers.authenticate`), and the caller's own
``Authorization``, which the router passes on, only decides the answers DRF would give for its scheme.

DRF's messages, each a 401 with ``WWW-Authenticate: Token``:

- ``Token`` alone: ``Invalid token header. No credentials provided.``;
- more than one word after it: ``Invalid token header. Token string should not contain spaces.``;
- bytes that are not UTF-8: ``Invalid token header. Token string should not contain invalid characters.``;
- over 40 characters, or not ASCII letters and digits, or no such key: ``Invalid token.``;
- the key's user is not active: ``User inactive or deleted.``.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

from .exceptions import AuthenticationFailed

KEYWORD: Final = b"token"
KEY_MAX_LENGTH: Final = 40
INACTIVE: Final = "User inactive or deleted."


def uses_token_scheme(request: Request) -> bool:
    """Whether ``Authorization`` uses the ``Token`` scheme (DRF's TokenAuthentication then answers, whatever
    the session says)."""
    parts = _authorization(request).split()
    return bool(parts) and parts[0].lower() == KEYWORD


def token_key(request: Request) -> str | None:
    """The key of ``Authorization: Token <key>``, or None when the header uses another scheme or none (the
    caller is then anonymous to token authentication). A key that cannot exist is refused here, before any
    look-up (a NUL byte would make PostgreSQL fail the query: a 500, not a 401)."""
    parts = _authorization(request).split()  # ASCII whitespace, as bytes.split() in DRF
    if not parts or parts[0].lower() != KEYWORD:
        return None
    if len(parts) == 1:
        raise AuthenticationFailed("Invalid token header. No credentials provided.")
    if len(parts) > 2:
        raise AuthenticationFailed("Invalid token header. Token string should not contain spaces.")
    try:
        key = parts[1].decode()
    except UnicodeError:
        raise AuthenticationFailed("Invalid token header. Token string should not contain invalid characters."
                                   ) from None
    if len(key) > KEY_MAX_LENGTH or not (key.isascii() and key.isalnum()):
        raise AuthenticationFailed()
    return key


def _authorization(request: Request) -> bytes:
    # Starlette decodes headers as Latin-1, as WSGI does; DRF encodes them back the same way.
    return request.headers.get("authorization", "").encode("latin-1")
