"""The parity regression suite: the checked-in corpus (``corpus/shop.flows``) replayed by
``manage.py strangler replay`` against (a) a freshly seeded monolith and (b) the router with
``/api/catalog/`` moved to the extracted catalog service (its own database, filled by the data split);
any unexplained difference fails. A service made to differ on one product is caught, with the path of
the difference; and a file recorded through ``manage.py strangler record`` holds no secret.

Every server is a real process on a free port (gunicorn, the catalog service, the router, mitmdump),
started once per module and stopped afterwards. Rebuild the corpus with scripts/make_parity_corpus.py.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from strangler.parity.flows import read_requests
from strangler.parity.recorder import STATUS_PATH
from strangler.processes import ManagedProcess, free_port
from tests.parity import corpus_spec as spec
from tests.support.servers import ROOT, ShopServer, running_router, running_shop

pytestmark = pytest.mark.slow

PLAN = ROOT / "migration_plans" / "catalog.yaml"
ADMIN_ENV = "PARITY_ROUTER_ADMIN_TOKEN"
IDENTITY_SECRET = f"parity-identity-secret-{uuid.uuid4().hex}"


@dataclass
class Stack:
    shop: ShopServer
    service_url: str
    service_db: Path
    router_url: str
    tmp: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("parity")
    with running_shop(base, seed_args=spec.SEED_ARGS) as shop:
        service_db = base / "catalog.sqlite3"
        env = {**shop.env, "CATALOG_DATABASE_URL": f"sqlite:///{service_db}", "ROUTER_IDENTITY_SECRET": IDENTITY_SECRET}
        for operation in ("provision", "copy"):
            done = subprocess.run([sys.executable, "manage.py", "strangler", "split", operation, str(PLAN), "--quiet"],
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"split {operation}: {done.stdout}\n{done.stderr}"
        port = free_port()
        service = ManagedProcess("catalog", [sys.executable, "-m", "extracted.catalog", "--port", str(port)],
                                 log_path=base / "catalog.log", env=env, cwd=ROOT)
        with service:
            service_url = f"http://127.0.0.1:{port}"
            service.wait_healthy(f"{service_url}/healthz")
            routes = textwrap.dedent(f"""\
                version: 1
                listen: "{{listen}}"
                admin: {{listen: "{{admin_listen}}", token_env: {ADMIN_ENV}}}
                default: monolith
                backends:
                  monolith: {{targets: ["{shop.url}"], health: {{interval: 0}}}}
                  catalog: {{targets: ["{service_url}"], health: {{interval: 0}}}}
                routes:
                  catalog:
                    path: /api/catalog/
                    backend: catalog
                """)
            (base / "router").mkdir()
            with running_router(base / "router", routes, env={ADMIN_ENV: uuid.uuid4().hex}) as (router_url, _, _):
                yield Stack(shop, service_url, service_db, router_url, base)


Replayed = tuple[subprocess.CompletedProcess[str], dict[str, Any], ET.Element]


def replay(stack: Stack, against: str, *extra: str, name: str) -> Replayed:
    junit, report = stack.tmp / f"{name}.xml", stack.tmp / f"{name}.json"
    done = subprocess.run(
        [sys.executable, "manage.py", "strangler", "replay", str(spec.FLOWS), "--against", against,
         "--rules", str(spec.RULES), "--junit", str(junit), "--json", str(report), *extra],
        cwd=ROOT, env=stack.shop.env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), f"replay failed to run ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done, json.loads(report.read_text()), ET.parse(junit).getroot()  # noqa: S314 - our own file


def login_token(url: str) -> str:
    response = httpx.post(f"{url}/api/accounts/login/", json=spec.LOGIN, headers={"Host": spec.HOST}, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def assert_all_equal(done: subprocess.CompletedProcess[str], report: dict[str, Any]) -> None:
    different = [r for r in report["requests"] if r["outcome"] in ("different", "error")]
    assert done.returncode == 0 and not different, (
        "unexplained differences:\n" + "\n".join(f"{r['method']} {r['path']}: {r['differences'] or r['reason']}"
                                                   for r in different) + "\n" + done.stdout + done.stderr)


def test_corpus_is_small_and_opens_in_mitmproxy() -> None:
    size = spec.FLOWS.stat().st_size
    requests = read_requests(spec.FLOWS)
    assert size < 200_000 and len(requests) >= 40
    assert all(r.response is not None for r in requests)
    assert {r.method for r in requests} >= {"GET", "HEAD", "OPTIONS", "POST"}


def test_corpus_replays_equal_against_the_monolith(stack: Stack) -> None:
    done, report, junit = replay(stack, stack.shop.url, "--auth-token", login_token(stack.shop.url), name="monolith")
    assert_all_equal(done, report)
    totals = report["totals"]
    # Everything but the login (a write, whose request holds a redacted password) was sent and was equal.
    assert totals["skipped"] == 1 and totals["equal"] == totals["recorded"] - 1
    assert report["skipped_because"] and "write" in next(iter(report["skipped_because"]))
    suite = junit.find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and suite.get("errors") == "0"
    assert len(suite.findall("testcase")) == totals["recorded"]
    assert "GET /api/catalog/products/{id}/" in report["groups"]
    assert "GET /api/catalog/products/" in done.stdout and "OK" in done.stdout


def test_without_a_token_authenticated_requests_are_skipped_and_counted(stack: Stack) -> None:
    done, report, _ = replay(stack, stack.shop.url, "--path-prefix", "/api/accounts/", name="no-token")
    assert done.returncode == 0
    reasons = report["skipped_because"]
    auth = [count for reason, count in reasons.items() if "authentication" in reason]
    assert auth == [len(spec.AUTHENTICATED_READS)], reasons
    assert "needed authentication" in done.stdout


def test_corpus_replays_equal_through_the_router_with_the_catalog_moved(stack: Stack) -> None:
    done, report, _ = replay(stack, stack.router_url, "--auth-token", login_token(stack.shop.url), name="router")
    assert_all_equal(done, report)
    catalog = [r for r in report["requests"] if r["path"].startswith("/api/catalog/")]
    assert len(catalog) >= 30 and all(r["outcome"] == "equal" for r in catalog)


def _set_price(db: Path, product_id: int, price: str | None = None) -> str:
    with sqlite3.connect(db) as conn:
        (old,) = conn.execute("SELECT price FROM products WHERE id = ?", [product_id]).fetchone()
        if price is not None:
            conn.execute("UPDATE products SET price = ? WHERE id = ?", [price, product_id])
    return str(old)


@pytest.mark.parametrize("versus", ["recording", "baseline"])
def test_a_service_differing_on_one_product_is_caught(stack: Stack, versus: str) -> None:
    original = _set_price(stack.service_db, 17, "12345.67")
    try:
        extra = ("--baseline", stack.shop.url) if versus == "baseline" else ()
        done, report, junit = replay(stack, stack.router_url, "--path-prefix", "/api/catalog/products/17/", *extra,
                                     name=f"differs-{versus}")
    finally:
        _set_price(stack.service_db, 17, original)
    assert done.returncode == 1, done.stdout + done.stderr
    different = [r for r in report["requests"] if r["outcome"] == "different"]
    assert [r["path"] for r in different] == ["/api/catalog/products/17/"]
    assert [(d["path"], d["got"]) for d in different[0]["differences"]] == [("$.price", "12345.67")]
    failures = junit.findall(".//failure")
    assert len(failures) == 1 and "$.price" in (failures[0].text or "")
    assert "$.price" in done.stdout and "DIFFERENCES" in done.stdout


def test_the_whole_corpus_catches_the_changed_product(stack: Stack) -> None:
    original = _set_price(stack.service_db, 17, "12345.67")
    try:
        done, report, _ = replay(stack, stack.router_url, name="differs-corpus")
    finally:
        _set_price(stack.service_db, 17, original)
    assert done.returncode == 1
    paths = {r["path"] for r in report["requests"] if r["outcome"] == "different"}
    assert "/api/catalog/products/17/" in paths
    for r in report["requests"]:  # product 17 in lists too, and nothing but its price
        if r["outcome"] == "different":
            assert [(d["path"].rsplit(".", 1)[-1], d["got"]) for d in r["differences"]] == [("price", "12345.67")], r


# -- recording ----------------------------------------------------------------------------------------------

@dataclass
class Recording:
    data: bytes
    output: str
    secrets: dict[str, str]
    path: Path


def _record(stack: Stack, name: str, *extra: str) -> tuple[ManagedProcess, str, Path]:
    port, flows = free_port(), stack.tmp / f"{name}.flows"
    recorder = ManagedProcess(
        f"record-{name}", [sys.executable, "manage.py", "strangler", "record", "--to", str(flows), "--upstream",
                           stack.shop.url, "--listen", f"127.0.0.1:{port}", *extra],
        log_path=stack.tmp / f"{name}.log", env=stack.shop.env, cwd=ROOT)
    return recorder, f"http://127.0.0.1:{port}", flows


@pytest.fixture(scope="module")
def recording(stack: Stack) -> Recording:
    recorder, url, flows = _record(stack, "secrets")
    secrets: dict[str, str] = {}
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    identity = f"eyJhbGciOiJIUzI1NiJ9.{uuid.uuid4().hex}.{uuid.uuid4().hex}"
    with recorder:
        recorder.wait_healthy(url + STATUS_PATH)
        with httpx.Client(base_url=url, headers={"Host": spec.HOST}, timeout=30) as http:
            login = http.post("/api/accounts/login/", json=spec.LOGIN)
            assert login.status_code == 200, login.text
            secrets["login password"] = spec.LOGIN["password"]
            secrets["login token"] = login.json()["token"]
            secrets["session id"] = login.cookies["sessionid"]
            me = http.get("/api/accounts/me/", headers={"Authorization": f"Token {secrets['login token']}"})
            assert me.status_code == 200
            page = http.get("/accounts/login/")  # HTML form: csrfmiddlewaretoken, csrftoken cookie
            secrets["csrf cookie"] = http.cookies["csrftoken"]
            marker = 'name="csrfmiddlewaretoken" value="'
            secrets["form csrf"] = page.text.split(marker, 1)[1].split('"', 1)[0]
            http.post("/accounts/login/", data={"csrfmiddlewaretoken": secrets["form csrf"], "username": email,
                                                "password": "form-password-" + uuid.uuid4().hex})
            secrets["form password"] = "form-password-"  # the prefix is enough: no part of it may remain
            http.get("/api/catalog/products/1/", headers={"X-Identity-Token": identity,
                                                          "X-CSRFToken": secrets["csrf cookie"]})
            secrets["identity token"] = identity
            password = "register-" + uuid.uuid4().hex
            register = http.post("/api/accounts/register/", json={"email": email, "password": password,
                                                                  "first_name": "Rita", "last_name": "Redacted"})
            assert register.status_code == 201, register.text
            secrets["register password"], secrets["register token"] = password, register.json()["token"]
    return Recording(flows.read_bytes(), recorder.log_tail(20), secrets, flows)


def test_a_recorded_flow_file_holds_no_secret(recording: Recording) -> None:
    assert recording.data, recording.output
    for what, secret in recording.secrets.items():
        assert secret.encode() not in recording.data, f"{what} ({secret}) is in the flow file"
    assert b"[redacted]" in recording.data


def test_the_redacted_file_still_shows_what_happened(recording: Recording) -> None:
    requests = read_requests(recording.path)
    assert [r.label for r in requests][:2] == ["POST /api/accounts/login/", "GET /api/accounts/me/"]
    login, me = requests[0], requests[1]
    assert json.loads(login.body) == {"email": spec.LOGIN["email"], "password": "[redacted]"}
    assert login.response is not None and json.loads(login.response.body)["token"] == "[redacted]"
    assert json.loads(login.response.body)["user"]["email"] == spec.LOGIN["email"]
    cookies = [v for k, v in login.response.headers if k.lower() == "set-cookie"]
    assert cookies and all("=[redacted]" in c for c in cookies) and any(c.startswith("sessionid=") for c in cookies)
    assert dict(me.headers)["Authorization"] == "Token [redacted]" and me.credentials
    assert "recorded 6 flows" in recording.output


def test_recording_stops_writing_at_the_bound_and_says_so(stack: Stack) -> None:
    recorder, url, flows = _record(stack, "bounded", "--max-flows", "2")
    with recorder:
        recorder.wait_healthy(url + STATUS_PATH)
        for n in range(1, 5):
            assert httpx.get(f"{url}/api/catalog/products/{n}/", headers={"Host": spec.HOST}).status_code == 200
        status = httpx.get(url + STATUS_PATH).json()
    assert status["flows"] == 2 and status["dropped"] == 2 and status["limit_reached"] == "--max-flows 2"
    assert len(read_requests(flows)) == 2
    log = recorder.log_tail(20)
    assert "--max-flows 2 reached" in log and "stopped writing at --max-flows 2 (2 flows not written)" in log
