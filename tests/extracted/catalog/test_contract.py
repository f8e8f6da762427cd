"""Contract: the catalog service answers like the monolith's /api/catalog/, over real HTTP.

The monolith runs under gunicorn on a seeded database; the data-split engine provisions the service's own
database and copies the catalog into it (``manage.py strangler split provision|copy``); the service runs
as its own process. The same requests go to both: status, JSON body and the headers a client relies on
must be equal. Writes are made in the same order on both sides (the monolith authorised by its API
token, the service by the router's identity token for the same user), so they also show that the copy
left both databases in the same state, id counters included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from strangler.processes import ManagedProcess, free_port
from tests.support.servers import ROOT, ShopServer, running_shop, scratch_database

pytestmark = pytest.mark.slow

SECRET = "contract-tests-identity-secret-0123456789"
PLAN = ROOT / "migration_plans" / "catalog.yaml"
P = "/api/catalog/products/"
C = "/api/catalog/categories/"
COMPARED_HEADERS = ("content-type", "allow", "www-authenticate")


@dataclass
class Side:
    http: httpx.Client
    auth: dict[str, dict[str, str]]  # who -> headers


@pytest.fixture(scope="module")
def sides(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side]]:
    base = tmp_path_factory.mktemp("contract")
    with running_shop(base, seed_args=("--products", "300", "--users", "3", "--orders", "5")) as shop, \
            scratch_database(base / "catalog") as service_db:
        # In the PostgreSQL pass the service's database is on PostgreSQL too (scratch_database follows
        # MONOLITH_DATABASE_URL's kind): SQL that only SQLite accepts is caught here.
        env = {**shop.env, "CATALOG_DATABASE_URL": service_db, "ROUTER_IDENTITY_SECRET": SECRET}
        for operation in ("provision", "copy", "verify"):
            done = subprocess.run([sys.executable, "manage.py", "strangler", "split", operation, str(PLAN)],  # noqa: S603
                                  cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"split {operation}: {done.stdout}\n{done.stderr}"
        port = free_port()
        service = ManagedProcess("catalog", [sys.executable, "-m", "extracted.catalog", "--port", str(port)],
                                 log_path=base / "catalog.log", env=env, cwd=ROOT)
        with service:
            service.wait_healthy(f"http://127.0.0.1:{port}/healthz")
            # The same Host on both sides: pagination links are absolute, built from it.
            with httpx.Client(base_url=shop.url, headers={"Host": "localhost"}, timeout=30) as mono, \
                    httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": "localhost"},
                                 timeout=30) as svc:
                yield (Side(mono, _monolith_auth(shop, mono)), Side(svc, _service_auth(mono)))


def _login(http: httpx.Client, email: str) -> tuple[str, dict[str, Any]]:
    # A client of its own: login also opens a session, whose cookie must not leak into the compared calls.
    with httpx.Client(base_url=http.base_url, timeout=30) as fresh:
        response = fresh.post("/api/accounts/login/", json={"email": email, "password": "shop-demo-password"})
        assert response.status_code == 200, response.text
        body = response.json()
    return body["token"], body["user"]


def _monolith_auth(shop: ShopServer, mono: httpx.Client) -> dict[str, dict[str, str]]:
    return {who: {"Authorization": f"Token {_login(mono, email)[0]}"}
            for who, email in (("staff", "staff@example.com"), ("customer", "customer1@example.com"))}


def _service_auth(mono: httpx.Client) -> dict[str, dict[str, str]]:
    auth = {}
    for who, email in (("staff", "staff@example.com"), ("customer", "customer1@example.com")):
        user = _login(mono, email)[1]
        now = int(time.time())
        token = jwt.encode({"sub": str(user["id"]), "staff": user["is_staff"], "iat": now, "exp": now + 3600,
                            "iss": "strangler-router", "aud": "strangler-services"}, SECRET, algorithm="HS256")
        auth[who] = {"X-Identity-Token": token}
    return auth


def _normalise(response: httpx.Response, *, mask_times: bool) -> Any:
    try:
        data = response.json()
    except ValueError:
        return response.content

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: "<time>" if mask_times and k in ("created_at", "updated_at") else walk(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(data)


def exchange(sides: tuple[Side, Side], method: str, path: str, *, who: str | None = None,
             body: Any = None, raw: bytes | None = None, content_type: str = "application/json",
             write: bool = False) -> tuple[int, Any]:
    answers = []
    for side in sides:
        headers = dict(side.auth[who]) if who else {}
        content = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if content is not None:
            headers["Content-Type"] = content_type
        response = side.http.request(method, path, headers=headers, content=content)
        answers.append((response.status_code, _normalise(response, mask_times=write),
                        {h: response.headers.get(h) for h in COMPARED_HEADERS}))
    mono, svc = answers
    assert mono == svc, f"{method} {path} differs:\n monolith {mono}\n service  {svc}"
    return mono[0], mono[1]


READS = [
    P, P + "?page=2", P + "?page=last", P + "?page=15", P + "?page=16", P + "?page=0", P + "?page=abc",
    P + "?page_size=7&page=3", P + "?page_size=100", P + "?page_size=101", P + "?page_size=0", P + "?page_size=x",
    P + "?ordering=price", P + "?ordering=-price,name", P + "?ordering=-id", P + "?ordering=created_at",
    P + "?ordering=-created_at&page=2", P + "?ordering=bogus", P + "?ordering=stock,-stock",
    P + "?ordering=-name&page=3",
    P + "?category=1", P + "?category=2", P + "?category=999", P + "?category=abc", P + "?category=0",
    P + "?category=99999999999999999999",
    P + "?search=knife", P + "?search=KNIFE", P + "?search=%25", P + "?search=_", P + "?search=%20%20",
    P + "?search=" + "x" * 201, P + "?search=a%00b", P + "?search=cr%C3%A8me", P + "?search=%E4%BA%BA%E6%B0%97",
    P + "?min_price=100", P + "?max_price=50.5", P + "?min_price=10&max_price=20", P + "?min_price=-1",
    P + "?min_price=abc", P + "?min_price=1e400", P + "?min_price=NaN", P + "?max_price=99999999999999999999",
    P + "?in_stock=true", P + "?in_stock=0", P + "?in_stock=yes", P + "?in_stock=TRUE",
    P + "?category=abc&min_price=x&in_stock=maybe&ordering=bad&page_size=0",
    P + "?search=oak&category=1&ordering=-price&page_size=5&page=2", P + "?colour=red",
    P + "1/", P + "2/", P + "999999/", P + "99999999999999999999/", P + "abc/", P + "1", P + "1/stock/",
    C, C + "1/", C + "9999/", C + "abc/", "/api/catalog/nothing/",
]


@pytest.mark.parametrize("path", READS)
def test_reads_are_equal(sides: tuple[Side, Side], path: str) -> None:
    exchange(sides, "GET", path)


@pytest.mark.parametrize("who", [None, "customer", "staff"])
def test_reads_are_equal_whoever_asks(sides: tuple[Side, Side], who: str | None) -> None:
    for path in (P, P + "?page=2", P + "1/", C):
        exchange(sides, "GET", path, who=who)
        exchange(sides, "HEAD", path, who=who)


def test_inactive_products_are_hidden_from_customers_only(sides: tuple[Side, Side]) -> None:
    status, listing = exchange(sides, "GET", P + "?page_size=100", who="staff")
    assert status == 200
    # Staff lists include withdrawn products; the seed withdraws about 3% of them.
    status, page = exchange(sides, "GET", P + "?page_size=100&page=3", who="staff")
    inactive = [p["id"] for p in listing["results"] + page["results"] if not p["is_active"]]
    assert inactive, "the seeded shop has no inactive product in the first pages"
    exchange(sides, "GET", f"{P}{inactive[0]}/")
    exchange(sides, "GET", f"{P}{inactive[0]}/", who="staff")


@pytest.mark.parametrize("who", [None, "customer"])
@pytest.mark.parametrize(("method", "path"), [
    ("POST", P), ("PUT", P + "1/"), ("PATCH", P + "1/"), ("DELETE", P + "1/"), ("POST", P + "1/stock/"),
    ("POST", C), ("PATCH", C + "1/"), ("DELETE", C + "1/"),
])
def test_writes_need_staff(sides: tuple[Side, Side], who: str | None, method: str, path: str) -> None:
    status, _ = exchange(sides, method, path, who=who, body={})
    assert status == (401 if who is None else 403)


BAD_BODIES = [b'{"sku": ', b"not json", b'{"a": 1,}', b"[]", b'"x"', b"", b"[" * 50 + b"]" * 50,
              b'{"sku": "A", "price": NaN}']


@pytest.mark.parametrize("raw", BAD_BODIES)
def test_malformed_bodies_are_refused_alike(sides: tuple[Side, Side], raw: bytes) -> None:
    status, _ = exchange(sides, "POST", P, who="staff", raw=raw)
    assert status == 400


NEW = {"sku": "NEW-1", "name": "Chef's knife", "description": "Sharp.", "price": "49.90", "stock": 5,
       "category": 3}


@pytest.mark.parametrize("change", [
    {}, {"price": "-0.01"}, {"price": "123456789"}, {"price": "1.005"}, {"price": "ten"}, {"price": ""},
    {"stock": -1}, {"stock": 2147483648}, {"stock": 1.5}, {"sku": "x" * 33}, {"sku": "SKU-0000001"},
    {"name": ""}, {"category": 424242}, {"category": None}, {"category": "abc"}, {"category": 1.5},
    {"is_active": "sometimes"}, {"sku": "", "name": "", "price": "x", "stock": "x", "category": "x"},
])
def test_invalid_products_are_refused_with_the_same_field_errors(sides: tuple[Side, Side],
                                                                 change: dict[str, Any]) -> None:
    body = {**NEW, **change} if change else {}
    status, _ = exchange(sides, "POST", P, who="staff", body=body)
    assert status == 400


def test_the_same_writes_leave_both_sides_equal(sides: tuple[Side, Side]) -> None:
    # Order matters here: each step builds on the previous one, on both sides.
    steps: list[tuple[str, str, Any, int]] = [
        ("POST", P, NEW, 201),
        ("POST", P, {**NEW, "sku": "NEW-2", "price": "0.01", "is_active": False}, 201),
        ("PATCH", P + "1/", {"price": "8.50", "name": "Renamed knife"}, 200),
        ("PUT", P + "2/", {**NEW, "sku": "RENAMED"}, 200),
        ("POST", P + "3/stock/", {"delta": 5, "reason": "delivery"}, 200),
        ("POST", P + "3/stock/", {"delta": -100000}, 409),
        ("POST", C, {"name": "Soap", "slug": "soap", "parent": 2}, 201),
        ("POST", C, {"name": "Again", "slug": "soap"}, 400),
        ("PATCH", C + "1/", {"parent": 2}, 400),
        ("DELETE", C + "1/", None, 409),
    ]
    for method, path, body, expected in steps:
        status, _ = exchange(sides, method, path, who="staff", body=body, write=True)
        assert status == expected, (method, path)
    exchange(sides, "GET", P + "?search=NEW-&ordering=id", write=True)
    exchange(sides, "GET", P + "?ordering=-id&page_size=3", write=True)
    exchange(sides, "GET", C, write=True)
