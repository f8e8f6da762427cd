"""Verifying the router's identity token in an extracted service. COPY this file into the service.

Services share no code with the router (or with each other), so each service keeps its own copy of these
few lines. The router (``router/identity.py``) sends ``X-Identity-Token``: an HS256 JWT signed with the
secret in ``ROUTER_IDENTITY_SECRET`` (the service gets the same secret from its own environment), with
claims ``sub`` (user id), ``staff`` (bool), ``iat``, ``exp`` (short-lived), ``iss`` = "strangler-router",
``aud`` = "strangler-services".

Usage in a request handler::

    caller = verify(request.headers.get("x-identity-token"), os.environ["ROUTER_IDENTITY_SECRET"])
    if caller is None: ...            # anonymous
    if not caller.is_staff: ...       # 403 for staff-only writes

A token that is present but invalid (bad signature, expired, wrong issuer or audience) raises
``InvalidIdentity``: answer 401, never treat it as anonymous.

A credential the monolith refused arrives as a *refused* token (no ``sub``; a ``refused`` claim with the
monolith's ``status``, JSON ``body`` and ``www_authenticate`` challenges): ``verify`` returns a ``Refusal``.
Answer it exactly (status, body, one ``WWW-Authenticate`` per challenge) at the point where the monolith's
framework authenticates: after the host, URL, ``format`` and ``Accept`` checks, before permissions, the
method (405) and the object (404), with the headers every answer of that URL carries (``Allow``, ``Vary``)::

    if isinstance(caller, Refusal): return refusal_response(caller)

(Down to the line ``# --- this service``, this file is the scaffold's ``strangler/scaffold/template/identity.py``,
imports apart. Under it, this service's side: :func:`authenticate` turns the token into the caller or into
the monolith's own answer, :func:`session_consulted` says when that answer varies by cookie,
:func:`authorise_service` admits the other services that call the internal endpoints by ``X-Service-Token``.)
"""

from __future__ import annotations

import hmac
import logging
import os
from dataclasses import dataclass
from typing import Any, Final

import jwt
from starlette.requests import Request

from extracted.catalog.exceptions import AuthenticationFailed, CredentialRefused, NotConfigured, ServiceTokenRefused

ISSUER = "strangler-router"
AUDIENCE = "strangler-services"
HEADER = "x-identity-token"


class InvalidIdentity(Exception):
    pass


@dataclass(frozen=True)
class Caller:
    user_id: int
    is_staff: bool


@dataclass(frozen=True)
class Refusal:
    """The monolith's refusal of the caller's credential, to be answered as it is."""

    status: int
    body: dict[str, Any]
    www_authenticate: tuple[str, ...]


def verify(token: str | None, secret: str, *, leeway: float = 5.0) -> Caller | Refusal | None:
    if not token:
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, leeway=leeway,
                            options={"require": ["exp", "iat", "iss", "aud"]})
        if "refused" in claims:
            return _refusal(claims["refused"])
        if "sub" not in claims:
            raise InvalidIdentity('Token is missing the "sub" claim')
        return Caller(user_id=int(claims["sub"]), is_staff=bool(claims.get("staff", False)))
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise InvalidIdentity(str(exc)) from exc


def _refusal(claim: Any) -> Refusal:
    if not isinstance(claim, dict):
        raise InvalidIdentity("refused: not an object")
    status, body, challenges = claim.get("status"), claim.get("body"), claim.get("www_authenticate", [])
    if not (isinstance(status, int) and 400 <= status <= 499 and isinstance(body, dict)
            and isinstance(challenges, list) and all(isinstance(c, str) for c in challenges)):
        raise InvalidIdentity("refused: expected {status: 4xx, body: {...}, www_authenticate: [...]}")
    return Refusal(status=status, body=body, www_authenticate=tuple(challenges))


# --- this service ---------------------------------------------------------------------------------------------------

SECRET_ENV: Final = "ROUTER_IDENTITY_SECRET"  # noqa: S105 - the variable's name, not a secret
SERVICE_TOKEN_ENV: Final = "CATALOG_SERVICE_TOKEN"  # noqa: S105 - the variable's name, not a secret
SERVICE_TOKEN_HEADER: Final = "x-service-token"  # noqa: S105 - a header name

log = logging.getLogger("extracted.catalog")


def authenticate(request: Request) -> Caller | None:
    """The caller from the router's ``X-Identity-Token``, None for anonymous. A token that is present but not
    valid is a 401 (never anonymous); a refused one is the monolith's own answer (:class:`CredentialRefused`)."""
    token = request.headers.get(HEADER)
    if not token:
        return None
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        log.error("an identity token arrived but %s is not set; refusing it", SECRET_ENV)
        raise AuthenticationFailed()
    try:
        caller = verify(token, secret)
    except InvalidIdentity as exc:
        log.info("identity token refused: %s", exc, extra={"request_id": request.scope.get("request_id")})
        raise AuthenticationFailed() from None
    if isinstance(caller, Refusal):  # the monolith refused the caller's credential: its answer, as it gave it
        raise CredentialRefused(caller.status, caller.body, caller.www_authenticate)
    return caller


def session_consulted(request: Request) -> bool:
    """Whether the monolith would have looked at the session for this caller (and so answered ``Vary: Cookie``):
    always, except when the ``Authorization`` header uses the ``Token`` scheme (token authentication answers
    first, with a user or a 401). Behind the router the service sees the caller's own ``Authorization``."""
    scheme = request.headers.get("authorization", "").split(None, 1)
    return not scheme or scheme[0].lower() != "token"


def authorise_service(request: Request) -> None:
    """The internal endpoints answer only callers holding ``CATALOG_SERVICE_TOKEN`` (the monolith's gateway, the
    other services)."""
    expected = os.environ.get(SERVICE_TOKEN_ENV, "")
    if not expected:
        # The monolith's internal endpoints say the same (legacy_monolith/internal.py).
        raise NotConfigured(f"{SERVICE_TOKEN_ENV} is not set; this internal endpoint is disabled until it is.")
    given = request.headers.get(SERVICE_TOKEN_HEADER)
    if not given:
        raise ServiceTokenRefused("Service token not provided (X-Service-Token).")
    # Constant time: how long a wrong token takes to refuse must not tell how much of it was right.
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ServiceTokenRefused("Invalid service token.")
