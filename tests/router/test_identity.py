"""The identity bridge's pure parts: minting tokens, the secret check, and the verifier services copy
(``strangler/scaffold/template/identity.py``, loaded by path as a service would use its copy)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest

from router.addons import identity
from router.addons.identity import AUDIENCE, ISSUER, MIN_SECRET_LENGTH, Identity, IdentityBridge, mint, secret_problem
from router.config import IdentitySpec

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s" * 16 + "e" * 16 + "-unit-tests"
OTHER_SECRET = "o" * 40


def load_verifier() -> ModuleType:
    name = "copied_identity_verifier"
    spec = importlib.util.spec_from_file_location(name, ROOT / "strangler" / "scaffold" / "template" / "identity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


verifier = load_verifier()


def test_the_verifier_agrees_with_the_router_on_issuer_audience_and_header() -> None:
    assert (verifier.ISSUER, verifier.AUDIENCE) == (ISSUER, AUDIENCE)
    assert verifier.HEADER == "x-identity-token"


@pytest.mark.parametrize(("user_id", "staff"), [("7", False), ("1", True)])
def test_a_minted_token_verifies_to_the_user(user_id: str, staff: bool) -> None:
    token = mint(Identity(user_id, staff), SECRET, ttl=60)
    caller = verifier.verify(token, SECRET)
    assert caller == verifier.Caller(user_id=int(user_id), is_staff=staff)


def test_the_token_carries_the_documented_claims() -> None:
    token = mint(Identity("7", False), SECRET, ttl=30, now=1_700_000_000)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {"sub": "7", "staff": False, "iat": 1_700_000_000, "exp": 1_700_000_030,
                      "iss": ISSUER, "aud": AUDIENCE}


def test_no_token_is_anonymous() -> None:
    assert verifier.verify(None, SECRET) is None
    assert verifier.verify("", SECRET) is None


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = mint(Identity("7", True), OTHER_SECRET, ttl=60)
    with pytest.raises(verifier.InvalidIdentity):
        verifier.verify(token, SECRET)


def test_an_expired_token_is_refused() -> None:
    token = mint(Identity("7", False), SECRET, ttl=10, now=time.time() - 60)
    with pytest.raises(verifier.InvalidIdentity):
        verifier.verify(token, SECRET)


def test_the_leeway_covers_small_clock_skew_only() -> None:
    token = mint(Identity("7", False), SECRET, ttl=10, now=time.time() - 12)  # expired 2 s ago
    assert verifier.verify(token, SECRET) == verifier.Caller(7, False)
    with pytest.raises(verifier.InvalidIdentity):
        verifier.verify(token, SECRET, leeway=0)


@pytest.mark.parametrize("claims", [
    {"iss": "someone-else"},
    {"aud": "another-audience"},
    {"sub": "not-a-number"},
])
def test_wrong_issuer_audience_or_subject_is_refused(claims: dict[str, str]) -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "7", "staff": False, "iat": now, "exp": now + 60, "iss": ISSUER, "aud": AUDIENCE,
                        **claims}, SECRET, algorithm="HS256")
    with pytest.raises(verifier.InvalidIdentity):
        verifier.verify(token, SECRET)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "iss", "aud"])
def test_a_token_missing_a_claim_is_refused(missing: str) -> None:
    now = int(time.time())
    claims = {"sub": "7", "staff": False, "iat": now, "exp": now + 60, "iss": ISSUER, "aud": AUDIENCE}
    del claims[missing]
    with pytest.raises(verifier.InvalidIdentity):
        verifier.verify(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET)


def test_an_unsigned_token_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode({"sub": "1", "staff": True, "iat": now, "exp": now + 60, "iss": ISSUER, "aud": AUDIENCE},
                       "", algorithm="none")
    with pytest.raises(verifier.InvalidIdentity):
        verifier.verify(token, SECRET)


def test_secret_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = IdentitySpec(resolve_url="http://127.0.0.1:1/api/accounts/me/", secret_env="UNIT_TEST_IDENTITY_SECRET")
    monkeypatch.delenv("UNIT_TEST_IDENTITY_SECRET", raising=False)
    missing = secret_problem(spec)
    assert missing is not None and "identity.secret_env" in missing and "UNIT_TEST_IDENTITY_SECRET" in missing
    monkeypatch.setenv("UNIT_TEST_IDENTITY_SECRET", "x" * (MIN_SECRET_LENGTH - 1))
    short = secret_problem(spec)
    assert short is not None and "identity.secret_env" in short and str(MIN_SECRET_LENGTH) in short
    monkeypatch.setenv("UNIT_TEST_IDENTITY_SECRET", "x" * MIN_SECRET_LENGTH)
    assert secret_problem(spec) is None


def test_a_refused_token_carries_the_monolith_s_answer_and_no_subject() -> None:
    from router.addons.identity import Refused, mint_refused

    refused = Refused(401, b'{"detail": "Invalid token.", "code": "x"}', (b"Token",))
    token = mint_refused(refused, SECRET, ttl=30, now=time.time())
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "sub" not in claims and "staff" not in claims
    assert claims["refused"] == {"status": 401, "body": {"detail": "Invalid token.", "code": "x"},
                                 "www_authenticate": ["Token"]}
    assert list(claims["refused"]["body"]) == ["detail", "code"]  # the monolith's key order, for equal bytes
    refusal = verifier.verify(token, SECRET)
    assert refusal == verifier.Refusal(status=401, body={"detail": "Invalid token.", "code": "x"},
                                       www_authenticate=("Token",))
    with pytest.raises(verifier.InvalidIdentity):  # signed by someone else: never a refusal nor anonymous
        verifier.verify(token, OTHER_SECRET)


def test_a_refusal_body_that_is_not_a_small_json_object_becomes_its_detail() -> None:
    from router.addons.identity import Refused

    assert Refused(403, b"Forbidden", ()).json_body() == {"detail": "Forbidden"}
    assert Refused(401, b'["a"]', ()).json_body() == {"detail": '["a"]'}


@pytest.mark.parametrize("refused", [{"status": 200, "body": {}}, {"status": 401, "body": "x"},
                                     {"status": 401, "body": {}, "www_authenticate": [1]}, "401"])
def test_a_malformed_refusal_is_an_invalid_token(refused: object) -> None:
    now = int(time.time())
    token = jwt.encode({"refused": refused, "iat": now, "exp": now + 30, "iss": ISSUER, "aud": AUDIENCE}, SECRET,
                       algorithm="HS256")
    with pytest.raises(verifier.InvalidIdentity):
        verifier.verify(token, SECRET)


# --- the look-up's configuration: fields, anonymous answers cached, failures refused ----------------------------------


def _bridge(answer: httpx.Response | Exception, **identity: object) -> tuple[IdentityBridge, list[int]]:
    from router.config import parse_data
    from router.control.state import TableHolder

    calls: list[int] = []
    timeouts: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        timeouts.append(request.extensions.get("timeout"))
        if isinstance(answer, Exception):
            raise answer
        return answer

    holder = TableHolder()
    holder.swap(parse_data({
        "default": "monolith",
        "backends": {"monolith": {"targets": "http://127.0.0.1:1"}, "svc": {"targets": "http://127.0.0.1:2"}},
        "routes": {"moved": {"path": "/api/", "backend": "svc"}},
        "identity": {"resolve_url": "http://monolith.test/me/", **identity}}), origin="test")
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    bridge = IdentityBridge(holder, client)
    bridge.timeouts = timeouts  # type: ignore[attr-defined]  # what each look-up was sent with, for the tests
    return bridge, calls


def _run(bridge: IdentityBridge, credential: str = "Token abc") -> tuple[Any, Any]:
    from router.proxy.flow import Flow

    table = bridge.tables.current.table
    match = table.match("GET", "/api/x")
    flow = Flow(method="GET", path="/api/x", query=b"", headers=[(b"authorization", credential.encode())],
                client="10.0.0.1", scheme="http", host="shop", request_id="r1", match=match, backend=match.backend,
                default_backend=table.default)
    return asyncio.run(bridge.request(flow)), flow


def test_the_look_up_s_fields_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    bridge, _ = _bridge(httpx.Response(200, json={"user": {"pk": "u-7", "roles": {"staff": True}}}),
                        user_id_field="user.pk", staff_field="user.roles.staff")
    reply, flow = _run(bridge)
    assert reply is None and (flow.user_id, flow.is_staff) == ("u-7", True)
    token = dict(flow.headers)[b"x-identity-token"].decode()
    assert jwt.decode(token, SECRET, algorithms=["HS256"], audience=identity.AUDIENCE)["sub"] == "u-7"


def test_an_anonymous_answer_is_cached_like_any_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    bridge, calls = _bridge(httpx.Response(200, json={"user": None}), user_id_field="user.pk")
    for _ in range(3):
        reply, flow = _run(bridge)
        assert reply is None and flow.user_id is None and b"x-identity-token" not in dict(flow.headers)
    assert len(calls) == 1


@pytest.mark.parametrize("answer", [httpx.Response(502), httpx.ConnectError("refused"),
                                    httpx.Response(200, json={"name": "no id here"})],
                         ids=["5xx", "down", "no-id"])
def test_a_failed_look_up_is_a_503_not_a_stranger_and_is_not_cached(monkeypatch: pytest.MonkeyPatch,
                                                                     answer: Any) -> None:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    bridge, calls = _bridge(answer)
    for _ in range(2):
        reply, flow = _run(bridge)
        assert reply is not None and reply.status == 503
        assert reply.body["code"] == "identity_unavailable" and (b"retry-after", b"1") in reply.headers
    assert len(calls) == 2
    lenient, _ = _bridge(answer, on_failure="anonymous")
    reply, flow = _run(lenient)
    assert reply is None and flow.user_id is None


def test_a_look_up_waits_identity_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """5 s by default (a monolith busy hashing a burst of logins answered /me/ after more than 2 s), or as set."""
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    for setting, seconds in (({}, 5.0), ({"timeout": 1.5}, 1.5)):
        bridge, _ = _bridge(httpx.Response(200, json={"id": 7}), **setting)
        _run(bridge)
        assert bridge.timeouts == [{"connect": seconds, "read": seconds, "write": seconds,  # type: ignore[attr-defined]
                                    "pool": seconds}]


@pytest.mark.parametrize(("setting", "problem"), [
    ({"timeout": 0}, "identity.timeout: "),
    ({"timeout": "soon"}, "identity.timeout: "),
    ({"user_id_field": "user[0]"}, "identity.user_id_field: 'user[0]' is not a field path"),
    ({"on_failure": "ignore"}, "identity.on_failure: "),
])
def test_a_bad_identity_setting_is_refused_naming_it(setting: dict[str, object], problem: str) -> None:
    from router.exceptions import ConfigError

    with pytest.raises(ConfigError) as err:
        _bridge(httpx.Response(200), **setting)
    assert any(problem in p for p in err.value.problems), err.value.problems


# --- the key: named in the token's header, switched by a reload ------------------------------------------------------

NEXT_SECRET = "n" * 16 + "e" * 16 + "-the-next-key"
ROUTES_WITH_IDENTITY = """
default: monolith
backends:
  monolith: {targets: "http://127.0.0.1:1"}
  svc: {targets: "http://127.0.0.1:2"}
