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
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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
FORM = "application/x-www-form-urlencoded"
# Every header a client or a cache acts on (Content-Length is left out: gunicorn sends some answers chunked).
COMPARED_HEADERS = ("content-type", "allow", "www-authenticate", "vary", "location", "x-frame-options",
                    "x-content-type-options", "referrer-policy", "cross-origin-opener-policy")


@dataclass
class Side:
    http: httpx.Client
    auth: dict[str, dict[str, str]]  # who -> headers
    port: int


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
                mono_auth = _monolith_auth(shop, mono)
                yield (Side(mono, mono_auth, int(shop.url.rsplit(":", 1)[1])),
                       Side(svc, _service_auth(mono, mono_auth), port))


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


def _service_auth(mono: httpx.Client, mono_auth: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """What the router hands the service for the same caller: its signed identity token, and the caller's own
    ``Authorization`` header, passed through (the service answers ``Vary: Cookie`` from it, as the monolith
    does: only a ``Token`` credential spares the monolith a look at the session)."""
    auth = {}
    for who, email in (("staff", "staff@example.com"), ("customer", "customer1@example.com")):
        user = _login(mono, email)[1]
        now = int(time.time())
        token = jwt.encode({"sub": str(user["id"]), "staff": user["is_staff"], "iat": now, "exp": now + 3600,
                            "iss": "strangler-router", "aud": "strangler-services"}, SECRET, algorithm="HS256")
        auth[who] = {"X-Identity-Token": token, **mono_auth[who]}
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


TIMES = re.compile(rb'"(created_at|updated_at)": ?"[^"]*"')


def exchange(sides: tuple[Side, Side], method: str, path: str, *, who: str | None = None,
             body: Any = None, raw: bytes | Callable[[], Any] | None = None,
             content_type: str | None = "application/json", headers: dict[str, str] | None = None,
             write: bool = False) -> tuple[int, Any]:
    """The same request to both sides: status, body and :data:`COMPARED_HEADERS` must be equal. Bodies are
    compared byte for byte, timestamps masked (rows written by the tests carry each side's own clock).
    ``raw`` may be a function giving a fresh iterable per side (a chunked body)."""
    answers = []
    parsed = []
    for side in sides:
        sent = dict(side.auth[who]) if who else {}
        content = raw() if callable(raw) else raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        if content is not None and content_type is not None:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        response = side.http.request(method, path, headers=sent, content=content)
        shown = TIMES.sub(rb'"\1":"<time>"', response.content)
        parsed.append(_normalise(response, mask_times=write))
        answers.append((response.status_code, shown, {h: response.headers.get(h) for h in COMPARED_HEADERS}))
    mono, svc = answers
    assert mono == svc, f"{method} {path} differs:\n monolith {str(mono)[:3000]}\n service  {str(svc)[:3000]}"
    return mono[0], parsed[0]


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


# --- issue 12: what the service used to answer differently -----------------------------------------------------

W = {"who": "staff", "write": True}


def _multipart(*fields: tuple[str, str], files: tuple[tuple[str, str, bytes], ...] = ()) -> tuple[bytes, str]:
    """A multipart/form-data body as ``curl -F`` sends it (a fixed boundary, so both sides get the same bytes)."""
    boundary = b"------------------------contract0123"
    out = b""
    for name, value in fields:
        out += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
        out += value.encode() + b"\r\n"
    for name, filename, data in files:
        out += (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode()
                + b'"; filename="' + filename.encode() + b'"\r\nContent-Type: text/plain\r\n\r\n' + data + b"\r\n")
    return out + b"--" + boundary + b"--\r\n", "multipart/form-data; boundary=" + boundary.decode()


def test_multipart_writes_are_parsed_like_drf(sides: tuple[Side, Side]) -> None:
    body, ctype = _multipart(("price", "19.99"))
    status, product = exchange(sides, "PATCH", P + "10/", raw=body, content_type=ctype, **W)
    assert (status, product["price"]) == (200, "19.99")  # was 415 from the service
    body, ctype = _multipart(("sku", "MP-1"), ("name", "Multipart"), ("price", "5"), ("category", "2"),
                             ("is_active", "false"))
    assert exchange(sides, "POST", P, raw=body, content_type=ctype, **W)[0] == 201
    body, ctype = _multipart(("delta", "3"), ("reason", "delivery"))
    assert exchange(sides, "POST", P + "10/stock/", raw=body, content_type=ctype, **W)[0] == 200
    body, ctype = _multipart(("name", "Multi"), ("slug", "multi-part"))
    assert exchange(sides, "POST", C, raw=body, content_type=ctype, **W)[0] == 201
    # A file part is not a string (DRF's message), and its name is what number fields read.
    body, ctype = _multipart(("price", "1"), files=(("name", "n.txt", b"x"), ("stock", "7", b"x")))
    status, errors = exchange(sides, "PATCH", P + "10/", raw=body, content_type=ctype, **W)
    assert (status, errors) == (400, {"name": ["Not a valid string."]})
    # HTML-form rules for what is missing (PUT), a multipart body without boundary, an unfinished one.
    body, ctype = _multipart(("sku", "MP-2"), ("name", "n"), ("price", "1"), ("category", "2"))
    assert exchange(sides, "PUT", P + "11/", raw=body, content_type=ctype, **W)[0] == 200
    assert exchange(sides, "PATCH", P + "10/", raw=b"x", content_type="multipart/form-data", **W)[0] == 400
    assert exchange(sides, "PATCH", P + "10/", raw=b"--zz\r\nContent-Disposition: form-data; name=\"price\"\r\n"
                    b"\r\n2.50", content_type="multipart/form-data; boundary=zz", **W)[0] == 200
    exchange(sides, "GET", P + "?search=MP-&ordering=id", write=True)


DETAIL_FILTERS = [
    "?search=zz", "?search=SKU-0000001", "?min_price=abc", "?min_price=0", "?max_price=0.01", "?category=999",
    "?category=abc", "?in_stock=maybe", "?in_stock=true", "?ordering=bogus", "?ordering=-price",
    "?page=abc&page_size=0", "?search=" + "x" * 201, "?colour=red", "?min_price=x&ordering=bogus",
]


@pytest.mark.parametrize("query", DETAIL_FILTERS)
@pytest.mark.parametrize("who", [None, "staff"])
def test_detail_urls_apply_the_list_filters(sides: tuple[Side, Side], query: str, who: str | None) -> None:
    exchange(sides, "GET", P + "1/" + query, who=who)
    exchange(sides, "OPTIONS", P + "1/" + query, who=who)


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_detail_writes_apply_the_list_filters(sides: tuple[Side, Side], method: str) -> None:
    status, _ = exchange(sides, method, P + "12/?search=zz", body={"name": "x"}, **W)
    assert status == 404
    status, _ = exchange(sides, method, P + "12/?min_price=abc", body={"name": "x"}, **W)
    assert status == 400
    status, _ = exchange(sides, "POST", P + "12/stock/?search=zz", body={"delta": 1}, **W)
    assert status == 404


@pytest.mark.parametrize("path", [P, P + "1/", P + "999999/", C, C + "1/", P + "1/stock/", "/api/catalog/nothing/"])
@pytest.mark.parametrize("fmt", ["api", "json", "", "JSON", "xml&format=json", "json&format=api"])
def test_format_override_is_drf_s(sides: tuple[Side, Side], path: str, fmt: str) -> None:
    exchange(sides, "GET", f"{path}?format={fmt}")
    exchange(sides, "POST", f"{path}?format={fmt}", body={})


ACCEPTS = ["text/html", "application/json", "*/*", "application/*", "*/json", "text/*", "", "application/xml",
           "text/html, application/json;q=0", "text/html;q=1, */*;q=0.1", "application/json; indent=4",
           "application/json;q=0", "text/html, application/xhtml+xml, application/xml;q=0.9", "*",
           "application", "APPLICATION/JSON", "text/html," * 70 + "application/json", ", ,"]


@pytest.mark.parametrize("accept", ACCEPTS)
def test_content_negotiation_is_drf_s(sides: tuple[Side, Side], accept: str) -> None:
    for who in (None, "customer"):
        exchange(sides, "GET", P + "1/", who=who, headers={"Accept": accept})
        exchange(sides, "GET", P + "?page_size=2", who=who, headers={"Accept": accept})
        exchange(sides, "DELETE", C + "1/", who=who, headers={"Accept": accept})
        exchange(sides, "GET", P + "1/?format=api", who=who, headers={"Accept": accept})


def test_a_body_without_content_type_is_415(sides: tuple[Side, Side]) -> None:
    status, _ = exchange(sides, "PATCH", P + "13/", raw=b'{"price": "1.00"}', content_type=None, **W)
    assert status == 415  # the service used to apply an empty PATCH
    status, _ = exchange(sides, "POST", C, raw=b'{"name": "a", "slug": "a"}', content_type=None, **W)
    assert status == 415
    status, _ = exchange(sides, "PATCH", P + "13/", raw=b"", content_type=None, **W)
    assert status == 200  # no body at all: an empty PATCH on both


@pytest.mark.parametrize("host", ["evil.example", "localhost", "LOCALHOST.", "localhost:8000", "127.0.0.1:1",
                                  "[::1]:8080", "testserver", "local host", "localhost:abc", "xlocalhost",
                                  "[::2]", "a" * 300])
def test_hosts_outside_allowed_hosts_are_400(sides: tuple[Side, Side], host: str) -> None:
    for who in (None, "staff"):
        exchange(sides, "GET", P + "?page_size=1", who=who, headers={"Host": host})
        exchange(sides, "GET", "/api/catalog/nothing/", who=who, headers={"Host": host})
        exchange(sides, "POST", P, who=who, body={}, headers={"Host": host})


@pytest.mark.parametrize("who", [None, "customer", "staff"])
def test_headers_are_equal_on_every_status(sides: tuple[Side, Side], who: str | None) -> None:
    """Vary, Allow, WWW-Authenticate, Content-Type and the security headers on 200/301/400/401/403/404/405/406/
    415 (exchange compares them all)."""
    for method, path, body in [("GET", P, None), ("GET", P + "?page=abc", None), ("GET", P + "?ordering=x", None),
                               ("GET", P + "1", None), ("GET", P + "999999/", None), ("HEAD", P + "1/", None),
                               ("OPTIONS", P, None), ("OPTIONS", P + "1/", None), ("OPTIONS", P + "1/stock/", None),
                               ("OPTIONS", C + "1/", None), ("OPTIONS", P + "999999/", None),
                               ("PUT", P, {}), ("POST", P + "1/", {}), ("POST", C, {"name": ""}),
                               ("GET", "/api/catalog/nothing/", None), ("POST", P + "1/stock/", {"delta": 0})]:
        exchange(sides, method, path, who=who, body=body)
    exchange(sides, "GET", P, who=who, headers={"Accept": "text/html"})
    exchange(sides, "POST", P, who=who, raw=b"{}", content_type="text/plain")
    # A credential that is not a token: the monolith looks at the session, and says so.
    exchange(sides, "GET", P + "1/", headers={"Authorization": "Basic dXNlcjpwdw=="})


WRONG_TYPES: dict[str, Any] = {
    "list": ["a"], "empty list": [], "object": {"a": 1}, "empty object": {}, "true": True, "false": False,
    "null": None, "integer": 5, "zero": 0, "float": 1.5, "big integer": 10**30, "big float": 1e300,
    "huge string": "x" * 5000, "huge number string": "9" * 5000, "NUL byte": "a\x00b", "blank": "  ",
    "empty": "",
}
PRODUCT_FIELDS = {"sku": "WT-1", "name": "N", "description": "", "price": "1.00", "stock": 1, "is_active": True,
                  "category": 3}
CATEGORY_FIELDS = {"name": "N", "slug": "wt-slug", "parent": 1}


@pytest.mark.parametrize("kind", list(WRONG_TYPES))
@pytest.mark.parametrize("field", list(PRODUCT_FIELDS))
def test_wrong_types_of_product_fields(sides: tuple[Side, Side], field: str, kind: str) -> None:
    # A taken sku (or a missing category, for the sku itself) keeps every case a 400: nothing is written.
    poison = {"category": 999999} if field == "sku" else {"sku": "SKU-0000001"}
    status, _ = exchange(sides, "POST", P, body={**PRODUCT_FIELDS, field: WRONG_TYPES[kind], **poison}, **W)
    assert status == 400
    poison = {"category": 999999} if field == "sku" else {"sku": "SKU-0000005"}
    status, _ = exchange(sides, "PATCH", P + "1/", body={field: WRONG_TYPES[kind], **poison}, **W)
    assert status == 400


@pytest.mark.parametrize("kind", list(WRONG_TYPES))
@pytest.mark.parametrize("field", list(CATEGORY_FIELDS))
def test_wrong_types_of_category_fields(sides: tuple[Side, Side], field: str, kind: str) -> None:
    poison = {"parent": 999999} if field == "slug" else {"slug": "kitchen"}
    status, _ = exchange(sides, "POST", C, body={**CATEGORY_FIELDS, field: WRONG_TYPES[kind], **poison}, **W)
    assert status == 400
    status, _ = exchange(sides, "PATCH", C + "2/", body={field: WRONG_TYPES[kind], **poison}, **W)
    assert status == 400


@pytest.mark.parametrize("kind", list(WRONG_TYPES))
@pytest.mark.parametrize("field", ["delta", "reason"])
def test_wrong_types_of_stock_fields(sides: tuple[Side, Side], field: str, kind: str) -> None:
    poison = {"delta": 0} if field == "reason" else {}
    status, _ = exchange(sides, "POST", P + "1/stock/", body={"delta": 1, "reason": "r", field: WRONG_TYPES[kind],
                                                              **poison}, **W)
    assert status in (200, 400)


def test_the_slug_message_for_a_list(sides: tuple[Side, Side]) -> None:
    status, errors = exchange(sides, "POST", C, body={"name": "n", "slug": ["a"]}, **W)
    assert (status, errors) == (400, {"slug": ['Enter a valid "slug" consisting of letters, numbers, underscores '
                                               "or hyphens."]})


# --- bodies: large, chunked, unread --------------------------------------------------------------------------


def _raw_post(port: int, size: int, path: str = P) -> tuple[bytes, str | None]:
    """Headers and the first 64 KiB, a pause (the server answers meanwhile), then the rest; the status line
    read back, and what went wrong while sending (None: nothing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode() + b"a" * 65536)
        time.sleep(0.3)
        problem = None
        try:
            sent = 65536
            while sent < size:
                sock.sendall(b"a" * min(65536, size - sent))
                sent += 65536
        except OSError as exc:
            problem = f"sending the body failed: {exc!r}"
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError as exc:
            problem = (problem or "") + f" reading the answer failed: {exc!r}"
    return answer.split(b"\r\n", 1)[0], problem


@pytest.mark.parametrize("size", [3_000_000, 12_000_000])
def test_an_unread_body_does_not_break_the_connection(sides: tuple[Side, Side], size: int) -> None:
    """An anonymous 3 MB upload to a protected endpoint: the 401 reaches a client that writes its whole body
    before reading (the monolith used to close under it: broken pipe); 12 MB is over the limit: 413."""
    expected = b"HTTP/1.1 401 Unauthorized" if size < 10 * 1024 * 1024 else b"HTTP/1.1 413 Request Entity Too Large"
    for side in sides:
        status_line, problem = _raw_post(side.port, size)
        assert problem is None, f"port {side.port}: {problem}"
        assert status_line.upper() == expected.upper(), (side.port, status_line)


def test_large_bodies_are_answered_alike(sides: tuple[Side, Side]) -> None:
    big = b'{"description": "' + b"d" * 3_000_000 + b'"}'
    over = b'{"description": "' + b"d" * 11_000_000 + b'"}'
    for who in (None, "customer", "staff"):
        exchange(sides, "POST", P, who=who, raw=big)  # 401, 403, or 400 (over 1 MiB) for staff
        exchange(sides, "POST", P, who=who, raw=over)  # 413 for everyone
        exchange(sides, "GET", P + "1/", who=who, raw=big)  # read and ignored
        exchange(sides, "POST", P, who=who, raw=b"x" * 2_000_000, content_type="text/plain")  # 415 before size
    body, ctype = _multipart(files=(("f", "big.bin", b"x" * 2_000_000),))
    assert exchange(sides, "POST", P, raw=body, content_type=ctype, **W)[0] == 400  # multipart: the same 1 MiB


def test_chunked_bodies_are_read(sides: tuple[Side, Side]) -> None:
    def chunked(data: bytes) -> Callable[[], Iterator[bytes]]:
        def parts() -> Iterator[bytes]:
            yield data[:7]
            yield data[7:]
        return parts

    status, product = exchange(sides, "PATCH", P + "14/", raw=chunked(b'{"price": "7.77"}'), **W)
    assert (status, product["price"]) == (200, "7.77")  # the monolith used to ignore a chunked body
    assert exchange(sides, "PATCH", P + "14/", raw=chunked(b"x" * 11_000_000), **W)[0] == 413


def _browsers(sides: tuple[Side, Side]) -> dict[str, str]:
    """Staff and a customer logged in by session at the monolith (``/api/accounts/login/``: a session cookie and a
    CSRF cookie), as each side sees them: the monolith their cookies, the service the same cookies (the router
    passes them on) and the identity token the router mints from the session. Their CSRF secrets, by who."""
    mono, svc = sides
    secrets = {}
    for who, email in (("staff-browser", "staff@example.com"), ("customer-browser", "customer1@example.com")):
        with httpx.Client(base_url=mono.http.base_url, timeout=30) as browser:
            login = browser.post("/api/accounts/login/", json={"email": email, "password": "shop-demo-password"})
            assert login.status_code == 200, login.text
            session, secrets[who] = browser.cookies["sessionid"], browser.cookies["csrftoken"]
        user, now = login.json()["user"], int(time.time())
        identity = jwt.encode({"sub": str(user["id"]), "staff": user["is_staff"], "iat": now, "exp": now + 3600,
                               "iss": "strangler-router", "aud": "strangler-services"}, SECRET, algorithm="HS256")
        mono.auth[who] = {"Cookie": f"sessionid={session}; csrftoken={secrets[who]}"}
        svc.auth[who] = {"X-Identity-Token": identity, **mono.auth[who]}
    return secrets


def test_a_logged_in_browser_writes_with_its_csrf_token(sides: tuple[Side, Side]) -> None:
    """A caller logged in by session (no Authorization header): DRF's SessionAuthentication wants the CSRF token on
    every write, right after authentication (before the permission's 403, the method's 405 and the object's 404);
    a POST's body the parsers refuse is their 400/415 from inside the check. Reads, and callers by token (every
    other test's), are not held to it. The Set-Cookie of a renewed CSRF cookie is not compared here."""
    secrets = _browsers(sides)
    try:
        for who in ("staff-browser", "customer-browser"):
            csrf, session = secrets[who], sides[0].auth[who]["Cookie"].split(";")[0]
            assert exchange(sides, "GET", P + "1/", who=who)[0] == 200
            assert exchange(sides, "OPTIONS", P, who=who)[0] == 200
            for headers in ({}, {"X-CSRFToken": "a" * 32}, {"X-CSRFToken": "short"}, {"X-CSRFToken": "!" * 64},
                            {"X-CSRFToken": csrf, "Origin": "http://evil.example"}, {"Origin": "null"},
                            {"X-CSRFToken": csrf, "Cookie": f"{session}; csrftoken=short"}):
                for method, path in (("POST", P), ("PUT", P + "1/"), ("PATCH", P + "999999/"), ("DELETE", P + "1/"),
                                     ("POST", P + "1/stock/"), ("POST", C), ("DELETE", C + "1/"), ("PUT", P)):
                    status, answer = exchange(sides, method, path, who=who, body={"name": "x"}, headers=headers)
                    assert status == 403 and answer["detail"].startswith("CSRF Failed: "), (headers, answer)
            # A URL no view answers is Django's 404, before DRF.
            assert exchange(sides, "PATCH", C + "abc/", who=who, body={})[0] == 404
            # The session's cookie alone: no CSRF cookie at all.
            status, answer = exchange(sides, "DELETE", P + "1/", who=who,
                                      headers={"Cookie": session, "X-CSRFToken": csrf})
            assert (status, answer) == (403, {"detail": "CSRF Failed: CSRF cookie not set."})
            big = b'{"description": "' + b"d" * 2_000_000 + b'"}'
            for raw, content_type in ((b'{"sku": ', "application/json"), (b"sku=x", "text/plain"), (b"sku=x", None),
                                      (b"a=1", "multipart/form-data"), (big, "application/json"),
                                      (b"csrfmiddlewaretoken=" + b"x" * 2_000_000, FORM)):
                for headers in ({}, {"X-CSRFToken": csrf}):
                    status, _ = exchange(sides, "POST", P, who=who, raw=raw, content_type=content_type,
                                         headers=headers)
                    assert status in (400, 415), (raw, content_type, status)
            # With the token, the permission and the method answer as before (a customer may not write).
            staff = who == "staff-browser"
            assert exchange(sides, "PUT", P, who=who, body={}, headers={"X-CSRFToken": csrf})[0] == (
                405 if staff else 403)
            assert exchange(sides, "POST", P, who=who, body={}, headers={"X-CSRFToken": csrf})[0] == (
                400 if staff else 403)
        csrf, who = secrets["staff-browser"], "staff-browser"
        new = {"sku": "CSRF-1", "name": "Guarded knife", "price": "9.90", "stock": 3, "category": 3}
        status, made = exchange(sides, "POST", P, who=who, body=new, headers={"X-CSRFToken": csrf}, write=True)
        assert status == 201, made
        product = f"{P}{made['id']}/"
        assert exchange(sides, "PATCH", product, who=who, body={"name": "Renamed"}, write=True,
                        headers={"X-CSRFToken": csrf, "Origin": "http://localhost"})[0] == 200
        assert exchange(sides, "POST", product + "stock/", who=who, write=True, content_type=FORM,
                        raw=f"delta=2&reason=delivery&csrfmiddlewaretoken={csrf}".encode())[0] == 200
        assert exchange(sides, "POST", P, who=who, write=True, content_type=FORM,
                        raw=f"sku=CSRF-2&name=Form&price=1.00&category=3&csrfmiddlewaretoken={csrf}".encode())[0] == 201
        status, category = exchange(sides, "POST", C, who=who, body={"name": "Guarded", "slug": "guarded"},
                                    headers={"X-CSRFToken": csrf}, write=True)
        assert status == 201, category
        assert exchange(sides, "DELETE", f"{C}{category['id']}/", who=who, headers={"X-CSRFToken": csrf})[0] == 204
        exchange(sides, "GET", P + "?search=CSRF-&ordering=id", write=True)
    finally:
        for side in sides:
            side.http.cookies.clear()  # a renewed CSRF cookie must not follow the other tests' callers
