"""Verifying the router's identity token in an extracted service: ``strangler scaffold`` copies this file into
every service it writes (the one place to improve it; a service written by hand copies it too).

Services share no code with the router (or with each other), so each service keeps its own copy of these
few lines. The router (``router/addons/identity.py``) sends ``X-Identity-Token``: an HS256 JWT signed with the
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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

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
