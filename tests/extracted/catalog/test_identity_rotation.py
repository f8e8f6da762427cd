"""Rotating the identity key (README, "Rotating the identity key"): two keys are valid during the overlap.

In-process: the catalog service accepts a token of its current or its previous key (``ROUTER_IDENTITY_SECRET``,
``ROUTER_IDENTITY_SECRET_PREVIOUS``) and answers 401 for one whose ``kid`` names neither.

Under load, with real processes: the monolith (gunicorn), two catalog services on the catalog's own database
(split from the monolith's with its plan; the second is the route's ``fallback:``, which answers while the first
restarts) and the router in front, its identity bridge asking the monolith. Staff read, through the router and
without pause from a few threads, a product only staff see (inactive: anonymous is a 404, a refused token a 401)
and the product list, while the key is rotated by the documented steps: the services restarted one at a time with
the new key as current and the old as previous, the router switched to the new key by a reload of its routes
file (its admin API), and after the tokens' lifetime the previous key dropped from the services. Every request
must be answered 200.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import update

from extracted.catalog.db import make_engine
from extracted.catalog.identity import key_id
from extracted.catalog.models import products
from strangler.processes import ManagedProcess, free_port
from tests.extracted.catalog.conftest import PRODUCTS, SECRET, mint
from tests.support.servers import ROOT, running_router, running_shop, scratch_database

OLD_KEY = "rotation-old-identity-key-" + uuid.uuid4().hex
NEW_KEY = "rotation-new-identity-key-" + uuid.uuid4().hex
ADMIN_ENV = "ROTATION_ROUTER_ADMIN_TOKEN"
ADMIN_TOKEN = uuid.uuid4().hex
TOKEN_TTL = 2        # the router's identity.token_ttl: short, so the overlap ends within the test
LEEWAY = 5           # the services' verifier's leeway on exp
HIDDEN = 3           # the product made inactive: only staff see it


def _with_kid(key: str, **claims: object) -> str:
    token = mint(1, staff=True, secret=key, **claims)
    return jwt.encode(jwt.decode(token, options={"verify_signature": False}), key, algorithm="HS256",
                      headers={"kid": key_id(key)})


# --- in-process: the service's keys -----------------------------------------------------------------------------------

def test_a_token_of_the_previous_key_is_served_during_the_overlap(client, dataset, monkeypatch) -> None:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", NEW_KEY)
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET_PREVIOUS", f"{OLD_KEY},{SECRET}")
    for token in (_with_kid(NEW_KEY), _with_kid(OLD_KEY), mint(1, staff=True, secret=OLD_KEY), mint(1, staff=True)):
        response = client.get(f"{PRODUCTS}1/", headers={"X-Identity-Token": token})
        assert response.status_code == 200, response.text


def test_a_token_of_a_key_the_service_was_not_given_is_a_401(client, dataset, monkeypatch) -> None:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", NEW_KEY)
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET_PREVIOUS", OLD_KEY)
    stranger = "a-key-this-service-was-never-given-" + "x" * 16
    for token in (_with_kid(stranger), mint(1, staff=True, secret=stranger)):
        response = client.get(PRODUCTS, headers={"X-Identity-Token": token})
        assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})
    monkeypatch.delenv("ROUTER_IDENTITY_SECRET_PREVIOUS")  # the overlap is over: the old key's tokens are refused
    assert client.get(PRODUCTS, headers={"X-Identity-Token": _with_kid(OLD_KEY)}).status_code == 401


# --- under load, real processes ---------------------------------------------------------------------------------------

@dataclass
class Service:
    """One catalog service process on a fixed port, restarted with other keys as a deployment would."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, current: str, previous: str | None = None) -> None:
        env = {**self.env, "ROUTER_IDENTITY_SECRET": current}
        env.pop("ROUTER_IDENTITY_SECRET_PREVIOUS", None)
        if previous is not None:
            env["ROUTER_IDENTITY_SECRET_PREVIOUS"] = previous
        self.process = ManagedProcess(self.name, [sys.executable, "-m", "extracted.catalog", "--port", str(self.port)],
                                      log_path=self.log, env=env, cwd=ROOT)
        self.process.start()
        self.process.wait_healthy(f"{self.url}/healthz")

    def restart(self, current: str, previous: str | None = None) -> None:
        self.stop()
        self.start(current, previous)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def answers(self, token: str) -> int:
        return httpx.get(f"{self.url}{PRODUCTS}{HIDDEN}/", headers={"X-Identity-Token": token}, timeout=10).status_code