routes:
  moved: {path: /api/, backend: svc}
identity: {resolve_url: "http://monolith.test/me/", secret_env: VARIABLE}
"""


def test_a_minted_token_names_its_key_by_a_fingerprint_never_the_key() -> None:
    for token in (mint(Identity("7", False), SECRET, ttl=60),
                  identity.mint_refused(identity.Refused(401, b"{}", ()), SECRET, ttl=60)):
        header = jwt.get_unverified_header(token)
        assert header["kid"] == identity.key_id(SECRET) == verifier.key_id(SECRET)
        assert len(header["kid"]) == 16 and SECRET not in token
    assert identity.key_id(SECRET) != identity.key_id(NEXT_SECRET)


def test_a_reload_naming_another_variable_signs_with_its_key_from_then_on(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from router.config import load
    from router.control.reload import Reloader
    from router.control.state import TableHolder
    from router.server.assembly import identity_problem

    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET_NEXT", NEXT_SECRET)
    monkeypatch.delenv("ROUTER_IDENTITY_SECRET_UNSET", raising=False)
    path = tmp_path / "routes.yaml"
    path.write_text(ROUTES_WITH_IDENTITY.replace("VARIABLE", "ROUTER_IDENTITY_SECRET"))
    holder = TableHolder()
    holder.swap(load(path), origin="start")
    reloader = Reloader(holder, path, checks=[identity_problem])
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(200, json={"id": 7})))
    bridge = IdentityBridge(holder, client)

    def signed_with() -> str:
        reply, flow = _run(bridge)
        assert reply is None
        token = dict(flow.headers)[b"x-identity-token"].decode()
        kid = jwt.get_unverified_header(token)["kid"]
        assert isinstance(kid, str)
        return kid

    assert signed_with() == identity.key_id(SECRET)
    path.write_text(ROUTES_WITH_IDENTITY.replace("VARIABLE", "ROUTER_IDENTITY_SECRET_NEXT"))
    assert reloader.reload("admin") is not None
    assert signed_with() == identity.key_id(NEXT_SECRET)
    _, flow = _run(bridge)
    token = dict(flow.headers)[b"x-identity-token"].decode()
    assert verifier.verify(token, [NEXT_SECRET, SECRET]) == verifier.Caller(7, False)
    with pytest.raises(verifier.InvalidIdentity):
        verifier.verify(token, [SECRET])  # a service not yet given the new key refuses it (the order matters)

    # A file naming a variable the router's environment lacks is refused: the key in use stays.
    path.write_text(ROUTES_WITH_IDENTITY.replace("VARIABLE", "ROUTER_IDENTITY_SECRET_UNSET"))
    assert reloader.reload("admin") is None
    assert reloader.last_error == [
        f"{path}: identity.secret_env: environment variable ROUTER_IDENTITY_SECRET_UNSET is not set"]
    assert signed_with() == identity.key_id(NEXT_SECRET)


# --- the look-up by path: asked of whichever backend the table sends it to ------------------------------------------


def _path_bridge(routes: dict[str, object]) -> tuple[IdentityBridge, list[str]]:
    from router.config import parse_data
    from router.control.state import TableHolder

    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        return httpx.Response(200, json={"id": 7, "is_staff": False})

    holder = TableHolder()
    holder.swap(parse_data({
        "default": "monolith",
        "backends": {"monolith": {"targets": "http://monolith.test"},
                     "accounts": {"targets": ["http://accounts-a.test", "http://accounts-b.test"]},
                     "svc": {"targets": "http://svc.test"}},
        "routes": {"moved": {"path": "/api/x", "backend": "svc"}, **routes},
        "identity": {"resolve_url": "/api/accounts/me/", "cache_seconds": 0}}), origin="test")
    return IdentityBridge(holder, httpx.AsyncClient(transport=httpx.MockTransport(handler))), asked


def test_a_path_is_asked_of_the_backend_the_table_sends_it_to_and_follows_a_cutover(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The accounts plan's cutover moves the route, the look-ups go with it (and back with a rollback)."""
    from router.config import parse_data

    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    accounts_route = {"path": "/api/accounts/", "methods": ["GET", "HEAD", "OPTIONS"], "backend": "monolith"}
    bridge, asked = _path_bridge({"accounts-reads": accounts_route})
    reply, flow = _run(bridge)
    assert reply is None and flow.user_id == "7"
    assert asked == ["http://monolith.test/api/accounts/me/"]
    raw = dict(bridge.tables.current.raw)
    raw["routes"] = {**raw["routes"], "accounts-reads": {**accounts_route, "backend": "accounts"}}
    bridge.tables.swap(parse_data(raw), origin="cutover")
    for _ in range(2):
        _run(bridge)
    assert asked[1:] == ["http://accounts-a.test/api/accounts/me/", "http://accounts-b.test/api/accounts/me/"]


