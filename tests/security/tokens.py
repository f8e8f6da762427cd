"""The identity tokens of the security tests: the good one as the router mints it (its own :func:`mint`, with
``kid``), and every kind of bad one a caller who bypasses the router could send a service, each built by hand so
that no library check stands between the forgery and the service's verifier.

Every forgery with claims names the owner (:data:`~tests.security.stages.A`) as staff: accepted by mistake, it would
be served as the owner, with every right there is."""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, Final

from router.addons.identity import AUDIENCE, ISSUER, Identity, Refused, key_id, mint, mint_refused

SECRET: Final = "security-tests-current-identity-key-" + "c" * 16      # ROUTER_IDENTITY_SECRET
PREVIOUS: Final = "security-tests-previous-identity-key-" + "p" * 16    # ROUTER_IDENTITY_SECRET_PREVIOUS
STRANGER: Final = "a-key-no-service-of-the-shop-was-given-" + "s" * 16  # the forger's own
RETIRED: Final = "a-key-the-services-accepted-once-" + "r" * 16        # dropped after its rotation
TTL: Final = 60


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(user_id: int, *, staff: bool = True, **overrides: Any) -> dict[str, Any]:
    """The router's claims for ``user_id`` (``overrides``: changed; a value of None: left out)."""
    now = int(time.time())
    made = {"sub": str(user_id), "staff": staff, "iat": now, "exp": now + TTL, "iss": ISSUER, "aud": AUDIENCE,
            **overrides}
    return {name: value for name, value in made.items() if value is not None}


def hand_made(header: dict[str, Any], body: dict[str, Any], key: str | None, digest: str = "sha256") -> str:
    """A JWT built without PyJWT: any header, any claims, signed with HMAC over ``key`` (None: no signature)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
    if key is None:
        return signing_input + "."
    return f"{signing_input}.{_b64(hmac.new(key.encode(), signing_input.encode(), digest).digest())}"


def good(user_id: int, *, staff: bool = False, key: str = SECRET) -> str:
    """What the router sends for a caller it resolved (its own code mints it)."""
    return mint(Identity(str(user_id), is_staff=staff), key, ttl=TTL)


def _signed(body: dict[str, Any], key: str = SECRET, *, kid: str | None = "KEY", alg: str = "HS256",
            digest: str = "sha256") -> str:
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = key_id(key) if kid == "KEY" else kid
    return hand_made(header, body, key, digest)


def _tampered_sub(owner: int, intruder: int) -> str:
    """The intruder's own good token with the payload swapped for the owner's as staff, the signature kept."""
    header, _, signature = good(intruder).split(".")
    return f"{header}.{_b64(json.dumps(claims(owner)).encode())}.{signature}"


def _flipped_signature(owner: int, intruder: int) -> str:
    head, _, signature = good(owner, staff=True).rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    return f"{head}.{_b64(bytes([raw[0] ^ 1]) + raw[1:])}"


def _forged_refusal(owner: int, intruder: int) -> str:
    """A "the monolith refused this caller" token, signed with the forger's key: a 401 of its own, never the
    refusal it carries (which would let a forger make a service answer anything)."""
    return mint_refused(Refused(418, b'{"detail": "forged refusal"}', (b"Forged",)), STRANGER, ttl=TTL)


# (id, builder(owner, intruder) -> token): each must be answered 401 ``Invalid token.`` by every service.
FORGERIES: Final[list[tuple[str, Callable[[int, int], str]]]] = [
    ("other-key", lambda a, b: _signed(claims(a), STRANGER, kid=None)),
    ("other-key-own-kid", lambda a, b: _signed(claims(a), STRANGER)),
    ("other-key-current-kid", lambda a, b: _signed(claims(a), STRANGER, kid=key_id(SECRET))),
    ("retired-key", lambda a, b: good(a, staff=True, key=RETIRED)),
    ("unknown-kid-current-key", lambda a, b: _signed(claims(a), kid="0123456789abcdef")),
    ("kid-not-a-string", lambda a, b: hand_made({"alg": "HS256", "kid": 1}, claims(a), SECRET)),
    ("expired", lambda a, b: _signed(claims(a, iat=int(time.time()) - 3600, exp=int(time.time()) - 3540))),
    ("tampered-sub", _tampered_sub),
    ("tampered-signature", _flipped_signature),
    ("alg-none", lambda a, b: hand_made({"alg": "none", "typ": "JWT"}, claims(a), None)),
    ("alg-none-with-kid", lambda a, b: hand_made({"alg": "none", "kid": key_id(SECRET)}, claims(a), None)),
    ("alg-none-signed", lambda a, b: hand_made({"alg": "none", "kid": key_id(SECRET)}, claims(a), SECRET)),
    ("alg-hs512-same-key", lambda a, b: _signed(claims(a), alg="HS512", digest="sha512")),
    ("no-sub", lambda a, b: _signed(claims(a, sub=None))),
    ("sub-not-a-number", lambda a, b: _signed(claims(a, sub="alice"))),
    ("no-exp", lambda a, b: _signed(claims(a, exp=None))),
    ("wrong-audience", lambda a, b: _signed(claims(a, aud="another-audience"))),
    ("wrong-issuer", lambda a, b: _signed(claims(a, iss="someone-else"))),
    ("forged-refusal", _forged_refusal),
    ("garbage", lambda a, b: "not-a-jwt"),
    ("garbage-three-parts", lambda a, b: "a.b.c"),
    ("empty-signature", lambda a, b: good(a, staff=True).rpartition(".")[0] + "."),
]
