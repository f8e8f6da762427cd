"""The router's features over its forwarding core, with real processes over HTTP: sticky canaries, the
identity bridge against the real monolith, shadow traffic, the admin API (including a route moved under
load) and the metrics.

Each group of tests shares one router process (module scope) with a table of its own; the fake backends
("monolith" and "catalog", tests/support/upstream.py) are shared by all of them.
"""

from __future__ import annotations

import asyncio
import hashlib
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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import httpx
import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from strangler.processes import ManagedProcess, free_port
from tests.router.e2e.helpers import dead_url, header_values, journal, wait_for
from tests.support.servers import ShopServer, running_router, running_shop, running_upstream

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
ADMIN_ENV = "FEATURES_ROUTER_ADMIN_TOKEN"
ADMIN_TOKEN = f"features-admin-{uuid.uuid4().hex}"
UNSET_ADMIN_ENV = "FEATURES_ROUTER_ADMIN_TOKEN_NEVER_SET"
SECRET_ENV = "FEATURES_ROUTER_IDENTITY_SECRET"
SECRET = f"features-identity-secret-{uuid.uuid4().hex}"
ROUTER_ENV = {ADMIN_ENV: ADMIN_TOKEN, SECRET_ENV: SECRET}
SHOP_PASSWORD = "shop-demo-password"  # noqa: S105 - the seeded demo accounts' password
# 2,000 distinct session cookies, the same in every run (so a share is the same in every run too).
COOKIES = [hashlib.sha256(f"features-cookie-{n}".encode()).hexdigest()[:32] for n in range(2000)]


def load_verifier() -> ModuleType:
    """docs/identity_verifier.py, loaded by path the way a service uses its copy."""
    name = "features_identity_verifier"
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "identity_verifier.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


verifier = load_verifier()


# -- processes -------------------------------------------------------------------------------------------

@dataclass
class Running:
    url: str
    admin_url: str
    process: ManagedProcess
    config: Path


def routes_file(body: str, *, admin_env: str = ADMIN_ENV) -> str:
    header = textwrap.dedent(f"""\
        version: 1
        listen: "{{listen}}"
        admin: {{listen: "{{admin_listen}}", token_env: {admin_env}}}
        """)
    return header + textwrap.dedent(body)


@contextmanager
def router_for(tmp_path_factory: pytest.TempPathFactory, name: str, yaml_text: str) -> Iterator[Running]:
    with running_router(tmp_path_factory.mktemp(name), yaml_text, env=ROUTER_ENV) as (url, process, config):
        yield Running(url, process.admin_url, process, config)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with running_upstream(tmp_path_factory.mktemp("features-monolith"), "monolith") as (monolith, _), \
            running_upstream(tmp_path_factory.mktemp("features-catalog"), "catalog") as (catalog, _):
        yield {"monolith": monolith, "catalog": catalog}


def two_backends(upstreams: dict[str, str]) -> str:
    return (f'  monolith: {{targets: ["{upstreams["monolith"]}"], health: {{interval: 0}}}}\n'
            f'  catalog: {{targets: ["{upstreams["catalog"]}"], health: {{interval: 0}}}}\n')


def admin(router: Running, method: str, path: str, *, token: str | None = ADMIN_TOKEN, body: Any = None,
          content: bytes | None = None, scheme: str = "Bearer") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return httpx.request(method, router.admin_url + path, headers=headers, json=body, content=content, timeout=10)


@dataclass
class Answer:
    """One response of a fan-out (aiohttp on the client side: httpx's pool is too slow for thousands)."""

    status_code: int
    headers: dict[str, str]  # lower-case names
    content: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


async def _fan_out(base_url: str, requests: list[tuple[str, dict[str, str]]], concurrency: int) -> list[Answer]:
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=20)) as session:
        async def one(path: str, headers: dict[str, str]) -> Answer:
            async with gate:
                started = time.monotonic()
                async with session.get(path, headers=headers) as response:
                    content = await response.read()
                    return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, content,
                                  time.monotonic() - started)

        return await asyncio.gather(*(one(path, headers) for path, headers in requests))


