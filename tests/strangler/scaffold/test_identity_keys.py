"""The services' verifier with several keys (a key rotation's overlap), as every service holds it: the current key
and the previous ones are accepted, the key chosen by the token's ``kid``; anything else is refused (a 401 in a
service, never anonymous). Tokens are minted by the router's own code where it can mint them, so both sides are
held to agree; the forgeries are built by hand.

The module under test is the catalog's copy (``test_template_copies.py`` holds every copy equal to the template)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest

from extracted.catalog import callers
from extracted.catalog.identity import Caller, InvalidIdentity, Refusal, key_id, verify
from router.addons.identity import AUDIENCE, ISSUER, Identity, Refused, mint, mint_refused
from router.addons.identity import key_id as router_key_id

CURRENT = "current-identity-key-" + "c" * 24
PREVIOUS = "previous-identity-key-" + "p" * 24
OLDER = "older-identity-key-" + "o" * 24
STRANGER = "a-key-no-service-was-given-" + "s" * 24
KEYS = [CURRENT, PREVIOUS]
USER = Identity("7", is_staff=False)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "7", "staff": False, "iat": now, "exp": now + 60, "iss": ISSUER, "aud": AUDIENCE, **overrides}


def _hand_made(header: dict[str, Any], claims: dict[str, Any], key: str | None, digest: str = "sha256") -> str:
    """A token built without PyJWT's checks: any header, signed with HMAC over ``key`` (none: no signature)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    return f"{signing_input}.{_b64(hmac.new(key.encode(), signing_input.encode(), digest).digest())}"


def _refused(token: str, keys: str | list[str] = KEYS) -> str:
    with pytest.raises(InvalidIdentity) as refused:
        verify(token, keys)
    return str(refused.value)


# --- key ids -------------------------------------------------------------------------------------------------------

def test_the_key_id_is_a_short_fingerprint_computed_alike_by_the_router_and_the_services() -> None:
    assert key_id(CURRENT) == router_key_id(CURRENT) == hashlib.sha256(CURRENT.encode()).hexdigest()[:16]
    assert key_id(CURRENT) != key_id(PREVIOUS)
    token = mint(USER, CURRENT, ttl=60)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": key_id(CURRENT)}
    assert CURRENT not in token and CURRENT.encode() not in base64.urlsafe_b64decode(token.split(".")[0] + "==")


# --- accepted -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", [CURRENT, PREVIOUS], ids=["current", "previous"])
def test_a_token_of_the_current_or_a_previous_key_is_accepted(key: str) -> None:
    assert verify(mint(USER, key, ttl=60), KEYS) == Caller(7, False)
    assert verify(mint(USER, OLDER, ttl=60), [CURRENT, PREVIOUS, OLDER]) == Caller(7, False)


@pytest.mark.parametrize("key", [CURRENT, PREVIOUS], ids=["current", "previous"])
def test_a_token_without_kid_from_before_the_upgrade_is_tried_with_each_key(key: str) -> None:
    token = jwt.encode(_claims(staff=True), key, algorithm="HS256")
    assert "kid" not in jwt.get_unverified_header(token)
    assert verify(token, KEYS) == Caller(7, True)


def test_one_key_as_a_string_still_works_as_before() -> None:
    assert verify(mint(USER, CURRENT, ttl=60), CURRENT) == Caller(7, False)
    assert verify(jwt.encode(_claims(), CURRENT, algorithm="HS256"), CURRENT) == Caller(7, False)


def test_a_refused_token_of_a_previous_key_is_the_monolith_s_refusal() -> None:
    token = mint_refused(Refused(401, b'{"detail": "Invalid token."}', (b"Token",)), PREVIOUS, ttl=60)
    assert verify(token, KEYS) == Refusal(401, {"detail": "Invalid token."}, ("Token",))


# --- refused --------------------------------------------------------------------------------------------------------

def test_a_kid_naming_no_key_of_the_service_is_refused() -> None:
    problem = _refused(mint(USER, STRANGER, ttl=60))
    assert f"kid '{key_id(STRANGER)}' names none of this service's 2 key(s)" in problem
    # Once the previous key is dropped, its tokens are refused too.
    assert "names none" in _refused(mint(USER, PREVIOUS, ttl=60), [CURRENT])


def test_a_kid_naming_one_key_with_a_signature_of_another_is_refused() -> None:
    forged = _hand_made({"alg": "HS256", "typ": "JWT", "kid": key_id(CURRENT)}, _claims(), STRANGER)
    assert _refused(forged) == "Signature verification failed"
    # And naming the current key while signed with the previous one: the kid decides, the other key is not tried.
    assert _refused(_hand_made({"alg": "HS256", "kid": key_id(CURRENT)}, _claims(), PREVIOUS)) == (
        "Signature verification failed")


def test_a_token_without_kid_of_a_key_not_configured_is_refused() -> None:
    assert _refused(jwt.encode(_claims(), STRANGER, algorithm="HS256")) == "Signature verification failed"


