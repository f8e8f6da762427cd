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
"""

from __future__ import annotations

from dataclasses import dataclass

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


def verify(token: str | None, secret: str, *, leeway: float = 5.0) -> Caller | None:
    if not token:
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, leeway=leeway,
                            options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        return Caller(user_id=int(claims["sub"]), is_staff=bool(claims.get("staff", False)))
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise InvalidIdentity(str(exc)) from exc