@dataclass
class Load:
    """Staff reading through the router from ``threads`` threads until stopped; every answer counted by phase."""

    router: str
    authorization: str
    threads: int = 2
    pause: float = 0.02   # between a thread's requests: continuous load, not a benchmark (CI's CPU is shared)
    phase: str = "old key"
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        paths = (f"{PRODUCTS}{HIDDEN}/", f"{PRODUCTS}?page_size=5")
        with httpx.Client(base_url=self.router, headers={"Authorization": self.authorization}, timeout=10) as client:
            n = 0
            while not self._stop.is_set():
                path, phase = paths[n % 2], self.phase
                n += 1
                try:
                    response = client.get(path)
                    status, problem = response.status_code, (None if response.status_code == 200 else
                                                             f"{phase}: GET {path}: {response.status_code} "
                                                             f"{response.text[:200]}")
                except httpx.HTTPError as exc:
                    status, problem = -1, f"{phase}: GET {path}: {type(exc).__name__}: {exc}"
                with self._lock:
                    self.answers[(phase, status)] += 1
                    if problem is not None:
                        self.failures.append(problem)
                time.sleep(self.pause)

    def __enter__(self) -> Load:
        self._workers = [threading.Thread(target=self.run, daemon=True) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=15)

    def served(self, phase: str) -> int:
        with self._lock:
            return self.answers[(phase, 200)]

    def wait_for(self, phase: str, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.served(phase) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.served(phase) >= count, f"{phase}: {self.served(phase)} requests answered 200 in {timeout}s"


def _split(env: dict[str, str]) -> None:
    for operation in ("provision", "copy"):
        done = subprocess.run([sys.executable, "manage.py", "strangler", "split", operation,  # noqa: S603
                               "migration_plans/catalog.yaml", "--quiet"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"split {operation}: {done.stdout}\n{done.stderr}"


def _routes(shop_url: str, first: Service, second: Service, secret_env: str) -> str:
    return textwrap.dedent(f"""\
        version: 1
        listen: "{{listen}}"
        admin: {{listen: "{{admin_listen}}", token_env: {ADMIN_ENV}}}
        default: monolith
        backends:
          monolith: {{targets: ["{shop_url}"], health: {{interval: 0}}}}
          catalog: {{targets: ["{first.url}"], health: {{interval: 0}},
                         circuit: {{reset_after: 0.5}}}}
          catalog-spare: {{targets: ["{second.url}"], health: {{interval: 0}},
                         circuit: {{reset_after: 0.5}}}}
        routes:
          catalog-reads: {{path: /api/catalog/, methods: [GET, HEAD, OPTIONS], backend: catalog,
                           fallback: catalog-spare}}
        identity:
          resolve_url: "{shop_url}/api/accounts/me/"
          cache_seconds: 5
          token_ttl: {TOKEN_TTL}
          secret_env: {secret_env}
        """)


@pytest.fixture
def shop_with_catalog(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """The monolith, and the catalog's database split from it with one product made inactive: (shop URL, the
    staff's API token, the services' environment)."""
    with running_shop(tmp_path, seed_args=("--products", "20", "--users", "2", "--orders", "0")) as shop, \
            scratch_database(tmp_path / "catalog") as catalog_db:
        env = {**shop.env, "CATALOG_DATABASE_URL": catalog_db, "CATALOG_MONOLITH_URL": shop.url}
        _split(env)
        engine = make_engine(catalog_db)
        with engine.begin() as conn:
            conn.execute(update(products).where(products.c.id == HIDDEN).values(is_active=False))
        engine.dispose()
        login = httpx.post(f"{shop.url}/api/accounts/login/", timeout=30,
                           json={"email": "staff@example.com", "password": "shop-demo-password"})
        assert login.status_code == 200, login.text
        yield shop.url, login.json()["token"], env


@pytest.mark.slow
def test_a_key_rotation_under_load_fails_no_request(tmp_path: Path,
                                                     shop_with_catalog: tuple[str, str, dict[str, str]]) -> None:
    shop_url, staff_token, env = shop_with_catalog
    first = Service("catalog-1", free_port(), env, tmp_path / "catalog-1.log")
    second = Service("catalog-2", free_port(), env, tmp_path / "catalog-2.log")
    router_env = {**os.environ, ADMIN_ENV: ADMIN_TOKEN, "ROUTER_IDENTITY_SECRET": OLD_KEY,
                  "ROUTER_IDENTITY_SECRET_NEXT": NEW_KEY}
    started = time.monotonic()
    try:
        first.start(OLD_KEY)
        second.start(OLD_KEY)
        (tmp_path / "router").mkdir()
        with running_router(tmp_path / "router", _routes(shop_url, first, second, "ROUTER_IDENTITY_SECRET"),
                            env=router_env) as (router_url, router, routes_file):
            admin = httpx.Client(base_url=router.admin_url,  # type: ignore[attr-defined]
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
            # Anonymous callers do not see the hidden product: a 200 below is a token verified as staff's.
            assert httpx.get(f"{router_url}{PRODUCTS}{HIDDEN}/").status_code == 404
            with Load(router_url, f"Token {staff_token}") as load:
                load.wait_for("old key", 20)

                # 1. The services: the new key as current, the old as previous; one at a time (the spare first,
                # then the first while the spare answers for it).
                load.phase = "services restarted with both keys"
                second.restart(NEW_KEY, previous=OLD_KEY)
                first.restart(NEW_KEY, previous=OLD_KEY)
                for service in (first, second):
                    assert service.answers(_with_kid(OLD_KEY)) == service.answers(_with_kid(NEW_KEY)) == 200
                load.wait_for(load.phase, 20)

                # 2. The router: its routes file names the variable holding the new key; a reload switches it.
                load.phase = "router switched"
                routes_file.write_text(routes_file.read_text().replace(
                    "secret_env: ROUTER_IDENTITY_SECRET\n", "secret_env: ROUTER_IDENTITY_SECRET_NEXT\n"))
                reloaded = admin.post("/reload")
                assert reloaded.status_code == 200, reloaded.text
                load.wait_for(load.phase, 20)

                # 3. Once no token of the old key can still be valid, the services drop it.
                time.sleep(TOKEN_TTL + LEEWAY)
                load.phase = "previous key dropped"
                second.restart(NEW_KEY)
                first.restart(NEW_KEY)
                for service in (first, second):
                    assert (service.answers(_with_kid(OLD_KEY)), service.answers(_with_kid(NEW_KEY))) == (401, 200)
                load.wait_for(load.phase, 40)  # only the new key verifies now: the router signs with it
            counters = admin.get("/counters").json()
            admin.close()
    finally:
        first.stop()
        second.stop()
    total = sum(load.answers.values())
    figures = {f"{phase}: {status}": n for (phase, status), n in sorted(load.answers.items())}
    print(f"\nkey rotation under load: {total} requests in {time.monotonic() - started:.1f}s, "
          f"{len(load.failures)} failed; {figures}; router counters: {counters.get('routes', counters)}")
    assert not load.failures, f"{len(load.failures)} of {total} requests failed:\n" + "\n".join(load.failures[:20])
    assert total >= 100
