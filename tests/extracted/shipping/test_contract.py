"""Contract: the shipping service answers like the monolith's /api/shipping/, over real HTTP.

The monolith runs under gunicorn on a seeded shop (``seed_shop``: past orders with their shipments and histories)
where staff first move shipments through its own API (a pending one packed with a note, one packed and shipped
with a tracking number and another carrier: microseconds in their times, notes in their histories) and the orders
service's internal request makes one more. The shipping plan's data split (``migration_plans/shipping.yaml``)
provisions the service's own database, captures, copies; then staff move one more shipment at the monolith, and
the split syncs and verifies. The service runs as its own process. The same requests go to both, the monolith
authorised by each caller's API token, the service by the router's identity token for the same user (and the
caller's own ``Authorization``, which the router passes on): status, body byte for byte, and the headers a client
relies on must be equal.

Writes (staff's status action, the checkout saga's internal shipment request and cancel) are compared too: the
split's command (``strangler split``, unlike the plan's executor) installs no ownership guard, so the service's
copy takes writes, as the catalog's and the cart's contract tests have it. Each write goes to both sides for the
same shipment, which the split left equal on both, so the two stay equal: the answers are compared byte for byte
except the times the write itself sets (``updated_at``, the new history row's ``created_at``: each side's clock),
which must be valid ISO datetimes on both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import jwt
import pytest

from router.addons.identity import Refused, mint_refused
from strangler.processes import ManagedProcess, free_port
from tests.support.servers import ROOT, running_shop, scratch_database

pytestmark = pytest.mark.slow

SECRET = "shipping-contract-tests-identity-secret-0123456789"
ORDERS_TOKEN = "orders-service-token-for-the-shipping-contract"  # noqa: S105 - the test's own token
PLAN = ROOT / "migration_plans" / "shipping.yaml"
S = "/api/shipping/shipments/"
REQUEST = "/api/shipping/internal/shipments/"
CANCEL = "/api/shipping/internal/shipments/cancel/"
PASSWORD = "shop-demo-password"
# Every header a client or a cache acts on (Content-Length is left out: gunicorn sends some answers chunked).
COMPARED_HEADERS = ("content-type", "allow", "www-authenticate", "vary", "location", "x-frame-options",
                    "x-content-type-options", "referrer-policy", "cross-origin-opener-policy", "retry-after")
USERS = {"customer": "customer1@example.com", "other": "customer2@example.com", "staff": "staff@example.com"}
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "------------------------shipping0123"
NOTE = "Packed with care — Åsa ✨"


@dataclass
class Side:
    http: httpx.Client
    auth: dict[str, dict[str, str]]  # who -> headers
    written: set[str] = field(default_factory=set)  # the times this side's writes set (JSON strings, quoted)


@dataclass
class Shop:
    """What the tests need to know of the data: whose shipments are whose, and which are in which status (the
    writes take theirs from these pools, so that no two tests move the same shipment)."""

    mine: list[int]             # the customer's shipments (ids, newest first)
    others: list[int]           # the other customer's
    user_ids: dict[str, int]    # who -> user id
    orders: dict[int, int]      # shipment id -> its order
    packed_with_note: int       # moved by staff before the copy
    shipped_with_tracking: int  # packed and shipped by staff before the copy
    after_copy: int             # packed by staff after the copy (reached the service by the sync)
    requested: int              # made by the internal request before the copy
    untouched: int              # a pending shipment no write moves (the refused writes are sent to it)
    revoked: str                # the API token of a user deactivated since (the monolith no longer takes it)
    by_status: dict[str, list[int]] = field(default_factory=dict)

    def take(self, status: str) -> int:
        assert self.by_status[status], f"no {status} shipment left for the writes: seed more orders"
        return self.by_status[status].pop()


def _split(env: dict[str, str], *operations: str) -> None:
    for operation in operations:
        done = subprocess.run([sys.executable, "manage.py", "strangler", "split", operation, str(PLAN)],  # noqa: S603
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"split {operation}: {done.stdout}\n{done.stderr}"


def _login(base_url: str, email: str) -> tuple[str, dict[str, Any]]:
    # A client of its own: login also opens a session, whose cookie must not leak into the compared calls.
    with httpx.Client(base_url=base_url, timeout=30) as fresh:
        response = fresh.post("/api/accounts/login/", json={"email": email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        body = response.json()
    return body["token"], body["user"]


def _identity(user: dict[str, Any]) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user["id"]), "staff": user["is_staff"], "iat": now, "exp": now + 3600,
                       "iss": "strangler-router", "aud": "strangler-services"}, SECRET, algorithm="HS256")


def _all(mono: httpx.Client, headers: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    url: str | None = S + "?page_size=100" + query
    while url:
        page = mono.get(url, headers=headers)
        assert page.status_code == 200, page.text
        out += page.json()["results"]
        url = httpx.URL(page.json()["next"]).raw_path.decode() if page.json()["next"] else None
    return out


def _move(mono: httpx.Client, staff: dict[str, str], shipment: int, **change: str) -> None:
    moved = mono.post(f"{S}{shipment}/status/", headers=staff, json=change)
    assert moved.status_code == 200, moved.text


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[tuple[Side, Side], Shop]]:
    base = tmp_path_factory.mktemp("shipping-contract")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ORDERS_SERVICE_TOKEN", ORDERS_TOKEN)  # the monolith's internal shipping API, and the service's
        with running_shop(base, seed_args=("--products", "20", "--users", "3", "--orders", "90")) as shop, \
                scratch_database(base / "shipping") as service_db:
            # In the PostgreSQL pass the service's database is on PostgreSQL too (scratch_database follows
            # MONOLITH_DATABASE_URL's kind): SQL that only SQLite accepts is caught here.
            env = {**shop.env, "SHIPPING_DATABASE_URL": service_db, "ROUTER_IDENTITY_SECRET": SECRET,
                   "SHIPPING_VAR_DIR": str(base / "var")}
            tokens = {who: _login(shop.url, email) for who, email in USERS.items()}
            revoked = _login(shop.url, "customer3@example.com")[0]
            shop.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                        "get_user_model().objects.filter(email='customer3@example.com').update(is_active=False)")
            staff = {"Authorization": f"Token {tokens['staff'][0]}"}
            with httpx.Client(base_url=shop.url, headers={"Host": "localhost"}, timeout=30) as mono:
                pending = [s["id"] for s in _all(mono, staff, "&status=pending")]
                noted, shipped, later = pending[:3]
                # Before the copy: staff's moves (microseconds, notes, a tracking number, another carrier) and a
                # shipment the orders service's saga asks for (its first history row).
                _move(mono, staff, noted, status="packed", note=NOTE)
                _move(mono, staff, shipped, status="packed")
                _move(mono, staff, shipped, status="shipped", tracking_number="TRK-ABC-123", carrier="ups",
                      note="Handed to UPS")
                made = mono.post(REQUEST, headers={"X-Service-Token": ORDERS_TOKEN},
                                 json={"order": 50001, "user": tokens["customer"][1]["id"], "carrier": "dhl"})
                assert made.status_code == 201, made.text
                _split(env, "provision", "capture", "copy")
                # After the copy: one more move, which only the sync brings across.
                _move(mono, staff, later, status="packed", note="after the copy")
                _split(env, "sync", "verify")
            port = free_port()
            service = ManagedProcess("shipping", [sys.executable, "-m", "extracted.shipping", "--port", str(port)],
                                     log_path=base / "shipping.log", env=env, cwd=ROOT)
            with service:
                service.wait_healthy(f"http://127.0.0.1:{port}/healthz")
                # The same Host on both sides: pagination links are absolute, built from it.
                with httpx.Client(base_url=shop.url, headers={"Host": "localhost"}, timeout=30) as mono, \
                        httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": "localhost"},
                                     timeout=30) as svc:
                    mono_auth = {who: {"Authorization": f"Token {token}"} for who, (token, _) in tokens.items()}
                    svc_auth = {who: {"X-Identity-Token": _identity(user), **mono_auth[who]}
                                for who, (_, user) in tokens.items()}
                    shop_facts = _shop_facts(mono, mono_auth, tokens, noted, shipped, later, made.json()["id"],
                                             revoked)
                    yield (Side(mono, mono_auth), Side(svc, svc_auth)), shop_facts


def _shop_facts(mono: httpx.Client, auth: dict[str, dict[str, str]],
                tokens: dict[str, tuple[str, dict[str, Any]]], noted: int, shipped: int, later: int,
                requested: int, revoked: str) -> Shop:
    everything = _all(mono, auth["staff"])
    mine = [s["id"] for s in _all(mono, auth["customer"])]
    others = [s["id"] for s in _all(mono, auth["other"])]
    assert len(mine) > 10 and len(others) > 3, "the seed gives both customers shipments"
    moved = {noted, shipped, later, requested}
    by_status: dict[str, list[int]] = {}
    for shipment in everything:
        if shipment["id"] not in moved:
            by_status.setdefault(shipment["status"], []).append(shipment["id"])
    return Shop(mine=mine, others=others, user_ids={who: user["id"] for who, (_, user) in tokens.items()},
                orders={s["id"]: s["order"] for s in everything}, packed_with_note=noted,
                shipped_with_tracking=shipped, after_copy=later, requested=requested,
                untouched=by_status["pending"].pop(0), revoked=revoked, by_status=by_status)


def _is_datetime(value: Any) -> bool:
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return isinstance(value, str) and value.endswith("Z")


def _fresh_times(side: Side, path: str, response: httpx.Response) -> list[str]:
    """The times a write set: a status change's (the shipment's ``updated_at``, its newest history row's
    ``created_at``), or, for the internal API's answer (no times in it), the shipment's as staff read it on the
    same side (and its ``created_at`` when it was made now)."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return []
    if "events" not in data:
        if not path.startswith("/api/shipping/internal/"):
            return []
        read = side.http.get(f"{S}{data['id']}/", headers=side.auth["staff"])
        assert read.status_code == 200, read.text
        created = [read.json()["created_at"]] if response.status_code == 201 else []
        data = read.json()
        return [*created, data["updated_at"], data["events"][-1]["created_at"]]
    return [data["updated_at"], data["events"][-1]["created_at"]] if data["events"] else []