def fan_out(base_url: str, requests: list[tuple[str, dict[str, str]]], *, concurrency: int = 32) -> list[Answer]:
    return asyncio.run(_fan_out(base_url, requests, concurrency))


def sides(base_url: str, path: str, cookies: list[str]) -> dict[str, str]:
    """Which backend served each session cookie (one request per cookie)."""
    responses = fan_out(base_url, [(path, {"Cookie": f"theme=dark; sessionid={c}"}) for c in cookies])
    out = {}
    for cookie, response in zip(cookies, responses, strict=True):
        assert response.status_code == 200, response.text
        assert response.json()["name"] == response.headers["x-upstream"]
        out[cookie] = response.headers["x-upstream"]
    return out


# -- canary ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def canary_router(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Running]:
    """Four canary routes to "catalog" (0, 100, 30 and 10 percent); the rest goes to "monolith"."""
    with router_for(tmp_path_factory, "canary-router", routes_file(
        "default: monolith\nbackends:\n" + two_backends(upstreams) + textwrap.dedent("""\
        routes:
          c0: {path: /echo/c0/, backend: catalog, canary: 0}
          c100: {path: /echo/c100/, backend: catalog, canary: 100}
          c30: {path: /echo/c30/, backend: catalog, canary: 30}
          c10: {path: /echo/c10/, backend: catalog, canary: 10}
        """))) as running:
        yield running


def test_canary_at_0_percent_nobody_and_at_100_percent_everybody(canary_router: Running) -> None:
    assert set(sides(canary_router.url, "/echo/c0/products/", COOKIES[:300]).values()) == {"monolith"}
    assert set(sides(canary_router.url, "/echo/c100/products/", COOKIES[:300]).values()) == {"catalog"}
    # No cookie at all: sticky by client address, same rule.
    assert httpx.get(f"{canary_router.url}/echo/c0/x").headers["x-upstream"] == "monolith"
    assert httpx.get(f"{canary_router.url}/echo/c100/x").headers["x-upstream"] == "catalog"


def test_canary_at_30_percent_takes_about_30_percent_and_sticks(canary_router: Running) -> None:
    first = sides(canary_router.url, "/echo/c30/products/", COOKIES)
    moved = [cookie for cookie, backend in first.items() if backend == "catalog"]
    share = len(moved) / len(COOKIES)
    assert 0.26 <= share <= 0.34, f"{share:.1%} of 2,000 sessions went to the canary at 30%"

    # Sticky: the same cookie lands on the same side on every request, whatever the path under the route.
    chosen = moved[:10] + [cookie for cookie, backend in first.items() if backend == "monolith"][:10]
    requests = [(f"/echo/c30/products/{n}?page={n % 3}", {"Cookie": f"sessionid={cookie}"})
                for cookie in chosen for n in range(20)]
    responses = fan_out(canary_router.url, requests)
    for (_path, headers), response in zip(requests, responses, strict=True):
        assert response.status_code == 200
        cookie = headers["Cookie"].removeprefix("sessionid=")
        assert response.headers["x-upstream"] == first[cookie], f"session {cookie} changed sides"

    # Without a cookie the client address is the key: one client, one side.
    anonymous = fan_out(canary_router.url, [("/echo/c30/x", {})] * 20)
    assert len({r.headers["x-upstream"] for r in anonymous}) == 1


def test_raising_the_canary_keeps_everyone_who_was_in_it(canary_router: Running) -> None:
    cookies = COOKIES[:1000]
    at_10 = {c for c, backend in sides(canary_router.url, "/echo/c10/x", cookies).items() if backend == "catalog"}
    assert 60 <= len(at_10) <= 140
    patched = admin(canary_router, "PATCH", "/routes/c10", body={"canary": 50})
    assert patched.status_code == 200, patched.text
    assert patched.json()["routes"]["c10"]["canary"] == 50
    try:
        at_50 = {c for c, backend in sides(canary_router.url, "/echo/c10/x", cookies).items()
                 if backend == "catalog"}
        assert 430 <= len(at_50) <= 570
        assert at_10 <= at_50, f"{len(at_10 - at_50)} sessions left the canary when it grew from 10% to 50%"
    finally:
        assert admin(canary_router, "PATCH", "/routes/c10", body={"canary": 10}).status_code == 200


