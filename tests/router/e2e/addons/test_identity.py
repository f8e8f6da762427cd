"""The identity bridge (router/addons/identity.py) against the real monolith: verifiable identity tokens for
token and session users, refusals passed on as the shop gives them, forged identity headers dropped,
look-ups cached and coalesced, the canary sticky by user, and no start without a usable secret."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import aiohttp
import httpx
import jwt
import pytest

from strangler.processes import free_port
from tests.router.e2e.features import (
    ADMIN_ENV,
    ADMIN_TOKEN,
    ROOT,
    SECRET,
    SECRET_ENV,
    UNSET_ADMIN_ENV,
    Answer,
    Running,
    admin,
    fan_out,
    router_for,
    routes_file,
    seen_by,
    sides,
    two_backends,
)
from tests.router.e2e.helpers import header_values, wait_for
from tests.support.servers import ShopServer, running_shop

pytestmark = pytest.mark.slow


SHOP_PASSWORD = "shop-demo-password"  # noqa: S105 - the seeded demo accounts' password


def load_verifier() -> ModuleType:
    """The identity verifier every scaffolded service gets (strangler/scaffold/template/identity.py), loaded by
    path the way a service uses its copy."""
    name = "features_identity_verifier"
    spec = importlib.util.spec_from_file_location(name, ROOT / "strangler" / "scaffold" / "template" / "identity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


verifier = load_verifier()


@dataclass(frozen=True)
class ShopUser:
    email: str
    id: int
    is_staff: bool
    token: str
    session: str


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    with running_shop(tmp_path_factory.mktemp("features-shop"),
                      seed_args=("--products", "5", "--users", "8", "--orders", "0")) as server:
        yield server


@pytest.fixture(scope="module")
def identity_router(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str], shop: ShopServer
                    ) -> Iterator[Running]:
    """/api/accounts/ goes to the shop, /echo/svc/ and /ws to "catalog", /echo/split/ half to "catalog" (canary);
    identity resolved by the shop's /api/accounts/me/. Its admin token variable is never set."""
    with router_for(tmp_path_factory, "identity-router", routes_file(
        "default: monolith\nbackends:\n" + two_backends(upstreams)
        + f'  shop: {{targets: ["{shop.url}"], health: {{interval: 0}}}}\n' + textwrap.dedent(f"""\
        routes:
          accounts: {{path: /api/accounts/, backend: shop}}
          svc: {{path: /echo/svc/, backend: catalog}}
          split: {{path: /echo/split/, backend: catalog, canary: 50}}
          svc-ws: {{path: /ws, match: exact, backend: catalog}}
        identity:
          resolve_url: "{shop.url}/api/accounts/me/"
          cache_seconds: 60
          token_ttl: 30
          secret_env: {SECRET_ENV}
        """), admin_env=UNSET_ADMIN_ENV)) as running:
        yield running


@pytest.fixture(scope="module")
def users(identity_router: Running) -> dict[str, ShopUser]:
    """Seeded users logged in through the router (the login goes to the shop): token and session each."""
    def login(email: str) -> ShopUser:
        response = httpx.post(f"{identity_router.url}/api/accounts/login/",
                              json={"email": email, "password": SHOP_PASSWORD}, timeout=30)
        assert response.status_code == 200, response.text
        user = response.json()["user"]
        return ShopUser(email, user["id"], user["is_staff"], response.json()["token"], response.cookies["sessionid"])

    emails = {"customer1": "customer1@example.com", "customer2": "customer2@example.com",
              "customer3": "customer3@example.com", "customer4": "customer4@example.com",
              "staff": "staff@example.com"}
    with ThreadPoolExecutor(len(emails)) as pool:
        logged_in = dict(zip(emails, pool.map(login, emails.values()), strict=True))
    assert logged_in["staff"].is_staff and not logged_in["customer1"].is_staff
    assert len({u.id for u in logged_in.values()}) == len(logged_in)
    return logged_in


def identity_tokens(response: httpx.Response | Answer) -> list[str]:
    assert response.status_code == 200, response.text
    return header_values(response.json(), "x-identity-token")


def test_a_token_user_reaches_the_service_with_a_verifiable_identity(identity_router: Running,
                                                                    users: dict[str, ShopUser]) -> None:
    for name in ("customer1", "staff"):
        user = users[name]
        response = httpx.get(f"{identity_router.url}/echo/svc/me", headers={"Authorization": f"Token {user.token}"})
        assert response.headers["x-upstream"] == "catalog"
        [token] = identity_tokens(response)
        assert verifier.verify(token, SECRET) == verifier.Caller(user_id=user.id, is_staff=user.is_staff)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 30  # identity.token_ttl
        assert abs(claims["iat"] - time.time()) < 5


