"""Who is calling: the caller the router's identity token names (:mod:`.identity` verifies it) or the
monolith's own refusal, whether the monolith would have consulted the session for that caller, and the other
services that call the internal endpoints with ``X-Service-Token``."""

from __future__ import annotations

import hmac
import logging
import os
from typing import Final

from starlette.requests import Request

from .exceptions import AuthenticationFailed, CredentialRefused, NotConfigured, ServiceTokenRefused
from .identity import HEADER, Caller, InvalidIdentity, Refusal, verify

SECRET_ENV: Final = "ROUTER_IDENTITY_SECRET"  # noqa: S105 - the variable's name, not a secret
# The keys still accepted during a rotation (:mod:`.identity`'s docstring): comma-separated, none by default.
PREVIOUS_SECRETS_ENV: Final = "ROUTER_IDENTITY_SECRET_PREVIOUS"  # noqa: S105 - the variable's name, not a secret
SERVICE_TOKEN_ENV: Final = "CART_SERVICE_TOKEN"  # noqa: S105 - the variable's name, not a secret
SERVICE_TOKEN_HEADER: Final = "x-service-token"  # noqa: S105 - a header name

log = logging.getLogger("extracted.cart")


def authenticate(request: Request) -> Caller | None:
    """The caller from the router's ``X-Identity-Token``, None for anonymous. A token that is present but not
    valid is a 401 (never anonymous); a refused one is the monolith's own answer (:class:`CredentialRefused`).
    Nothing else the client sends says who it is."""
    token = request.headers.get(HEADER)
    if not token:
        return None
    keys = identity_keys()
    if not keys:
        log.error("an identity token arrived but %s is not set; refusing it", SECRET_ENV)
        raise AuthenticationFailed()
    try:
        caller = verify(token, keys)
    except InvalidIdentity as exc:
        log.info("identity token refused: %s", exc, extra={"request_id": request.scope.get("request_id")})
        raise AuthenticationFailed() from None
    if isinstance(caller, Refusal):  # the monolith refused the caller's credential: its answer, as it gave it
        raise CredentialRefused(caller.status, caller.body, caller.www_authenticate)
    return caller


def identity_keys() -> list[str]:
    """The keys an identity token may be signed with: the current one (``ROUTER_IDENTITY_SECRET``) and, during a
    key rotation, the previous ones (``ROUTER_IDENTITY_SECRET_PREVIOUS``, comma-separated). Read on every request,
    as the environment is: none at all when the current key is not set (a previous key alone is a
    misconfiguration, not a rotation)."""
    current = os.environ.get(SECRET_ENV, "")
    if not current:
        return []
    previous = [key.strip() for key in os.environ.get(PREVIOUS_SECRETS_ENV, "").split(",")]
    return [current, *(key for key in previous if key and key != current)]


def session_consulted(request: Request) -> bool:
    """Whether the monolith would have looked at the session for this caller (and so answered ``Vary: Cookie``):
    always, except when the ``Authorization`` header uses the ``Token`` scheme (token authentication answers
    first, with a user or a 401). Behind the router the service sees the caller's own ``Authorization``."""
    scheme = request.headers.get("authorization", "").split(None, 1)
    return not scheme or scheme[0].lower() != "token"


def authorise_service(request: Request, env: str = SERVICE_TOKEN_ENV) -> None:
    """An internal endpoint answers only callers holding the token in ``env`` (default ``CART_SERVICE_TOKEN``:
    the monolith's gateway, the other services): unset, 503 ``not_configured`` (as the monolith's internal
    endpoints say); missing or wrong, 401 ``not_authenticated``."""
    expected = os.environ.get(env, "")
    if not expected:
        raise NotConfigured(f"{env} is not set; this internal endpoint is disabled until it is.")
    given = request.headers.get(SERVICE_TOKEN_HEADER)
    if not given:
        raise ServiceTokenRefused("Service token not provided (X-Service-Token).")
    # Constant time: how long a wrong token takes to refuse must not tell how much of it was right.
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ServiceTokenRefused("Invalid service token.")


def holds_service_token(request: Request, env: str = SERVICE_TOKEN_ENV) -> bool:
    """A permission rather than an authentication (the monolith's ``Has...ServiceToken`` classes):
    ``X-Service-Token`` equals the token in ``env``, never when either is empty; a wrong token is refused like
    no token at all."""
    expected = os.environ.get(env, "")
    given = request.headers.get(SERVICE_TOKEN_HEADER, "")
    # Constant time: how long a wrong token takes to refuse must not tell how much of it was right.
    return bool(expected and given) and hmac.compare_digest(given.encode(), expected.encode())