def test_a_path_at_a_canary_share_is_asked_of_the_owner_not_of_the_canary(monkeypatch: pytest.MonkeyPatch) -> None:
    """A canary's copy of the credentials lags the owner's by the sync: a token issued a moment ago must not be
    looked up there (it would come back refused). Only the cutover moves the look-ups."""
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    bridge, asked = _path_bridge({"accounts-reads": {"path": "/api/accounts/", "methods": ["GET"],
                                                     "backend": "accounts", "canary": 50}})
    for _ in range(3):
        _run(bridge)
    assert asked == ["http://monolith.test/api/accounts/me/"] * 3


def test_a_path_nobody_routes_is_asked_of_the_default_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    bridge, asked = _path_bridge({})
    _run(bridge)
    assert asked == ["http://monolith.test/api/accounts/me/"]


@pytest.mark.parametrize("bad", ["/api/../me/", "/api//me/", "/api/me/?x=1", "//host/me/", "/api/me/#f",
                                 "/api/ me/", "/api/mé/"])
def test_a_resolve_path_that_is_not_plain_is_refused_naming_it(bad: str) -> None:
    from router.exceptions import ConfigError

    with pytest.raises(ConfigError) as err:
        _bridge(httpx.Response(200), resolve_url=bad)
    assert any("identity.resolve_url" in p and "is not a plain path" in p for p in err.value.problems), \
        err.value.problems