# -- identity bridge, against the real monolith ----------------------------------------------------------

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
    """/api/accounts/ goes to the shop, /echo/svc/ to "catalog", /echo/split/ half to "catalog" (canary);
    identity resolved by the shop's /api/accounts/me/. Its admin token variable is never set."""
    with router_for(tmp_path_factory, "identity-router", routes_file(
        "default: monolith\nbackends:\n" + two_backends(upstreams)
        + f'  shop: {{targets: ["{shop.url}"], health: {{interval: 0}}}}\n' + textwrap.dedent(f"""\
        routes:
          accounts: {{path: /api/accounts/, backend: shop}}
          svc: {{path: /echo/svc/, backend: catalog}}
          split: {{path: /echo/split/, backend: catalog, canary: 50}}
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


# -- shadow and metrics ----------------------------------------------------------------------------------

DEAD = dead_url()


@pytest.fixture(scope="module")
def shadow_router(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Running]:
    """Routes answered by "monolith" and mirrored to "catalog", a route with a fallback, one for error rates
    and one to a backend where nothing listens (its circuit opens after two failures)."""
    with router_for(tmp_path_factory, "shadow-router", routes_file(
        "default: monolith\nbackends:\n" + two_backends(upstreams) + textwrap.dedent(f"""\
          dead: {{targets: ["{DEAD}"], health: {{interval: 0}}, timeouts: {{connect: 0.5}},
                  circuit: {{failures: 2, reset_after: 300}}}}
        routes:
          mirror: {{path: /echo/mirror/, backend: monolith, shadow: catalog}}
          mirror-bytes: {{path: /bytes/, backend: monolith, shadow: catalog}}
          writes: {{path: /echo/writes/, backend: monolith, shadow: catalog, shadow_writes: true}}
          slow-shadow: {{path: /slow/2, match: exact, backend: monolith, shadow: catalog}}
          tight: {{path: /slow/3, match: exact, backend: monolith, shadow: {{backend: catalog, queue: 2, rate: 1000}}}}
          flaky: {{path: /status/, methods: [GET], backend: catalog, fallback: monolith}}
          rates: {{path: /status/, methods: [PUT], backend: catalog}}
          dead: {{path: /echo/dead/, backend: dead}}
        """))) as running:
        yield running


def shadow_figures(router: Running, route: str) -> dict[str, int]:
    response = admin(router, "GET", "/counters")
    assert response.status_code == 200
    zero = {"sampled_out": 0, "queued": 0, "dropped": 0, "compared": 0, "equal": 0, "different": 0, "errors": 0}
    figures: dict[str, int] = response.json()["routes"].get(route, {}).get("shadow", zero)
    return figures


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before[key] for key in after if after[key] != before[key]}


def seen_by(upstream_url: str, request_id: str) -> list[dict[str, Any]]:
    return [entry for entry in journal(upstream_url) if entry["request_id"] == request_id]


def test_the_client_gets_the_primary_and_the_shadow_the_same_request(shadow_router: Running,
                                                                     upstreams: dict[str, str]) -> None:
    before = shadow_figures(shadow_router, "mirror")
    request_id = f"shadow-{uuid.uuid4().hex}"
    response = httpx.get(f"{shadow_router.url}/echo/mirror/items/7?color=red", headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "monolith"
    assert response.json()["name"] == "monolith"
    wait_for(lambda: shadow_figures(shadow_router, "mirror")["compared"] == before["compared"] + 1, timeout=5)
    # Echo answers name their backend, so the two answers differ.
    assert changed(before, shadow_figures(shadow_router, "mirror")) == {"queued": 1, "compared": 1, "different": 1}
    [mirrored] = seen_by(upstreams["catalog"], request_id)
    assert (mirrored["method"], mirrored["raw_path"]) == ("GET", "/echo/mirror/items/7")
    assert header_values(mirrored, "x-shadow-request") == ["1"]
    assert len(seen_by(upstreams["monolith"], request_id)) == 1  # the primary got it once

    before = shadow_figures(shadow_router, "mirror-bytes")
    assert httpx.get(f"{shadow_router.url}/bytes/2048").content == b"y" * 2048
    wait_for(lambda: shadow_figures(shadow_router, "mirror-bytes")["compared"] == before["compared"] + 1, timeout=5)
    assert changed(before, shadow_figures(shadow_router, "mirror-bytes")) == {"queued": 1, "compared": 1, "equal": 1}


def test_a_slow_shadow_does_not_slow_the_client(shadow_router: Running, upstreams: dict[str, str]) -> None:
    """The shadow takes 2 s to answer /slow/2?only=catalog; the primary answers at once."""
    before = shadow_figures(shadow_router, "slow-shadow")
    ids = [f"slow-{uuid.uuid4().hex}" for _ in range(2)]
    started = time.monotonic()
    for request_id in ids:
        t0 = time.monotonic()
        response = httpx.get(f"{shadow_router.url}/slow/2?only=catalog", headers={"X-Request-ID": request_id})
        assert time.monotonic() - t0 < 0.5
        assert response.status_code == 200
        assert response.json() == {"name": "monolith", "slept": 0.0}
    assert time.monotonic() - started < 1.0  # 4 s if the client waited for its shadow
    # The shadow has the requests, and is slow with them: neither is compared yet.
    wait_for(lambda: all(seen_by(upstreams["catalog"], request_id) for request_id in ids), timeout=5)
    assert shadow_figures(shadow_router, "slow-shadow")["compared"] == before["compared"]
    wait_for(lambda: shadow_figures(shadow_router, "slow-shadow")["compared"] == before["compared"] + 2, timeout=6)
    assert time.monotonic() - started >= 2.0


def test_a_full_shadow_queue_drops_and_never_delays_clients(shadow_router: Running) -> None:
    before = shadow_figures(shadow_router, "tight")
    started = time.monotonic()
    responses = fan_out(shadow_router.url, [("/slow/3?only=catalog", {})] * 50, concurrency=50)
    burst = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 50
    assert {r.headers["x-upstream"] for r in responses} == {"monolith"}
    assert burst < 2.0, f"50 requests took {burst:.2f}s"  # each shadow request takes 3 s
    assert max(r.seconds for r in responses) < 1.5
    wait_for(lambda: sum(changed(before, shadow_figures(shadow_router, "tight")).get(key, 0)
                         for key in ("queued", "dropped")) == 50, timeout=5)
    delta = changed(before, shadow_figures(shadow_router, "tight"))
    # Queue of 2 plus the 2 workers' requests in hand: at most a handful got in, the rest were dropped.
    assert 2 <= delta["queued"] <= 6
    assert delta["dropped"] == 50 - delta["queued"]


def test_writes_are_shadowed_only_where_the_route_says_so(shadow_router: Running, upstreams: dict[str, str]) -> None:
    before = shadow_figures(shadow_router, "mirror")
    post_id, get_id = f"post-{uuid.uuid4().hex}", f"get-{uuid.uuid4().hex}"
    response = httpx.post(f"{shadow_router.url}/echo/mirror/orders", content=b"x" * 100,
                          headers={"X-Request-ID": post_id})
    assert (response.status_code, response.headers["x-upstream"]) == (200, "monolith")
    assert httpx.get(f"{shadow_router.url}/echo/mirror/after", headers={"X-Request-ID": get_id}).status_code == 200
    wait_for(lambda: seen_by(upstreams["catalog"], get_id) != [], timeout=5)
    assert seen_by(upstreams["catalog"], post_id) == []
    wait_for(lambda: shadow_figures(shadow_router, "mirror")["compared"] == before["compared"] + 1, timeout=5)
    assert changed(before, shadow_figures(shadow_router, "mirror"))["queued"] == 1  # the GET only

    before = shadow_figures(shadow_router, "writes")
    write_id = f"write-{uuid.uuid4().hex}"
    response = httpx.post(f"{shadow_router.url}/echo/writes/orders", content=b"z" * 1000,
                          headers={"X-Request-ID": write_id})
    assert (response.status_code, response.headers["x-upstream"]) == (200, "monolith")
    wait_for(lambda: seen_by(upstreams["catalog"], write_id) != [], timeout=5)
    [mirrored] = seen_by(upstreams["catalog"], write_id)
    assert (mirrored["method"], mirrored["raw_path"]) == ("POST", "/echo/writes/orders")
    wait_for(lambda: shadow_figures(shadow_router, "writes")["compared"] == before["compared"] + 1, timeout=5)
    assert mirrored["body_length"] == 1000
    assert changed(before, shadow_figures(shadow_router, "writes"))["queued"] == 1


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(router: Running) -> Samples:
    response = admin(router, "GET", "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_admin_token(shadow_router: Running) -> None:
    assert admin(shadow_router, "GET", "/metrics", token=None).status_code == 401
    assert httpx.get(f"{shadow_router.url}/metrics").headers["x-upstream"] == "monolith"  # never public


def test_metrics_count_requests_and_their_latency(shadow_router: Running) -> None:
    before = scrape(shadow_router)
    for n in range(3):
        assert httpx.get(f"{shadow_router.url}/echo/mirror/metrics/{n}").status_code == 200
    assert httpx.get(f"{shadow_router.url}/nowhere").status_code == 404
    after = scrape(shadow_router)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("router_requests_total", route="mirror", backend="monolith", method="GET", code="200") == 3
    assert delta("router_requests_total", route="default", backend="monolith", method="GET", code="404") == 1
    assert delta("router_request_duration_seconds_bucket", route="mirror", backend="monolith", le="+Inf") == 3
    assert delta("router_request_duration_seconds_bucket", route="mirror", backend="monolith", le="5.0") == 3
    assert delta("router_request_duration_seconds_count", route="mirror", backend="monolith") == 3
    assert 0 < delta("router_request_duration_seconds_sum", route="mirror", backend="monolith") < 3
    table = admin(shadow_router, "GET", "/table").json()
    assert value(after, "router_table_version") == table["version"]


def test_metrics_count_upstream_errors_and_show_circuits(shadow_router: Running, upstreams: dict[str, str]) -> None:
    for _ in range(2):
        response = httpx.get(f"{shadow_router.url}/echo/dead/x")
        assert response.status_code == 502
        assert (response.json()["code"], response.json()["route"], response.json()["backend"]) == (
            "connect_failed", "dead", "dead")
    refused = httpx.get(f"{shadow_router.url}/echo/dead/x")
    assert (refused.status_code, refused.json()["code"]) == (503, "circuit_open")  # two failures opened it
    samples = scrape(shadow_router)
    assert value(samples, "router_upstream_errors_total", route="dead", backend="dead", kind="connect_failed") == 2
    assert value(samples, "router_upstream_errors_total", route="dead", backend="dead", kind="circuit_open") == 1
    assert value(samples, "router_requests_total", route="dead", backend="dead", method="GET", code="502") == 2
    assert value(samples, "router_circuit_state", backend="dead", target=DEAD) == 2  # open
    for name, url in upstreams.items():
        assert ("router_circuit_state", (("backend", name), ("target", url))) in samples
        assert value(samples, "router_circuit_state", backend=name, target=url) == 0  # closed


def test_metrics_count_fallbacks(shadow_router: Running) -> None:
    before = scrape(shadow_router)
    response = httpx.get(f"{shadow_router.url}/status/503?only=catalog")
    assert (response.status_code, response.headers["x-upstream"]) == (200, "monolith")
    after = scrape(shadow_router)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("router_fallbacks_total", route="flaky", backend="monolith") == 1
    assert delta("router_upstream_errors_total", route="flaky", backend="catalog", kind="status_503") == 1
    assert delta("router_requests_total", route="flaky", backend="monolith", method="GET", code="200") == 1


def test_metrics_show_shadow_outcomes(shadow_router: Running) -> None:
    assert httpx.get(f"{shadow_router.url}/echo/mirror/shadow-metrics").status_code == 200
    wait_for(lambda: value(scrape(shadow_router), "router_shadow_total", route="mirror", outcome="queued")
             == shadow_figures(shadow_router, "mirror")["queued"] > 0, timeout=5)
    figures = shadow_figures(shadow_router, "mirror")
    samples = scrape(shadow_router)
    for outcome in ("queued", "dropped", "compared", "equal", "different", "errors"):
        assert ("router_shadow_total", (("outcome", outcome), ("route", "mirror"))) in samples
    assert value(samples, "router_shadow_total", route="mirror", outcome="queued") == figures["queued"]


def test_counters_give_per_backend_error_rate_and_latency(shadow_router: Running) -> None:
    for code in (200, 200, 200, 500):
        assert httpx.put(f"{shadow_router.url}/status/{code}").status_code == code
    counters = admin(shadow_router, "GET", "/counters").json()
    rates = counters["routes"]["rates"]
    assert (rates["requests"], rates["status"]) == (4, {"2xx": 3, "5xx": 1})
    catalog = rates["backends"]["catalog"]
    assert (catalog["requests"], catalog["errors"], catalog["error_rate"]) == (4, 1, 0.25)
    assert 0 < catalog["p50_ms"] <= catalog["p99_ms"] < 1000
    assert list(rates["backends"]) == ["catalog"]

    reset = admin(shadow_router, "POST", "/counters/reset")
    assert reset.status_code == 200
    assert "rates" not in admin(shadow_router, "GET", "/counters").json()["routes"]
    assert httpx.put(f"{shadow_router.url}/status/500").status_code == 500
    after = admin(shadow_router, "GET", "/counters").json()["routes"]["rates"]["backends"]["catalog"]
    assert (after["requests"], after["errors"], after["error_rate"]) == (1, 1, 1.0)


# -- admin API -------------------------------------------------------------------------------------------

ADMIN_ROUTES = """\
routes:
  moving: {path: /echo/moving/, backend: catalog}
  other: {path: /echo/other/, backend: catalog, canary: 10}
"""


@pytest.fixture(scope="module")
def admin_router(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Running]:
    with router_for(tmp_path_factory, "admin-router", routes_file(
            "default: monolith\nbackends:\n" + two_backends(upstreams) + ADMIN_ROUTES)) as running:
        yield running


def served_by(router: Running, path: str = "/echo/moving/x") -> str:
    response = httpx.get(router.url + path)
    assert response.status_code == 200
    return response.headers["x-upstream"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/table"), ("GET", "/versions"), ("GET", "/counters"),
                                              ("POST", "/counters/reset"), ("PATCH", "/routes/moving"),
                                              ("POST", "/rollback"), ("POST", "/reload")])
def test_admin_api_needs_the_bearer_token(admin_router: Running, method: str, path: str) -> None:
    version = admin(admin_router, "GET", "/table").json()["version"]
    attempts: list[tuple[str | None, str]] = [(None, "Bearer"), ("wrong-" + ADMIN_TOKEN, "Bearer"),
                                               (ADMIN_TOKEN, "Basic"), (ADMIN_TOKEN[:-1], "Bearer")]
    for token, scheme in attempts:
        response = admin(admin_router, method, path, body={"backend": "monolith"}, token=token, scheme=scheme)
        assert response.status_code == 401, (token, scheme)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert admin(admin_router, "GET", "/table").json()["version"] == version
    assert served_by(admin_router) == "catalog"
    assert admin(admin_router, "GET", "/healthz", token=None).status_code == 200


@pytest.mark.parametrize(("method", "path"), [("GET", "/table"), ("GET", "/versions"), ("GET", "/metrics"),
                                              ("GET", "/counters"), ("GET", "/healthz"),
                                              ("PATCH", "/routes/moving"), ("POST", "/rollback")])
def test_admin_api_is_not_reachable_through_the_public_port(admin_router: Running, method: str, path: str) -> None:
    version = admin(admin_router, "GET", "/table").json()["version"]
    response = httpx.request(method, admin_router.url + path, json={"backend": "monolith"},
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.headers["x-upstream"] == "monolith"  # the default backend answered, not the admin API
    if path == "/healthz":  # the monolith has one of its own
        assert (response.status_code, response.json()) == (200, {"status": "ok", "name": "monolith"})
    else:
        assert response.status_code == 404
    assert admin(admin_router, "GET", "/table").json()["version"] == version
    # Nor does the admin port forward anything.
    assert admin(admin_router, "GET", "/echo/moving/x").status_code == 404
    assert "x-upstream" not in admin(admin_router, "GET", "/echo/moving/x").headers


def test_table_and_versions(admin_router: Running, upstreams: dict[str, str]) -> None:
    table = admin(admin_router, "GET", "/table")
    assert table.status_code == 200
    body = table.json()
    assert body["default"] == "monolith"
    assert body["backends"]["catalog"]["targets"] == [upstreams["catalog"]]
    assert body["routes"]["other"] == {"path": "/echo/other/", "match": "prefix", "methods": None,
                                       "backend": "catalog", "canary": 10, "fallback": None, "shadow": None}
    versions = admin(admin_router, "GET", "/versions").json()
    assert versions[-1]["version"] == body["version"]
    assert versions[-1]["table_version"] == body["table_version"]
    assert [v["version"] for v in versions] == list(range(versions[0]["version"], body["version"] + 1))
    if versions[0]["version"] == 1:
        assert versions[0]["origin"] == "start"


def test_an_invalid_change_is_refused_and_the_table_kept(admin_router: Running) -> None:
    before = admin(admin_router, "GET", "/table").json()
    response = admin(admin_router, "PATCH", "/routes/other", body={"canary": 140})
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert any("routes.other.canary" in p and "140" in p for p in problems), problems
    unknown_backend = admin(admin_router, "PATCH", "/routes/moving", body={"backend": "nowhere"})
    assert unknown_backend.status_code == 400
    assert any("routes.moving.backend" in p and "nowhere" in p for p in unknown_backend.json()["problems"])
    for body, content in (({"path": "/elsewhere/"}, None), ({"backend": "monolith", "methods": ["GET"]}, None),
                          (None, b"{not json"), (["backend", "monolith"], None), ({}, None)):
        refused = admin(admin_router, "PATCH", "/routes/moving", body=body, content=content)
        assert refused.status_code == 400, (body, content)
    missing = admin(admin_router, "PATCH", "/routes/nope", body={"backend": "monolith"})
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]
    assert admin(admin_router, "GET", "/table").json() == before
    assert served_by(admin_router) == "catalog"


def test_a_change_moves_traffic_and_rollback_undoes_it(admin_router: Running) -> None:
    version = admin(admin_router, "GET", "/table").json()["version"]
    assert served_by(admin_router) == "catalog"
    patched = admin(admin_router, "PATCH", "/routes/moving", body={"backend": "monolith"})
    assert patched.status_code == 200
    assert (patched.json()["version"], patched.json()["routes"]["moving"]["backend"]) == (version + 1, "monolith")
    assert [served_by(admin_router) for _ in range(5)] == ["monolith"] * 5
    assert served_by(admin_router, "/echo/other/x") in ("monolith", "catalog")  # other routes unaffected
    assert "routes.moving" in admin(admin_router, "GET", "/versions").json()[-1]["origin"]

    rolled = admin(admin_router, "POST", "/rollback")
    assert rolled.status_code == 200
    assert (rolled.json()["version"], rolled.json()["routes"]["moving"]["backend"]) == (version + 2, "catalog")
    assert rolled.json()["origin"].startswith("rollback")
    assert [served_by(admin_router) for _ in range(5)] == ["catalog"] * 5


def test_reload_of_a_broken_file_is_refused_and_the_table_keeps_serving(admin_router: Running) -> None:
    original = admin_router.config.read_text()
    before = admin(admin_router, "GET", "/table").json()
    admin_router.config.write_text(original.replace("canary: 10}", "canary: 140}"))
    try:
        response = admin(admin_router, "POST", "/reload")
        assert response.status_code == 400
        problems = response.json()["problems"]
        assert any(str(admin_router.config) in p and "routes.other.canary" in p for p in problems), problems
        time.sleep(1.2)  # the file watcher sees the change too, and refuses it as well
        assert admin(admin_router, "GET", "/table").json() == before
        assert served_by(admin_router) == "catalog"
    finally:
        admin_router.config.write_text(original)
    reloaded = admin(admin_router, "POST", "/reload")
    assert reloaded.status_code == 200
    assert reloaded.json()["table_version"] == before["table_version"]


def test_a_route_moved_under_load_fails_no_request(admin_router: Running) -> None:
    # Earlier tests rewrote the routes file: settle on it now, so no reload lands in the middle of this one.
    assert admin(admin_router, "POST", "/reload").status_code == 200
    assert admin(admin_router, "PATCH", "/routes/moving", body={"backend": "catalog"}).status_code == 200
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def run() -> tuple[list[tuple[float, float, str]], list[tuple[float, float, str]]]:
        results: list[tuple[float, float, str]] = []
        marks: list[tuple[float, float, str]] = []
        stop = asyncio.Event()
        # 50 clients, each on its own keep-alive connection, sending one request after another.
        async with aiohttp.ClientSession(admin_router.url, connector=aiohttp.TCPConnector(limit=50),
                                         timeout=aiohttp.ClientTimeout(total=10)) as clients, \
                httpx.AsyncClient(base_url=admin_router.admin_url, headers=auth, timeout=10) as control:
            async def user(n: int) -> None:
                i = 0
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        async with clients.get(f"/echo/moving/u{n}/{i}") as response:
                            body = await response.read()
                            outcome = response.headers.get("x-upstream", "")
                            if response.status != 200 or json.loads(body)["name"] != outcome:
                                outcome = f"status {response.status}: {body[:200]!r}"
                    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                        outcome = f"error {type(exc).__name__}: {exc}"
                    results.append((started, time.monotonic(), outcome))
                    i += 1

            users = [asyncio.create_task(user(n)) for n in range(50)]
            await asyncio.sleep(0.8)
            for backend in ("monolith", "catalog", "monolith", "catalog"):
                sent = time.monotonic()
                response = await control.patch("/routes/moving", json={"backend": backend})
                assert response.status_code == 200, response.text
                marks.append((sent, time.monotonic(), backend))
                await asyncio.sleep(0.6)
            stop.set()
            await asyncio.gather(*users)
        return results, marks

    results, marks = asyncio.run(run())
    failures = [outcome for _, _, outcome in results if outcome not in ("monolith", "catalog")]
    assert failures == [], f"{len(failures)} of {len(results)} failed, e.g. {failures[:3]}"
    assert len(results) >= 500
    # Whatever ran wholly before the first change went to catalog; whatever ran wholly between one change's
    # answer and the next change went where that change said.
    windows = [(float("-inf"), marks[0][0], "catalog")]
    windows += [(mark[1], following[0], mark[2]) for mark, following in zip(marks, marks[1:], strict=False)]
    windows.append((marks[-1][1], float("inf"), marks[-1][2]))
    for start, end, backend in windows:
        inside = [outcome for began, ended, outcome in results if began > start and ended < end]
        assert len(inside) >= 20, f"too few requests between changes ({len(inside)})"
        assert set(inside) == {backend}