def test_a_session_user_reaches_the_service_with_a_verifiable_identity(identity_router: Running,
                                                                      users: dict[str, ShopUser]) -> None:
    user = users["customer2"]
    response = httpx.get(f"{identity_router.url}/echo/svc/me",
                         headers={"Cookie": f"csrftoken=x; sessionid={user.session}"})
    [token] = identity_tokens(response)
    assert verifier.verify(token, SECRET) == verifier.Caller(user_id=user.id, is_staff=False)


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-a-shop-credential"},
    {"Cookie": "sessionid=" + "x" * 32},
], ids=["anonymous", "foreign-scheme", "unknown-session"])
def test_no_identity_token_without_a_known_user(identity_router: Running, headers: dict[str, str]) -> None:
    """The shop serves these callers as anonymous (it ignores a scheme it does not use and a session it does
    not know), so the service gets them without an identity."""
    response = httpx.get(f"{identity_router.url}/echo/svc/anon", headers=headers)
    assert response.headers["x-upstream"] == "catalog"
    assert identity_tokens(response) == []


def test_an_unknown_token_is_refused_as_the_shop_refuses_it(identity_router: Running, shop: ShopServer) -> None:
    """Never "anonymous": the shop answers 401 to a token it does not know, on any endpoint; the service gets
    the request with a refused identity carrying exactly that answer (which it gives at the point the shop
    would: after its URL and negotiation checks), and the caller's own credential."""
    direct = httpx.get(f"{shop.url}/api/catalog/products/", headers={"Authorization": "Token " + "0" * 40})
    assert direct.status_code == 401  # what the shop does, the yardstick
    response = httpx.get(f"{identity_router.url}/echo/svc/refused",
                         headers={"Authorization": "Token " + "0" * 40})
    assert response.headers["x-upstream"] == "catalog"
    [token] = identity_tokens(response)
    refusal = verifier.verify(token, SECRET)
    assert refusal == verifier.Refusal(status=401, body=direct.json(),
                                       www_authenticate=(direct.headers["www-authenticate"],))
    assert header_values(response.json(), "authorization") == ["Token " + "0" * 40]
    # A verifier that does not know the refused claim still never takes the caller for anonymous.
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert "sub" not in claims


def test_client_sent_identity_headers_never_pass_through(identity_router: Running,
                                                         users: dict[str, ShopUser]) -> None:
    staff, customer = users["staff"], users["customer1"]
    now = int(time.time())
    forged_token = jwt.encode({"sub": str(staff.id), "staff": True, "iat": now, "exp": now + 60,
                               "iss": verifier.ISSUER, "aud": verifier.AUDIENCE}, "another-key-" * 4, algorithm="HS256")
    forged = {"X-Identity-Token": forged_token, "X-User-Id": str(staff.id), "X-User-Is-Staff": "true",
              "X-Remote-User": staff.email}
    for credentials, expected in (({}, None), ({"Authorization": f"Token {customer.token}"}, customer)):
        response = httpx.get(f"{identity_router.url}/echo/svc/forged", headers={**forged, **credentials})
        echo = response.json()
        for name in ("x-user-id", "x-user-is-staff", "x-remote-user"):
            assert header_values(echo, name) == [], f"{name} reached the service"
        tokens = identity_tokens(response)
        assert forged_token not in tokens
        if expected is None:
            assert tokens == []
        else:
            [token] = tokens
            assert verifier.verify(token, SECRET) == verifier.Caller(user_id=expected.id, is_staff=False)
    with pytest.raises(verifier.InvalidIdentity):
        verifier.verify(forged_token, SECRET)  # what a service would have said, had it got through


def test_a_websocket_upgrade_carries_a_verifiable_identity(identity_router: Running, users: dict[str, ShopUser],
                                                           upstreams: dict[str, str]) -> None:
    """The identity bridge acts on an upgrade as on a plain request: the service learns who is calling, and a
    forged identity header never reaches it."""
    user = users["customer4"]
    request_id = f"ws-identity-{uuid.uuid4().hex}"

    async def talk() -> str:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{identity_router.url}/ws", timeout=aiohttp.ClientWSTimeout(ws_close=5),
                                          headers={"Authorization": f"Token {user.token}", "X-Request-ID": request_id,
                                                   "X-Identity-Token": "forged"}) as ws:
                await ws.send_str("hi")
                return await asyncio.wait_for(ws.receive_str(), 5)

    assert asyncio.run(asyncio.wait_for(talk(), 10)) == "catalog:hi"
    [upgrade] = seen_by(upstreams["catalog"], request_id)
    [token] = header_values(upgrade, "x-identity-token")
    assert verifier.verify(token, SECRET) == verifier.Caller(user_id=user.id, is_staff=False)