def test_a_kid_that_is_not_a_string_is_refused() -> None:
    # PyJWT's own header check says it (a recent PyJWT); the verifier's says it for an older one.
    assert "string" in _refused(_hand_made({"alg": "HS256", "kid": 1}, _claims(), CURRENT))


@pytest.mark.parametrize("signed", ["kid", "no-kid"])
def test_a_tampered_payload_is_refused(signed: str) -> None:
    token = mint(USER, PREVIOUS, ttl=60) if signed == "kid" else jwt.encode(_claims(), PREVIOUS, algorithm="HS256")
    header, _, signature = token.split(".")
    promoted = _b64(json.dumps(_claims(sub="1", staff=True)).encode())
    assert _refused(f"{header}.{promoted}.{signature}") == "Signature verification failed"


def test_a_tampered_signature_is_refused() -> None:
    token = mint(USER, CURRENT, ttl=60)
    head, _, signature = token.rpartition(".")
    flipped = _b64(bytes([base64.urlsafe_b64decode(signature + "==")[0] ^ 1])
                   + base64.urlsafe_b64decode(signature + "==")[1:])
    assert _refused(f"{head}.{flipped}") == "Signature verification failed"


@pytest.mark.parametrize("key", [CURRENT, PREVIOUS], ids=["current", "previous"])
def test_an_expired_token_is_refused_whichever_key_signed_it(key: str) -> None:
    past = time.time() - 3600
    assert _refused(mint(USER, key, ttl=60, now=past)) == "Signature has expired"
    assert _refused(jwt.encode(_claims(iat=int(past), exp=int(past) + 60), key, algorithm="HS256")) == (
        "Signature has expired")


@pytest.mark.parametrize(("claim", "value", "problem"), [("iss", "someone-else", "Invalid issuer"),
                                                         ("aud", "another-audience", "Audience doesn't match")])
def test_a_wrong_issuer_or_audience_is_refused(claim: str, value: str, problem: str) -> None:
    token = jwt.encode(_claims(**{claim: value}), PREVIOUS, algorithm="HS256", headers={"kid": key_id(PREVIOUS)})
    assert _refused(token) == problem


@pytest.mark.parametrize("header", [{"alg": "none"}, {"alg": "none", "kid": "KID"}, {"alg": "None"}])
def test_alg_none_is_refused(header: dict[str, Any]) -> None:
    header = {k: key_id(CURRENT) if v == "KID" else v for k, v in header.items()}
    assert _refused(_hand_made(header, _claims(), None)) == "The specified alg value is not allowed"


@pytest.mark.parametrize(("alg", "digest"), [("HS512", "sha512"), ("HS384", "sha384"), ("RS256", "sha256"),
                                             ("ES256", "sha256")])
def test_another_algorithm_in_the_header_is_refused_even_with_the_right_key(alg: str, digest: str) -> None:
    # RS256/ES256 with an HMAC over the shared key: the key-confusion trick (a verifier that took the header's
    # algorithm would check it with the secret as if it were a public key).
    for kid in ({"kid": key_id(CURRENT)}, {}):
        token = _hand_made({"alg": alg, "typ": "JWT", **kid}, _claims(), CURRENT, digest)
        assert _refused(token) == "The specified alg value is not allowed"


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "e30.e30.", ".."])
def test_garbage_is_refused_not_anonymous(token: str) -> None:
    _refused(token)


def test_no_key_at_all_refuses_every_token() -> None:
    assert _refused(mint(USER, CURRENT, ttl=60), []) == "no key to verify the token with"
    assert _refused(mint(USER, CURRENT, ttl=60), [""]) == "no key to verify the token with"


# --- the keys a service reads from its environment (callers.py) -----------------------------------------------------

@pytest.mark.parametrize(("current", "previous", "keys"), [
    (CURRENT, None, [CURRENT]),
    (CURRENT, PREVIOUS, [CURRENT, PREVIOUS]),
    (CURRENT, f" {PREVIOUS} , {OLDER},, ", [CURRENT, PREVIOUS, OLDER]),
    (CURRENT, f"{CURRENT},{PREVIOUS}", [CURRENT, PREVIOUS]),
    (None, PREVIOUS, []),   # a previous key alone is a misconfiguration: every token is refused (and logged)
    ("", PREVIOUS, []),
])
def test_the_keys_are_the_current_then_the_previous_ones(monkeypatch: pytest.MonkeyPatch, current: str | None,
                                                          previous: str | None, keys: list[str]) -> None:
    for name, value in ((callers.SECRET_ENV, current), (callers.PREVIOUS_SECRETS_ENV, previous)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert callers.identity_keys() == keys


def test_the_variables_are_the_documented_ones() -> None:
    assert (callers.SECRET_ENV, callers.PREVIOUS_SECRETS_ENV) == (
        "ROUTER_IDENTITY_SECRET", "ROUTER_IDENTITY_SECRET_PREVIOUS")