def exchange(sides: tuple[Side, Side], method: str, path: str, *, who: str | None = None,
             headers: dict[str, str] | None = None, content: bytes | None = None,
             content_type: str | None = None) -> tuple[int, Any]:
    """The same request to both sides: status, body (byte for byte) and :data:`COMPARED_HEADERS` must be equal.

    The times the tests' writes set are each side's clock: a write that succeeds (a POST answered 200 or 201
    with a shipment) adds its ``updated_at`` and its new history row's ``created_at`` to what each side masks,
    once both are seen to be ISO datetimes; every answer after shows them as ``<time>``, on both sides."""
    answers = []
    for side in sides:
        sent = {**(side.auth[who] if who else {}), **({"Content-Type": content_type} if content_type else {}),
                **(headers or {})}
        response = side.http.request(method, path, headers=sent, content=content)
        if method == "POST" and response.status_code in (200, 201):
            for value in _fresh_times(side, path, response):
                assert _is_datetime(value), f"{method} {path}: {value!r} is not an ISO datetime"
                side.written.add(json.dumps(value))
        shown = response.content
        for value in side.written:
            shown = shown.replace(value.encode(), b'"<time>"')
        answers.append((response.status_code, shown, {h: response.headers.get(h) for h in COMPARED_HEADERS}))
    mono, svc = answers
    assert mono == svc, f"{method} {path} as {who} differs:\n monolith {str(mono)[:3000]}\n service  {str(svc)[:3000]}"
    try:
        body = json.loads(mono[1]) if mono[1] else None
    except ValueError:
        body = mono[1]
    return mono[0], body