def _me_lookups(shop: ShopServer, user_id: int) -> int:
    count = 0
    for line in shop.process.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("path") == "/api/accounts/me/" and entry.get("user_id") == user_id:
                count += 1
    return count


def test_identity_lookups_are_cached_and_coalesced(identity_router: Running, shop: ShopServer,
                                                   users: dict[str, ShopUser]) -> None:
    user = users["customer3"]  # no other test uses this one
    assert _me_lookups(shop, user.id) == 0
    headers = {"Authorization": f"Token {user.token}"}
    # Ten at once (one look-up for all of them), then ten more one after another (from the cache).
    responses: list[httpx.Response | Answer] = list(
        fan_out(identity_router.url, [(f"/echo/svc/c/{n}", headers) for n in range(10)], concurrency=10))
    responses += [httpx.get(f"{identity_router.url}/echo/svc/s/{n}", headers=headers) for n in range(10)]
    for response in responses:
        [token] = identity_tokens(response)
        assert verifier.verify(token, SECRET) == verifier.Caller(user_id=user.id, is_staff=False)
    wait_for(lambda: _me_lookups(shop, user.id) >= 1, timeout=5)
    time.sleep(0.3)  # a late second look-up would show up in the log by now
    assert _me_lookups(shop, user.id) == 1


def test_the_canary_is_sticky_by_user_id(identity_router: Running, users: dict[str, ShopUser]) -> None:
    for name in ("customer1", "customer4", "staff"):
        user = users[name]
        cookies = [f"{name}-device-{n}" for n in range(20)]
        # Control: these twenty sessions, anonymous, do split between the two sides...
        assert set(sides(identity_router.url, "/echo/split/x", cookies).values()) == {"monolith", "catalog"}
        # ...but as one signed-in user they all land on the same side.
        responses = fan_out(identity_router.url, [
            ("/echo/split/x", {"Authorization": f"Token {user.token}", "Cookie": f"sessionid={cookie}"})
            for cookie in cookies])
        assert all(r.status_code == 200 for r in responses)
        assert len({r.headers["x-upstream"] for r in responses}) == 1, f"{name} was split across backends"
        for response in responses:
            [token] = identity_tokens(response)
            assert verifier.verify(token, SECRET).user_id == user.id


def test_admin_api_is_disabled_when_its_token_variable_is_unset(identity_router: Running) -> None:
    assert UNSET_ADMIN_ENV not in os.environ
    for method, path in (("GET", "/table"), ("GET", "/metrics"), ("PATCH", "/routes/svc")):
        response = admin(identity_router, method, path, token="anything", body={"backend": "monolith"})
        assert response.status_code == 503
        assert UNSET_ADMIN_ENV in response.json()["detail"]
    assert admin(identity_router, "GET", "/healthz", token=None).status_code == 200
    assert httpx.get(f"{identity_router.url}/echo/svc/x").headers["x-upstream"] == "catalog"  # not patched


@pytest.mark.parametrize("secret", [None, "x" * 31], ids=["missing", "too-short"])
def test_the_router_refuses_to_start_without_a_usable_identity_secret(tmp_path: Path, upstreams: dict[str, str],
                                                                      secret: str | None) -> None:
    port, admin_port = free_port(), free_port()
    config = tmp_path / "routes.yaml"
    config.write_text(routes_file("default: monolith\nbackends:\n" + two_backends(upstreams) + textwrap.dedent(f"""\
        identity:
          resolve_url: "{upstreams['monolith']}/api/accounts/me/"
          secret_env: {SECRET_ENV}
        """)).replace("{listen}", f"127.0.0.1:{port}").replace("{admin_listen}", f"127.0.0.1:{admin_port}"))
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    env[ADMIN_ENV] = ADMIN_TOKEN
    if secret is not None:
        env[SECRET_ENV] = secret
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "router", "serve", "--config", str(config)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=15, check=False)
    assert done.returncode == 1, done.stderr
    assert "identity.secret_env" in done.stderr
    assert SECRET_ENV in done.stderr
    assert str(config) in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/__router/health", timeout=2)
