"""Verifying the router's identity token in an extracted service: ``strangler scaffold`` copies this file into
every service it writes (the one place to improve it; a service written by hand copies it too).

Services share no code with the router (or with each other), so each service keeps its own copy of these
few lines. The router (``router/addons/identity.py``) sends ``X-Identity-Token``: an HS256 JWT signed with the
secret in ``ROUTER_IDENTITY_SECRET`` (the service gets the same secret from its own environment), with
claims ``sub`` (user id), ``staff`` (bool), ``iat``, ``exp`` (short-lived), ``iss`` = "strangler-router",
``aud`` = "strangler-services", and in its header ``kid``: the key's id (:func:`key_id`, the first 16 hex
digits of the secret's SHA-256; a name for the key, never the key).

Usage in a request handler (``callers.py`` does this with the keys of :func:`callers.identity_keys`)::

    caller = verify(request.headers.get("x-identity-token"), [current, *previous])
    if caller is None: ...            # anonymous
    if not caller.is_staff: ...       # 403 for staff-only writes

A token that is present but invalid (bad signature, a key that is not one of ``secrets``, a ``kid`` naming
no key given, expired, wrong issuer or audience, another algorithm than HS256) raises ``InvalidIdentity``:
answer 401, never treat it as anonymous.

Several keys are valid at once during a key rotation: a token is checked with the key its ``kid`` names, and a
token without ``kid`` (minted before the router named its keys) with each key in turn. Rotating the key
without a failed request:

1. give every service the new key as current and the old one as previous (``ROUTER_IDENTITY_SECRET`` = new,
   ``ROUTER_IDENTITY_SECRET_PREVIOUS`` = old; several previous keys comma-separated) and restart them one
   at a time: each then accepts tokens of both keys;
2. switch the router to the new key: its routes file's ``identity.secret_env`` names the environment variable
   it signs with; point it at the variable holding the new key and reload the file (``POST /reload`` of the
   admin API, SIGHUP or the file watcher): the router signs with the new key from then on, without a restart;
3. once the tokens minted with the old key have expired (the router's ``identity.token_ttl``, plus the
   verifier's leeway), drop ``ROUTER_IDENTITY_SECRET_PREVIOUS`` from the services (restart them one at a
   time again).

A credential the monolith refused arrives as a *refused* token (no ``sub``; a ``refused`` claim with the
monolith's ``status``, JSON ``body`` and ``www_authenticate`` challenges): ``verify`` returns a ``Refusal``.
Answer it exactly (status, body, one ``WWW-Authenticate`` per challenge) at the point where the monolith's
framework authenticates: after the host, URL, ``format`` and ``Accept`` checks, before permissions, the
method (405) and the object (404), with the headers every answer of that URL carries (``Allow``, ``Vary``)::

    if isinstance(caller, Refusal): return refusal_response(caller)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

ISSUER = "strangler-router"
AUDIENCE = "strangler-services"
HEADER = "x-identity-token"
ALGORITHM = "HS256"  # the only one accepted: "none", HS512 or RS256 in a token's header is refused


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


def key_id(secret: str) -> str:
    """The ``kid`` naming a key in a token's header: the router computes it the same way. A fingerprint, not the
    key: 64 bits of its SHA-256 tell which key it is and nothing that helps forge a token."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def verify(token: str | None, secret: str | Sequence[str], *, leeway: float = 5.0) -> Caller | Refusal | None:
    """The caller a token names (None: no token, anonymous), checked with ``secret``: one key, or the keys valid
    during a rotation (current first)."""
    if not token:
        return None
    try:
        claims = _claims(token, _keys_for(token, [secret] if isinstance(secret, str) else list(secret)), leeway)
        if "refused" in claims:
            return _refusal(claims["refused"])
        if "sub" not in claims:
            raise InvalidIdentity('Token is missing the "sub" claim')
        return Caller(user_id=int(claims["sub"]), is_staff=bool(claims.get("staff", False)))
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise InvalidIdentity(str(exc)) from exc


def _keys_for(token: str, secrets: list[str]) -> list[str]:
    """The keys to check a token with: the one its ``kid`` names, else (a token from before ``kid``) them all."""
    keys = [s for s in secrets if s]
    if not keys:
        raise InvalidIdentity("no key to verify the token with")
    kid = jwt.get_unverified_header(token).get("kid")
    if kid is None:
        return keys
    if not isinstance(kid, str):
        raise InvalidIdentity("kid: not a string")  # a recent PyJWT refuses it itself, an older one not
    named = [k for k in keys if hmac.compare_digest(key_id(k), kid)]
    if not named:  # signed with a key this service was not given (not yet, or no longer): never anonymous
        raise InvalidIdentity(f"kid {kid[:32]!r} names none of this service's {len(keys)} key(s)")
    return named


def _claims(token: str, keys: list[str], leeway: float) -> dict[str, Any]:
    # Only a signature that does not match moves on to the next key: an expired token or a wrong audience,
    # once its signature holds, is refused as it is (PyJWT checks the signature before the claims).
    for key in keys[:-1]:
        try:
            return _decode(token, key, leeway)
        except jwt.InvalidSignatureError:
            continue
    return _decode(token, keys[-1], leeway)


def _decode(token: str, key: str, leeway: float) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                                        leeway=leeway, options={"require": ["exp", "iat", "iss", "aud"]})
    return claims


def _refusal(claim: Any) -> Refusal:
    if not isinstance(claim, dict):
        raise InvalidIdentity("refused: not an object")
    status, body, challenges = claim.get("status"), claim.get("body"), claim.get("www_authenticate", [])
    if not (isinstance(status, int) and 400 <= status <= 499 and isinstance(body, dict)
            and isinstance(challenges, list) and all(isinstance(c, str) for c in challenges)):
        raise InvalidIdentity("refused: expected {status: 4xx, body: {...}, www_authenticate: [...]}")
    return Refusal(status=status, body=body, www_authenticate=tuple(challenges))