def post(sides: tuple[Side, Side], path: str, body: Any, *, who: str | None = "staff",
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A JSON write to both sides, compared as :func:`exchange` compares writes."""
    return exchange(sides, "POST", path, who=who, headers=headers, content=json.dumps(body).encode(),
                    content_type=JSON)


WHO = [None, "customer", "other", "staff"]


# --- reads ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("query", [
    "", "?page=2", "?page=2&page_size=3", "?page=last", "?page=last&page_size=7", "?page=1", "?page=99", "?page=0",
    "?page=-1", "?page=x", "?page=2.0", "?page_size=0", "?page_size=abc", "?page_size=1000", "?page_size=100",
    "?page_size=101", "?page_size=007&page=2", "?page_size=99999999999999999999",
    "?status=packed", "?status=PACKED", "?status=", "?status=null", "?status=in_transit&page_size=2",
    "?status=pending&status=packed", "?order=x", "?order=3.0", "?order=-1", "?order=0", "?order=99999999999999999999",
    "?order=", "?order=%203%20", "?order=1e3", "?order=x&status=bogus", "?order=x&status=bogus&page=x",
    "?order=99999999&status=packed", "?order=99999999&page=last", "?order=99999999&page=2",
    "?status=delivered&page=last&page_size=2", "?colour=red&page_size=5", "?ordering=id",
    "?format=json", "?format=xml", "?format=api", "?format=xml&format=json", "?page=2&format=json&page_size=3",
])
def test_lists_are_equal(env: tuple[tuple[Side, Side], Shop], who: str | None, query: str) -> None:
    exchange(env[0], "GET", S + query, who=who)


def test_every_page_is_equal_following_the_links(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    for who in ("customer", "staff"):
        url: str | None = S + "?page_size=7"
        seen: list[int] = []
        while url:
            status, page = exchange(sides, "GET", url, who=who)
            assert status == 200
            seen += [s["id"] for s in page["results"]]
            assert all(e["created_at"] <= f["created_at"] for s in page["results"]
                       for e, f in zip(s["events"], s["events"][1:], strict=False))  # oldest first
            url = httpx.URL(page["next"]).raw_path.decode() if page["next"] else None
        assert seen == sorted(seen, reverse=True)  # -id, as the monolith orders them
        if who == "customer":
            assert set(shop.mine) <= set(seen)  # and those the writes made since


def test_the_order_filter_finds_mine_and_not_another_s(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    mine, theirs = shop.orders[shop.mine[0]], shop.orders[shop.others[0]]
    status, page = exchange(sides, "GET", f"{S}?order={mine}", who="customer")
    assert status == 200 and [s["id"] for s in page["results"]] == [shop.mine[0]]
    status, page = exchange(sides, "GET", f"{S}?order={theirs}", who="customer")
    assert status == 200 and page["count"] == 0
    status, page = exchange(sides, "GET", f"{S}?order={theirs}", who="staff")
    assert status == 200 and page["count"] == 1
    exchange(sides, "GET", f"{S}?order={mine}.0", who="customer")


def test_what_the_copy_and_the_sync_brought_is_shown_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    _, noted = exchange(sides, "GET", f"{S}{shop.packed_with_note}/", who="staff")
    assert noted["status"] == "packed" and noted["events"][-1]["note"] == NOTE and "." in noted["updated_at"]
    _, shipped = exchange(sides, "GET", f"{S}{shop.shipped_with_tracking}/", who="staff")
    assert (shipped["status"], shipped["tracking_number"], shipped["carrier"]) == ("shipped", "TRK-ABC-123", "ups")
    _, later = exchange(sides, "GET", f"{S}{shop.after_copy}/", who="staff")
    assert later["status"] == "packed" and later["events"][-1]["note"] == "after the copy"
    _, requested = exchange(sides, "GET", f"{S}{shop.requested}/", who="customer")
    assert requested["order"] == 50001 and requested["events"][0]["note"] == "Order placed"


@pytest.mark.parametrize("who", WHO)
def test_a_customer_sees_their_own_shipments_and_never_another_s(env: tuple[tuple[Side, Side], Shop],
                                                                 who: str | None) -> None:
    sides, shop = env
    for shipment in shop.mine[:3] + shop.others[:3]:
        exchange(sides, "GET", f"{S}{shipment}/", who=who)
    if who == "customer":
        assert exchange(sides, "GET", f"{S}{shop.others[0]}/", who=who)[0] == 404
        assert exchange(sides, "GET", f"{S}{shop.mine[0]}/", who=who)[0] == 200


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("suffix", ["999999/", "999999999999999999/", "9999999999999999999/", "0/", "007/", "abc/",
                                    "-1/", "1.0/", "1", "999999", "abc", "%31/", "1/status", "1/nothing/",
                                    "internal", "internal/shipments"])
def test_bad_and_missing_ids_are_equal(env: tuple[tuple[Side, Side], Shop], who: str | None, suffix: str) -> None:
    exchange(env[0], "GET", S + suffix, who=who)


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("path", ["/api/shipping/nothing/", "/api/shipping/", "/api/shipping/shipments",
                                  "/api/shipping/internal/shipments", "/api/shipping/internal/shipments/cancel"])
def test_unknown_urls_and_missing_slashes(env: tuple[tuple[Side, Side], Shop], who: str | None, path: str) -> None:
    exchange(env[0], "GET", path, who=who)
    exchange(env[0], "POST", path, who=who)


@pytest.mark.parametrize("who", WHO)
def test_details_with_filters_query_strings_accept_and_head(env: tuple[tuple[Side, Side], Shop],
                                                           who: str | None) -> None:
    sides, shop = env
    shipment = shop.mine[0]
    order = shop.orders[shipment]
    for query in ("?format=json", "?format=xml", "?format=api", "?status=cancelled", "?status=delivered",
                  "?status=pending", "?status=bogus", f"?order={order}", f"?order={order + 1}", "?order=x",
                  "?page=7&page_size=x"):
        exchange(sides, "GET", f"{S}{shipment}/{query}", who=who)
    for accept in ("text/html", "application/json; indent=4", "application/*", "*/*;q=0.1, text/html",
                   "application/xml", "", "application/json;q=0"):
        exchange(sides, "GET", f"{S}{shipment}/", who=who, headers={"Accept": accept})
        exchange(sides, "GET", S + "?page_size=2", who=who, headers={"Accept": accept})
    exchange(sides, "HEAD", S, who=who)
    exchange(sides, "HEAD", f"{S}{shipment}/", who=who)


@pytest.mark.parametrize("who", WHO)
def test_methods_and_options_are_equal(env: tuple[tuple[Side, Side], Shop], who: str | None) -> None:
    """405 with each URL's Allow, DRF's OPTIONS metadata (the status action's fields for staff), 401/403 first."""
    sides, shop = env
    shipment = shop.mine[0]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        exchange(sides, method, S, who=who)
        exchange(sides, method, f"{S}{shipment}/", who=who)
    for method in ("GET", "PUT", "PATCH", "DELETE", "HEAD"):
        exchange(sides, method, f"{S}{shipment}/status/", who=who)
        exchange(sides, method, REQUEST, who=who)
        exchange(sides, method, CANCEL, who=who)
    for path in (S, f"{S}{shipment}/", f"{S}{shipment}/status/", f"{S}999999/", f"{S}999999/status/",
                 f"{S}{shipment}/?status=bogus", REQUEST, CANCEL):
        exchange(sides, "OPTIONS", path, who=who)


# --- credentials ---------------------------------------------------------------------------------------------------


def test_a_credential_the_monolith_refuses_is_answered_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """The router asks the monolith who the caller is; a refused credential reaches the service as a signed
    refusal (here minted by the router's own code from the monolith's answer), answered where DRF would."""
    sides, shop = env
    mono, svc = sides
    for credential in ("Token 0123456789abcdef0123456789abcdef01234567", "Token x", "Bearer abc",
                       f"Token {shop.revoked}"):
        asked = mono.http.get("/api/accounts/me/", headers={"Authorization": credential})
        headers = {"Authorization": credential}
        if asked.status_code in (401, 403):
            refused = Refused(asked.status_code, asked.content,
                              tuple(v.encode("latin-1") for v in asked.headers.get_list("www-authenticate")))
            svc.auth["refused"] = {**headers, "X-Identity-Token": mint_refused(refused, SECRET, 60)}
        else:
            svc.auth["refused"] = headers
        mono.auth["refused"] = headers
        for method, path in (("GET", S), ("GET", f"{S}{shop.mine[0]}/"), ("OPTIONS", S), ("DELETE", S),
                             ("GET", S + "?format=xml"), ("POST", f"{S}{shop.mine[0]}/status/"),
                             ("GET", "/api/shipping/nothing/")):
            exchange(sides, method, path, who="refused")


def test_a_session_credential_varies_by_cookie_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    exchange(env[0], "GET", S, headers={"Authorization": "Basic dXNlcjpwdw=="})
    exchange(env[0], "POST", f"{S}1/status/", headers={"Authorization": "Basic dXNlcjpwdw=="})


@pytest.mark.parametrize("host", ["evil.example", "localhost:8000", "[::1]:8080"])
def test_hosts_outside_allowed_hosts_are_400(env: tuple[tuple[Side, Side], Shop], host: str) -> None:
    for who in (None, "staff"):
        exchange(env[0], "GET", S, who=who, headers={"Host": host})
        exchange(env[0], "POST", f"{S}1/status/", who=who, headers={"Host": host})


# --- the status action: writes to both sides, on shipments equal on both ----------------------------------------


def _multipart(*fields: tuple[str, str]) -> bytes:
    """A multipart/form-data body as ``curl -F`` sends it (a fixed boundary: both sides get the same bytes)."""
    out = ""
    for name, value in fields:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    return (out + f"--{BOUNDARY}--\r\n").encode()


def test_moves_with_notes_tracking_numbers_and_carriers(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    pending = shop.take("pending")
    status, moved = post(sides, f"{S}{pending}/status/", {"status": "packed", "note": "Wrapped ✨ twice"})
    assert status == 200 and moved["status"] == "packed" and moved["events"][-1]["note"] == "Wrapped ✨ twice"
    # Shipping it needs a tracking number: none given, none on it (400); an invalid one; then a good one.
    status, errors = post(sides, f"{S}{pending}/status/", {"status": "shipped"})
    assert (status, errors) == (400, {"tracking_number": ["A tracking number is required to ship."]})
    for tracking in ("ab", "has space", "x" * 65, "", "   ", None, 123, 1.5, True, ["TRK-1"], {"a": "TRK-1"},
                     "TRK\x00-1", "x" * 5000):
        status, _ = post(sides, f"{S}{pending}/status/", {"status": "shipped", "tracking_number": tracking})
        assert status == 400, tracking
    exchange(sides, "GET", f"{S}{pending}/", who="staff")
    status, shipped = post(sides, f"{S}{pending}/status/", {"status": "shipped", "tracking_number": "  ZX-9876 ",
                                                           "carrier": "fedex", "note": ""})
    assert status == 200 and (shipped["tracking_number"], shipped["carrier"]) == ("ZX-9876", "fedex")
    # Backwards, sideways, to itself: 409 with the current status.
    for target in ("packed", "pending", "shipped"):
        status, refused = post(sides, f"{S}{pending}/status/", {"status": target})
        assert status == 409 and refused["current"] == "shipped", refused
    status, _ = post(sides, f"{S}{pending}/status/", {"status": "in_transit", "carrier": "dhl"})
    assert status == 200
    status, _ = post(sides, f"{S}{pending}/status/", {"status": "delivered", "note": "n" * 500})
    assert status == 200
    status, refused = post(sides, f"{S}{pending}/status/", {"status": "in_transit"})
    assert status == 409 and refused["current"] == "delivered"
    exchange(sides, "GET", f"{S}{pending}/", who="staff")


def test_a_tracking_number_given_earlier_ships_without_a_new_one(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    pending = shop.take("pending")
    status, packed = post(sides, f"{S}{pending}/status/", {"status": "packed", "tracking_number": "PK-1234"})
    assert (status, packed["tracking_number"]) == (200, "PK-1234")
    status, shipped = post(sides, f"{S}{pending}/status/", {"status": "shipped", "carrier": "dhl"})
    assert (status, shipped["tracking_number"], shipped["carrier"]) == (200, "PK-1234", "dhl")
    # What the copy and the sync brought moves alike on both sides.
    status, moved = post(sides, f"{S}{shop.after_copy}/status/", {"status": "shipped", "tracking_number": "AB-12"})
    assert status == 200
    status, _ = post(sides, f"{S}{shop.shipped_with_tracking}/status/", {"status": "delivered"})
    assert status == 200
    cancelled = shop.take("cancelled")
    status, refused = post(sides, f"{S}{cancelled}/status/", {"status": "packed"})
    assert status == 409 and refused["current"] == "cancelled"


@pytest.mark.parametrize("body", [
    {"status": "cancelled"}, {"status": "CANCELLED"}, {"status": "Packed"}, {"status": ""}, {"status": None},
    {"status": ["packed"]}, {"status": {"a": 1}}, {"status": 1}, {"status": True}, {}, {"note": "x"},
    {"status": "packed", "note": "n" * 501}, {"status": "packed", "note": None},
    {"status": "packed", "note": 5, "tracking_number": "x"},
    {"status": "packed", "note": ["a"]}, {"status": "packed", "carrier": "royal-mail"},
    {"status": "packed", "carrier": None}, {"status": "packed", "carrier": ""},
    {"status": "packed", "tracking_number": ["TRK-1"]}, {"status": "packed", "tracking_number": True},
    {"status": "packed", "tracking_number": 1.5}, {"status": "packed", "tracking_number": "a\x00bcd"},
    {"status": "bogus", "note": "n" * 501, "tracking_number": "x", "carrier": "x"},
    ["status", "packed"], [], "packed", None, 5,
], ids=repr)
def test_invalid_bodies_are_refused_alike(env: tuple[tuple[Side, Side], Shop], body: Any) -> None:
    sides, shop = env
    status, _ = post(sides, f"{S}{shop.untouched}/status/", body)
    assert status == 400


@pytest.mark.parametrize(("content", "content_type"), [
    (b"", JSON), (b"", None), (b"", FORM), (b'{"status": ', JSON), (b"not json", JSON), (b"[]", JSON),
    (b'{"status": "packed"}', "text/plain"), (b'{"status": "packed"}', None), (b"status=packed", "text/csv"),
    (b'{"status": NaN}', JSON), (b"[" * 50 + b"]" * 50, JSON), (b"status=&note=", FORM), (b"note=x", FORM),
    (b"x", "multipart/form-data"), (b'{"status": "bogus"}', "application/json; charset=latin-1"),
    (b'{"status": "packed", "tracking_number": "x"}', "application/vnd.api+json"),
])
def test_bad_and_empty_bodies_and_content_types(env: tuple[tuple[Side, Side], Shop], content: bytes,
                                                 content_type: str | None) -> None:
    sides, shop = env
    status, _ = exchange(sides, "POST", f"{S}{shop.untouched}/status/", who="staff", content=content,
                         content_type=content_type)
    assert status in (400, 415)


def test_form_and_multipart_bodies(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    first, second = shop.take("pending"), shop.take("pending")
    status, moved = exchange(sides, "POST", f"{S}{first}/status/", who="staff",
                             content=b"status=packed&note=Form+%C3%A5%C3%A4%C3%B6", content_type=FORM)
    assert (status, moved["events"][-1]["note"]) == (200, "Form åäö")
    status, moved = exchange(sides, "POST", f"{S}{second}/status/", who="staff",
                             content=_multipart(("status", "packed"), ("note", "multipart ✨")),
                             content_type=f"multipart/form-data; boundary={BOUNDARY}")
    assert (status, moved["events"][-1]["note"]) == (200, "multipart ✨")
    status, _ = exchange(sides, "POST", f"{S}{second}/status/", who="staff",
                         content=_multipart(("status", "shipped"), ("tracking_number", "MP-1234"),
                                            ("carrier", "ups")),
                         content_type=f"multipart/form-data; boundary={BOUNDARY}")
    assert status == 200
    status, _ = exchange(sides, "POST", f"{S}{first}/status/", who="staff",
                         content=b"status=shipped&tracking_number=bad!", content_type=FORM)
    assert status == 400
    status, _ = exchange(sides, "POST", f"{S}{first}/status/", who="staff", content=b'{"status": "shipped", '
                         b'"tracking_number": "CS-1234"}', content_type="application/json; charset=latin-1")
    assert status == 200


@pytest.mark.parametrize("who", [None, "customer", "other"])
def test_only_staff_may_move_a_shipment(env: tuple[tuple[Side, Side], Shop], who: str | None) -> None:
    sides, shop = env
    for shipment in (shop.untouched, shop.mine[0], 999999):
        for body in ({"status": "packed"}, {"status": "bogus"}):
            status, _ = post(sides, f"{S}{shipment}/status/", body, who=who)
            assert status == (401 if who is None else 403)


def test_negotiation_and_sizes_on_the_status_action(env: tuple[tuple[Side, Side], Shop]) -> None:
    """``?format=``/``Accept`` are DRF's before the permission; bodies over 1 MiB (400) and over the server's
    10 MiB (413) are refused before anything is written."""
    sides, shop = env
    path = f"{S}{shop.untouched}/status/"
    for who in (None, "customer", "staff"):
        exchange(sides, "POST", path + "?format=xml", who=who, content=b"{}", content_type=JSON)
        exchange(sides, "POST", path + "?format=json", who=who, content=b"{}", content_type=JSON)
        exchange(sides, "POST", path, who=who, content=b"{}", content_type=JSON, headers={"Accept": "text/html"})
        exchange(sides, "POST", path, who=who, content=b'{"status": "x", "note": "' + b"n" * 2_000_000 + b'"}',
                 content_type=JSON)
        exchange(sides, "POST", path, who=who, content=b"x" * (10 * 1024 * 1024 + 1), content_type=JSON)
    for headers in ({"Accept": "text/html"}, {"Accept": "application/xml"}):
        _internal(sides, CANCEL, {"order": 0}, headers=headers)
    exchange(sides, "POST", CANCEL + "?format=xml", headers={"X-Service-Token": ORDERS_TOKEN}, content=b"{}",
             content_type=JSON)
    exchange(sides, "POST", REQUEST, headers={"X-Service-Token": ORDERS_TOKEN},
             content=b"x" * (10 * 1024 * 1024 + 1), content_type=JSON)


def test_a_missing_or_filtered_out_shipment_is_404_before_the_body(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    pending = shop.untouched
    for path in (f"{S}999999/status/", f"{S}999999999999999999/status/", f"{S}{pending}/status/?status=packed",
                 f"{S}{pending}/status/?order=999999"):
        bodies: tuple[Any, ...] = ({"status": "packed"}, {"status": "bogus"}, [], {})
        for body in bodies:
            status, _ = post(sides, path, body)
            assert status == 404, path
    for path in (f"{S}{pending}/status/?status=bogus", f"{S}{pending}/status/?order=x"):
        status, _ = post(sides, path, {"status": "packed"})
        assert status == 400
    exchange(sides, "POST", f"{S}999999/status/", who="staff", content=b"{", content_type=JSON)
    exchange(sides, "POST", f"{S}999999/status/", who="staff", content=b"{}", content_type="text/plain")
    exchange(sides, "POST", f"{S}abc/status/", who="staff", content=b"{}", content_type=JSON)
    exchange(sides, "GET", f"{S}{pending}/", who="staff")  # untouched on both


def test_the_status_action_keeps_the_filters_it_was_asked_with(env: tuple[tuple[Side, Side], Shop]) -> None:
    """DRF's ``get_object()`` filters by the query (``?status=pending`` finds the pending shipment), the answer is
    read again without them."""
    sides, shop = env
    pending = shop.take("pending")
    status, moved = post(sides, f"{S}{pending}/status/?status=pending&order={shop.orders[pending]}",
                         {"status": "packed"})
    assert (status, moved["status"]) == (200, "packed")
    status, _ = exchange(sides, "GET", f"{S}{pending}/?status=pending", who="staff")
    assert status == 404


def test_a_customer_s_shipment_moved_by_staff_reads_alike_for_the_customer(
        env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    mine = next(s for s in shop.by_status["pending"] if s in shop.mine)
    shop.by_status["pending"].remove(mine)
    status, _ = post(sides, f"{S}{mine}/status/", {"status": "packed", "note": "for you"})
    assert status == 200
    exchange(sides, "GET", f"{S}{mine}/", who="customer")
    assert exchange(sides, "GET", f"{S}{mine}/", who="other")[0] == 404


# --- the internal API the orders service's checkout saga calls -------------------------------------------------


def _internal(sides: tuple[Side, Side], path: str, body: Any, *, token: str | None = ORDERS_TOKEN,
              content_type: str | None = JSON, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    headers = {**({} if token is None else {"X-Service-Token": token}), **(headers or {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return exchange(sides, "POST", path, headers=headers, content=content, content_type=content_type)


def test_a_shipment_request_is_made_once_and_answered_again(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    user = shop.user_ids["customer"]
    status, made = _internal(sides, REQUEST, {"order": 60001, "user": user, "carrier": "ups"})
    assert status == 201 and made["status"] == "pending", made
    assert _internal(sides, REQUEST, {"order": 60001, "user": user, "carrier": "ups"}) == (200, made)
    status, conflict = _internal(sides, REQUEST, {"order": 60001, "user": user, "carrier": "dhl"})
    assert status == 409 and conflict["code"] == "idempotency_conflict", conflict
    status, conflict = _internal(sides, REQUEST, {"order": 60001, "user": shop.user_ids["other"], "carrier": "ups"})
    assert status == 409
    status, _ = _internal(sides, REQUEST, {"order": 60002, "user": user})  # postal by default
    assert status == 201
    exchange(sides, "GET", f"{S}{made['id']}/", who="customer")
    exchange(sides, "GET", f"{S}?order=60001", who="staff")
    # The copied ones: answered as they are (the seed's carriers), or a conflict.
    copied = shop.mine[-1]
    _internal(sides, REQUEST, {"order": shop.orders[copied], "user": user, "carrier": "postal"})
    _internal(sides, REQUEST, {"order": 50001, "user": user, "carrier": "dhl"})


def test_cancelling_shipments_through_the_internal_api(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    user = shop.user_ids["other"]
    assert _internal(sides, CANCEL, {"order": 70001}) == (200, {"shipment": None})
    assert _internal(sides, CANCEL, {"order": 70001}) == (200, {"shipment": None})
    status, made = _internal(sides, REQUEST, {"order": 70002, "user": user, "carrier": "fedex"})
    assert status == 201
    status, cancelled = _internal(sides, CANCEL, {"order": 70002})
    assert (status, cancelled["status"]) == (200, "cancelled")
    assert _internal(sides, CANCEL, {"order": 70002})[0] == 200
    exchange(sides, "GET", f"{S}{made['id']}/", who="other")
    packed = shop.take("packed")
    assert _internal(sides, CANCEL, {"order": shop.orders[packed]})[0] == 200
    shipped = shop.take("shipped")
    status, refused = _internal(sides, CANCEL, {"order": shop.orders[shipped]})
    assert (status, refused["code"]) == (409, "invalid_transition")


@pytest.mark.parametrize("body", [
    {}, {"order": "x", "user": "y", "carrier": "z"}, {"order": 0, "user": -1}, {"order": 2**63, "user": 1},
    {"order": 1.5, "user": "1.0"}, {"order": None, "user": True}, {"order": [1], "user": {"a": 1}},
    {"order": "", "user": " 7 "}, {"order": 80001, "user": 2, "carrier": None}, {"order": 80001, "carrier": ""},
    {"order": 1e400}, [], [1], "x", None, b"", b"{", b"order=80001&user=2",
], ids=repr)
@pytest.mark.parametrize("path", [REQUEST, CANCEL])
def test_bad_internal_bodies_are_400_per_field(env: tuple[tuple[Side, Side], Shop], path: str, body: Any) -> None:
    status, _ = _internal(env[0], path, body)
    assert status in (400, 201, 200)  # a form is parsed, and the cancel reads only the order: both alike


@pytest.mark.parametrize("token", [None, "", "wrong", ORDERS_TOKEN + "x", ORDERS_TOKEN.upper()])
@pytest.mark.parametrize("path", [REQUEST, CANCEL])
def test_internal_calls_need_the_orders_token(env: tuple[tuple[Side, Side], Shop], path: str,
                                              token: str | None) -> None:
    sides = env[0]
    status, _ = _internal(sides, path, {"order": 90001, "user": 2}, token=token)
    assert status == 401
    exchange(sides, "POST", path, who="staff", headers={} if token is None else {"X-Service-Token": token},
             content=b"{}", content_type=JSON)
    exchange(sides, "GET", path, headers={} if token is None else {"X-Service-Token": token})
    exchange(sides, "OPTIONS", path, headers={"X-Service-Token": ORDERS_TOKEN})
    exchange(sides, "GET", path, headers={"X-Service-Token": ORDERS_TOKEN})


def test_a_logged_in_browser_writes_with_its_csrf_token(env: tuple[tuple[Side, Side], Shop]) -> None:
    """Staff and a customer logged in by session at the monolith (their session and CSRF cookies; the service gets
    the same cookies and the identity token the router mints from the session, no Authorization header): DRF's
    SessionAuthentication wants the CSRF token on every write, right after authentication (before the permission's
    403, the method's 405 and the shipment's 404); a POST's body the parsers refuse is their 400/415 from inside
    the check. Reads are not held to it, nor are callers by token (every other test's); with the token staff move
    a shipment, by header or by a form's field, on both sides alike."""
    sides, shop = env
    mono, svc = sides
    secrets = {}
    for who, email in (("staff-browser", USERS["staff"]), ("customer-browser", USERS["customer"])):
        with httpx.Client(base_url=mono.http.base_url, timeout=30) as browser:
            login = browser.post("/api/accounts/login/", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            session, secrets[who] = browser.cookies["sessionid"], browser.cookies["csrftoken"]
        mono.auth[who] = {"Cookie": f"sessionid={session}; csrftoken={secrets[who]}"}
        svc.auth[who] = {"X-Identity-Token": _identity(login.json()["user"]), **mono.auth[who]}
    pending = shop.take("pending")
    try:
        for who, csrf in secrets.items():
            session, staff = mono.auth[who]["Cookie"].split(";")[0], who == "staff-browser"
            assert exchange(sides, "GET", f"{S}{shop.mine[0]}/", who=who)[0] == 200
            assert exchange(sides, "OPTIONS", f"{S}{pending}/status/", who=who)[0] == (200 if staff else 403)
            for headers in ({}, {"X-CSRFToken": "a" * 32}, {"X-CSRFToken": "short"}, {"X-CSRFToken": "!" * 64},
                            {"X-CSRFToken": csrf, "Origin": "http://evil.example"}, {"Origin": "null"},
                            {"X-CSRFToken": csrf, "Cookie": session},
                            {"X-CSRFToken": csrf, "Cookie": f"{session}; csrftoken=short"}):
                for method, path in (("POST", f"{S}{pending}/status/"), ("POST", f"{S}999999/status/"),
                                     ("PUT", f"{S}{pending}/status/"), ("POST", S), ("DELETE", f"{S}{pending}/")):
                    status, answer = exchange(sides, method, path, who=who, content=b'{"status": "packed"}',
                                              content_type=JSON, headers=headers)
                    assert status == 403 and answer["detail"].startswith("CSRF Failed: "), (headers, answer)
            for content, content_type in ((b'{"status": ', JSON), (b"status=packed", "text/plain"),
                                          (b"a=1", "multipart/form-data")):
                for headers in ({}, {"X-CSRFToken": csrf}):
                    status, _ = exchange(sides, "POST", f"{S}{pending}/status/", who=who, content=content,
                                         content_type=content_type, headers=headers)
                    assert status in (400, 415), (content, content_type, status)
            # With the token, the permission, the method and the look-up answer as before.
            assert exchange(sides, "PUT", f"{S}{pending}/status/", who=who, headers={"X-CSRFToken": csrf})[0] == (
                405 if staff else 403)
            assert post(sides, f"{S}999999/status/", {"status": "packed"}, who=who,
                        headers={"X-CSRFToken": csrf})[0] == (404 if staff else 403)
        csrf = secrets["staff-browser"]
        status, moved = post(sides, f"{S}{pending}/status/", {"status": "packed"}, who="staff-browser",
                             headers={"X-CSRFToken": csrf, "Origin": "http://localhost"})
        assert (status, moved["status"]) == (200, "packed")
        status, moved = exchange(sides, "POST", f"{S}{pending}/status/", who="staff-browser", content_type=FORM,
                                 content=f"status=shipped&tracking_number=CSRF-1&csrfmiddlewaretoken={csrf}".encode())
        assert (status, moved["status"]) == (200, "shipped")
        exchange(sides, "GET", f"{S}{pending}/", who="staff")
    finally:
        for side in sides:
            side.http.cookies.clear()  # a renewed CSRF cookie must not follow the other tests' callers
