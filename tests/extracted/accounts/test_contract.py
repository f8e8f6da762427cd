"""Contract: the accounts service answers like the monolith's /api/accounts/ (me, the address book, the internal
address look-up, register, login and logout), over real HTTP.

The monolith runs under gunicorn on a seeded shop (``seed_shop``: customers with an address each) where the
callers have API tokens (as DRF's login issues them), a customer renames themselves and adds a default address
(microseconds in its time, text beyond ASCII), and one customer is deactivated. The accounts plan's data split
(``migration_plans/accounts.yaml``) provisions the service's own database, captures, copies; then the customer adds
one more address and edits another at the monolith, and the split syncs and verifies. The service runs as its own
process. The same requests go to both, the monolith authorised by each caller's API token, the service by the
router's identity token for the same user and the caller's own ``Authorization`` (which the router passes on), or
by that ``Authorization`` alone (``<who>-raw``: how the router's identity bridge asks ``/me/`` once the service owns
identity): status, body byte for byte, and the headers a client relies on must be equal.

Writes (names, addresses created, replaced, patched, deleted) go to both sides, which the split left equal, so the
two stay equal: the answers are compared byte for byte except the time a write itself sets (a new address's
``created_at``: each side's clock), which must be a valid ISO datetime on both.

Register, login and logout (the last part of this file): the service opens and closes sessions at the monolith's
internal session API (both processes share ``ACCOUNTS_SERVICE_TOKEN``; the service has the monolith's URL), so
its ``Set-Cookie`` are the monolith's, compared by name and attributes (a session key, a CSRF token and an expiry
date differ by nature: their values are normalised). Each side counts failed logins in its own table: every case
that fails logins comes from a client address of its own (``X-Forwarded-For``, which both sides take from the
loopback proxy) and an account of its own, so that no case's failures reach another's throttle; Retry-After may
differ by a second. New API tokens are random (40 hex on both sides) and a new user's ``date_joined`` each side's
clock. Each login costs a real hash on both sides (the monolith runs its own settings): the cases are few.

The password change (its own accounts, made before the copy: the same hash on both sides): refusals, validators,
the throttle, a token caller's change (the token kept, the new password logging in), and a session caller's (the
session kept under a new key, the others ended), each side on its own account; the service's session is opened
again at the monolith with the service's new hash, which the monolith's copy gets by the reverse sync (simulated
here: no cutover), after which its login page takes the new password too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text

from extracted.accounts.db import make_engine
from router.addons.identity import Refused, mint_refused
from strangler.processes import ManagedProcess, free_port
from tests.support.servers import ROOT, running_shop, scratch_database

pytestmark = pytest.mark.slow

SECRET = "accounts-contract-tests-identity-secret-0123456789"
ORDERS_TOKEN = "orders-service-token-for-the-accounts-contract"  # noqa: S105 - the test's own token
ACCOUNTS_TOKEN = "accounts-service-token-for-the-accounts-contract"  # noqa: S105 - the test's own token
PLAN = ROOT / "migration_plans" / "accounts.yaml"
ME = "/api/accounts/me/"
A = "/api/accounts/addresses/"
LOOKUP = "/api/accounts/internal/addresses/"
PASSWORD = "shop-demo-password"
# Every header a client or a cache acts on (Content-Length is left out: gunicorn sends some answers chunked).
COMPARED_HEADERS = ("content-type", "allow", "www-authenticate", "vary", "location", "x-frame-options",
                    "x-content-type-options", "referrer-policy", "cross-origin-opener-policy", "retry-after")
USERS = {"customer": "customer1@example.com", "other": "customer2@example.com", "staff": "staff@example.com",
         "revoked": "customer3@example.com"}
# The password change's accounts, one a case that changes or throttles one (the token caller's, the throttle's, and a
# session caller's on each side: the monolith's copy of the user serves both sides' sessions).
PW_USERS = {"pw": "password.change@example.com", "pw-throttle": "password.throttle@example.com",
            "pw-mono": "password.mono@example.com", "pw-svc": "password.svc@example.com"}
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "------------------------accounts0123"
HOME = {"full_name": "Märta Öberg ✨", "line1": "Storgatan 1", "line2": "c/o Berg", "city": "Malmö",
        "postal_code": "211 45", "country": "se", "phone": "+46 40 123456"}


@dataclass
class Side:
    http: httpx.Client
    auth: dict[str, dict[str, str]]  # who -> headers
    written: set[str] = field(default_factory=set)  # the times this side's writes set (JSON strings, quoted)


@dataclass
class Shop:
    user_ids: dict[str, int]    # who -> user id
    mine: list[int]             # the customer's addresses (id order)
    others: list[int]           # the other customer's
    revoked_key: str            # the API token of the deactivated customer
    reverse_sync: Callable[[str], None]  # the service's password hash of that email into the monolith's copy


def _split(env: dict[str, str], *operations: str) -> None:
    for operation in operations:
        done = subprocess.run([sys.executable, "manage.py", "strangler", "split", operation, str(PLAN)],  # noqa: S603
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"split {operation}: {done.stdout}\n{done.stderr}"


# The callers' API tokens as DRF issues them at login (one shell, not a login each: Django's password hashing takes a
# second a login), and a customer deactivated since (their token is still there: the monolith refuses it).
_TOKENS = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
out = {}
for user in get_user_model().objects.filter(email__in=%r):
    out[user.email] = [Token.objects.get_or_create(user=user)[0].key, {"id": user.id, "is_staff": user.is_staff}]
get_user_model().objects.filter(email=%r).update(is_active=False)
print(json.dumps(out))
"""


def _tokens(shop: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    issued = json.loads(shop.manage("shell", "-c", _TOKENS % (list(USERS.values()), USERS["revoked"])).stdout
                        .strip().splitlines()[-1])
    return {who: (issued[email][0], issued[email][1]) for who, email in USERS.items()}


# New customers with the seeded password, hashed once as Django hashes it now (the seed's own hash has a short salt,
# which either side's first login would upgrade: the service's session would then carry a hash the monolith's copy
# does not hold, as before the reverse sync), and an API token each.
_PASSWORD_USERS = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from rest_framework.authtoken.models import Token
User = get_user_model()
encoded = make_password(%r)
out = {}
for email in %r:
    user = User.objects.create(username=email, email=email, password=encoded)
    out[email] = [Token.objects.create(user=user).key, {"id": user.id, "is_staff": False}]
print(json.dumps(out))
"""


def _password_users(shop: Any) -> dict[str, tuple[str, dict[str, Any]]]:
    made = json.loads(shop.manage("shell", "-c", _PASSWORD_USERS % (PASSWORD, list(PW_USERS.values())))
                      .stdout.strip().splitlines()[-1])
    return {who: (made[email][0], made[email][1]) for who, email in PW_USERS.items()}


def _reverse_sync(shop: Any, service_db: str) -> Callable[[str], None]:
    """What the reverse sync does after a cutover, for one user's password: the monolith's copy gets the service's
    hash."""
    def sync(email: str) -> None:
        engine = make_engine(service_db)
        try:
            with engine.connect() as conn:
                encoded = conn.execute(text("SELECT password FROM users WHERE email = :email"),
                                       {"email": email}).scalar_one()
        finally:
            engine.dispose()
        shop.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                                   f"get_user_model().objects.filter(email={email!r}).update(password={encoded!r})")
    return sync


def _identity(user: dict[str, Any]) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user["id"]), "staff": user["is_staff"], "iat": now, "exp": now + 3600,
                       "iss": "strangler-router", "aud": "strangler-services"}, SECRET, algorithm="HS256")


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[tuple[Side, Side], Shop]]:
    base = tmp_path_factory.mktemp("accounts-contract")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ORDERS_SERVICE_TOKEN", ORDERS_TOKEN)  # the monolith's internal accounts API, and the service's
        mp.setenv("ACCOUNTS_SERVICE_TOKEN", ACCOUNTS_TOKEN)  # the monolith's session API, as the service calls it
        with running_shop(base, seed_args=("--products", "3", "--users", "4", "--orders", "2")) as shop, \
                scratch_database(base / "accounts") as service_db:
            # In the PostgreSQL pass the service's database is on PostgreSQL too (scratch_database follows
            # MONOLITH_DATABASE_URL's kind): SQL that only SQLite accepts is caught here.
            env = {**shop.env, "ACCOUNTS_DATABASE_URL": service_db, "ROUTER_IDENTITY_SECRET": SECRET,
                   "ACCOUNTS_VAR_DIR": str(base / "var"), "ACCOUNTS_MONOLITH_URL": shop.url}
            tokens = _tokens(shop)
            revoked = tokens.pop("revoked")[0]
            tokens.update(_password_users(shop))
            customer = {"Authorization": f"Token {tokens['customer'][0]}"}
            with httpx.Client(base_url=shop.url, headers={"Host": "localhost"}, timeout=30) as mono:
                # Before the copy: names and a new default address (its created_at has microseconds).
                _ok(mono.patch(ME, headers=customer, json={"first_name": "Märta ✨", "last_name": "Öberg"}))
                _ok(mono.post(A, headers=customer, json={**HOME, "is_default": True}), 201)
                _split(env, "provision", "capture", "copy")
                # After the copy: one more address, and an edit, which only the sync brings across.
                made = _ok(mono.post(A, headers=customer, json={**HOME, "city": "Lund"}), 201)
                _ok(mono.patch(f"{A}{made['id']}/", headers=customer, json={"line2": "after the copy"}))
                _split(env, "sync", "verify")
            port = free_port()
            service = ManagedProcess("accounts", [sys.executable, "-m", "extracted.accounts", "--port", str(port)],
                                     log_path=base / "accounts.log", env=env, cwd=ROOT)
            with service:
                service.wait_healthy(f"http://127.0.0.1:{port}/healthz")
                with httpx.Client(base_url=shop.url, headers={"Host": "localhost"}, timeout=30) as mono, \
                        httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": "localhost"},
                                     timeout=30) as svc:
                    mono_auth = {who: {"Authorization": f"Token {token}"} for who, (token, _) in tokens.items()}
                    svc_auth = {who: {"X-Identity-Token": _identity(user), **mono_auth[who]}
                                for who, (_, user) in tokens.items()}
                    for who in tokens:  # the caller's own token alone, as the identity bridge asks
                        mono_auth[f"{who}-raw"] = svc_auth[f"{who}-raw"] = mono_auth[who]
                    mine = [a["id"] for a in _ok(mono.get(A, headers=mono_auth["customer"]))]
                    others = [a["id"] for a in _ok(mono.get(A, headers=mono_auth["other"]))]
                    assert len(mine) == 3 and len(others) == 1, (mine, others)
                    facts = Shop(user_ids={who: user["id"] for who, (_, user) in tokens.items()}, mine=mine,
                                 others=others, revoked_key=revoked, reverse_sync=_reverse_sync(shop, service_db))
                    yield (Side(mono, mono_auth), Side(svc, svc_auth)), facts


def _is_datetime(value: Any) -> bool:
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return isinstance(value, str) and value.endswith("Z")


def exchange(sides: tuple[Side, Side], method: str, path: str, *, who: str | None = None,
             headers: dict[str, str] | None = None, content: bytes | None = None,
             content_type: str | None = None) -> tuple[int, Any]:
    """The same request to both sides: status, body (byte for byte) and :data:`COMPARED_HEADERS` must be equal.

    A new address's ``created_at`` is each side's clock: an address created (201) adds it to what each side
    masks, once both are seen to be ISO datetimes; every answer after shows it as ``<time>``, on both sides."""
    answers = []
    for side in sides:
        sent = {**(side.auth[who] if who else {}), **({"Content-Type": content_type} if content_type else {}),
                **(headers or {})}
        response = side.http.request(method, path, headers=sent, content=content)
        if method == "POST" and response.status_code == 201:
            made = response.json()["created_at"]
            assert _is_datetime(made), f"{method} {path}: {made!r} is not an ISO datetime"
            side.written.add(json.dumps(made))
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


def send(sides: tuple[Side, Side], method: str, path: str, body: Any, *, who: str | None = "customer",
         headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """A JSON write to both sides, compared as :func:`exchange` compares writes."""
    return exchange(sides, method, path, who=who, headers=headers, content=json.dumps(body).encode(),
                    content_type=JSON)


def _multipart(*fields: tuple[str, str]) -> bytes:
    """A multipart/form-data body as ``curl -F`` sends it (a fixed boundary: both sides get the same bytes)."""
    out = ""
    for name, value in fields:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    return (out + f"--{BOUNDARY}--\r\n").encode()


WHO = [None, "customer", "other", "staff", "customer-raw", "staff-raw"]


# --- reads ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", WHO)
def test_me_reads_alike(env: tuple[tuple[Side, Side], Shop], who: str | None) -> None:
    sides, _ = env
    for query in ("", "?format=json", "?format=xml", "?format=api", "?format=xml&format=json", "?x=1"):
        exchange(sides, "GET", ME + query, who=who)
    for accept in ("text/html", "application/json; indent=4", "application/*", "application/xml", "",
                   "application/json;q=0"):
        exchange(sides, "GET", ME, who=who, headers={"Accept": accept})
    exchange(sides, "HEAD", ME, who=who)
    exchange(sides, "OPTIONS", ME, who=who)
    for method in ("POST", "PUT", "DELETE"):
        exchange(sides, method, ME, who=who, content=b"{}", content_type=JSON)


@pytest.mark.parametrize("who", WHO)
def test_address_books_read_alike(env: tuple[tuple[Side, Side], Shop], who: str | None) -> None:
    sides, shop = env
    for query in ("", "?format=json", "?format=xml", "?page=2", "?page_size=1"):
        exchange(sides, "GET", A + query, who=who)
    for address in shop.mine + shop.others + [999999]:
        exchange(sides, "GET", f"{A}{address}/", who=who)
        exchange(sides, "OPTIONS", f"{A}{address}/", who=who)
    exchange(sides, "GET", A, who=who, headers={"Accept": "application/json; indent=2"})
    exchange(sides, "GET", A, who=who, headers={"Accept": "text/html"})
    exchange(sides, "HEAD", A, who=who)
    exchange(sides, "HEAD", f"{A}{shop.mine[0]}/", who=who)
    exchange(sides, "OPTIONS", A, who=who)
    for method in ("PUT", "PATCH", "DELETE"):
        exchange(sides, method, A, who=who, content=b"{}", content_type=JSON)
    exchange(sides, "POST", f"{A}{shop.mine[0]}/", who=who, content=b"{}", content_type=JSON)


def test_what_the_copy_and_the_sync_brought_is_shown_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    _, me = exchange(sides, "GET", ME, who="customer")
    assert (me["first_name"], me["last_name"]) == ("Märta ✨", "Öberg")
    _, book = exchange(sides, "GET", A, who="customer")
    assert [a["is_default"] for a in book] == [False, True, False]
    assert book[1]["country"] == "SE" and "." in book[1]["created_at"]
    assert book[2]["line2"] == "after the copy"


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("suffix", ["999999999999999999/", "9999999999999999999/", "0/", "007/", "abc/", "-1/",
                                    "1.0/", "1", "999999", "abc", "%31/", "1/x/", "internal"])
def test_bad_and_missing_ids_are_equal(env: tuple[tuple[Side, Side], Shop], who: str | None, suffix: str) -> None:
    exchange(env[0], "GET", A + suffix, who=who)


@pytest.mark.parametrize("who", [None, "customer"])
@pytest.mark.parametrize("path", ["/api/accounts/me", "/api/accounts/addresses", "/api/accounts/nothing/",
                                  "/api/accounts/internal/addresses", "/api/accounts/me/x/", "/api/accounts/"])
def test_unknown_urls_and_missing_slashes(env: tuple[tuple[Side, Side], Shop], who: str | None, path: str) -> None:
    exchange(env[0], "GET", path, who=who)
    exchange(env[0], "POST", path + "?a=1", who=who)


# --- credentials ---------------------------------------------------------------------------------------------------


CREDENTIALS = ("Token 0123456789abcdef0123456789abcdef01234567", "Token x", "Token " + "a" * 41, "Token abc-def",
               "Token", "Token a b", "token  " + "0" * 40, "Bearer abc", "Basic dXNlcjpwdw==")


def test_a_credential_refused_through_the_router_is_answered_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """The router asks who the caller is; a refused credential reaches the service as a signed refusal (here
    minted by the router's own code from the monolith's answer), answered where DRF would."""
    sides, shop = env
    mono, svc = sides
    for credential in (*CREDENTIALS, f"Token {shop.revoked_key}"):
        asked = mono.http.get(ME, headers={"Authorization": credential})
        headers = {"Authorization": credential}
        if asked.status_code in (401, 403) and credential.lower().startswith("token"):
            refused = Refused(asked.status_code, asked.content,
                              tuple(v.encode("latin-1") for v in asked.headers.get_list("www-authenticate")))
            svc.auth["refused"] = {**headers, "X-Identity-Token": mint_refused(refused, SECRET, 60)}
        else:
            svc.auth["refused"] = headers
        mono.auth["refused"] = headers
        for method, path in (("GET", ME), ("PATCH", ME), ("OPTIONS", ME), ("GET", A), ("POST", A),
                             ("GET", f"{A}{shop.mine[0]}/"), ("DELETE", f"{A}{shop.mine[0]}/"), ("PUT", ME),
                             ("GET", ME + "?format=xml"), ("GET", "/api/accounts/nothing/")):
            exchange(sides, method, path, who="refused")


def test_the_callers_own_credential_is_refused_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """No identity token (the identity bridge's own question): the service refuses a token as DRF does."""
    sides, shop = env
    for credential in (*CREDENTIALS, f"Token {shop.revoked_key}", f"TOKEN {shop.revoked_key}"):
        for method, path in (("GET", ME), ("HEAD", ME), ("OPTIONS", ME), ("PATCH", ME), ("GET", A),
                             ("GET", f"{A}{shop.mine[0]}/"), ("POST", A), ("GET", ME + "?format=xml")):
            exchange(sides, method, path, headers={"Authorization": credential})
    # Bytes that are not UTF-8, and UTF-8 that is not ASCII (httpx sends header bytes as they are).
    for raw in (b"Token \xe9t\xe9", "Token été".encode(), b"Token a\tb"):
        answers = []
        for side in sides:
            response = side.http.get(ME, headers=[(b"Authorization", raw)])
            answers.append((response.status_code, response.content, response.headers.get("www-authenticate")))
        assert answers[0] == answers[1], raw


def test_a_deactivated_users_own_token_is_refused_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    status, body = exchange(sides, "GET", ME, headers={"Authorization": f"Token {shop.revoked_key}"})
    assert (status, body) == (401, {"detail": "User inactive or deleted."})


@pytest.mark.parametrize("host", ["evil.example", "localhost:8000"])
def test_hosts_outside_allowed_hosts_are_400(env: tuple[tuple[Side, Side], Shop], host: str) -> None:
    for who in (None, "customer", "customer-raw"):
        exchange(env[0], "GET", ME, who=who, headers={"Host": host})
        exchange(env[0], "POST", A, who=who, headers={"Host": host})


# --- writes: names ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {"first_name": "x" * 151, "last_name": None}, {"first_name": ["a"]}, {"last_name": {"a": 1}},
    {"first_name": "a\x00b"}, {"first_name": True}, [], "x", None, 5, {"first_name": "\ud800"},
], ids=repr)
def test_bad_names_are_refused_alike(env: tuple[tuple[Side, Side], Shop], body: Any) -> None:
    status, _ = send(env[0], "PATCH", ME, body, who="other")
    assert status == 400


def test_names_change_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, _ = env
    for who in ("other", "other-raw"):
        send(sides, "PATCH", ME, {"first_name": "  Åsa ", "email": "x@example.com", "is_staff": True, "id": 1,
                                  "date_joined": "2000-01-01T00:00:00Z"}, who=who)
        send(sides, "PATCH", ME, {"last_name": 5}, who=who)
        send(sides, "PATCH", ME, {}, who=who)
        exchange(sides, "PATCH", ME, who=who, content=b"last_name=Form+%C3%A5&first_name=", content_type=FORM)
        exchange(sides, "PATCH", ME, who=who, content=_multipart(("first_name", "multipart ✨")),
                 content_type=f"multipart/form-data; boundary={BOUNDARY}")
        exchange(sides, "PATCH", ME, who=who, content=b"", content_type=JSON)
        exchange(sides, "PATCH", ME, who=who, content=b"{", content_type=JSON)
        exchange(sides, "PATCH", ME, who=who, content=b"{}", content_type="text/plain")
        exchange(sides, "GET", ME, who=who)


# --- writes: the address book ---------------------------------------------------------------------------------------


def test_the_default_address_moves_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, _ = env
    status, made = send(sides, "POST", A, {**HOME, "is_default": "yes"})
    assert status == 201 and made["is_default"] is True
    _, book = exchange(sides, "GET", A, who="customer")
    assert [a["id"] for a in book if a["is_default"]] == [made["id"]]
    first = book[0]["id"]
    status, put = send(sides, "PUT", f"{A}{first}/", {**HOME, "city": "Ystad", "is_default": True})
    assert status == 200 and put["is_default"] is True
    status, patched = send(sides, "PATCH", f"{A}{made['id']}/", {"city": "Kiruna"})  # keeps the stored flag
    assert status == 200 and patched["is_default"] is False
    send(sides, "PATCH", f"{A}{first}/", {"is_default": False})  # none left, as the monolith has it
    exchange(sides, "GET", A, who="customer")
    exchange(sides, "PATCH", f"{A}{made['id']}/", who="customer", content=b"is_default=on", content_type=FORM)
    # A form's PUT without the checkbox sends is_default False (HTML input).
    exchange(sides, "PUT", f"{A}{made['id']}/", who="customer",
             content="&".join(f"{k}={v}" for k, v in HOME.items()).encode(), content_type=FORM)
    exchange(sides, "PUT", f"{A}{made['id']}/", who="customer",
             content=_multipart(*HOME.items(), ("is_default", "true")),
             content_type=f"multipart/form-data; boundary={BOUNDARY}")
    exchange(sides, "GET", A, who="customer")
    status, _ = exchange(sides, "DELETE", f"{A}{made['id']}/", who="customer")
    assert status == 204
    assert exchange(sides, "DELETE", f"{A}{made['id']}/", who="customer")[0] == 404
    exchange(sides, "GET", A, who="customer")


def test_the_only_address_stays_the_default_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    only = shop.others[0]
    status, kept = send(sides, "PATCH", f"{A}{only}/", {"is_default": False, "phone": ""}, who="other")
    assert status == 200 and kept["is_default"] is True
    send(sides, "PUT", f"{A}{only}/", {**HOME, "is_default": "0"}, who="other-raw")
    exchange(sides, "GET", A, who="other")


@pytest.mark.parametrize("who", ["customer", "customer-raw", "staff"])
def test_another_users_address_is_not_found_on_every_method(env: tuple[tuple[Side, Side], Shop], who: str) -> None:
    sides, shop = env
    theirs = shop.others[0]
    for method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        exchange(sides, method, f"{A}{theirs}/", who=who)
    for method in ("PUT", "PATCH"):
        assert send(sides, method, f"{A}{theirs}/", {**HOME, "is_default": True}, who=who)[0] == 404
        assert send(sides, method, f"{A}{theirs}/", {"country": "bad"}, who=who)[0] == 404
        exchange(sides, method, f"{A}{theirs}/", who=who, content=b"{", content_type=JSON)
    exchange(sides, "GET", A, who="other")  # untouched


@pytest.mark.parametrize("body", [
    {}, {**HOME, "country": "usa", "is_default": "maybe"},
    {**HOME, "country": "u1", "is_default": None, "line2": None, "phone": None},
    {**HOME, "country": ["us"]}, {**HOME, "country": True}, {**HOME, "country": "  "}, {**HOME, "country": 12},
    {**HOME, "country": "s\x00"}, {**HOME, "country": ""}, {**HOME, "country": None}, {**HOME, "country": "é1"},
    {**HOME, "full_name": "x" * 121, "line1": "", "line2": "y" * 201, "city": ["c"], "phone": "p" * 31},
    {**HOME, "is_default": "tRuE", "postal_code": "p" * 21}, {**HOME, "is_default": [True]},
    {**HOME, "is_default": 2}, {**HOME, "is_default": "null"}, {**HOME, "full_name": "\ud800"},
    {**HOME, "city": {"a": 1}, "postal_code": False}, [], "x", None, 5, [HOME],
], ids=repr)
def test_bad_address_bodies_are_refused_alike(env: tuple[tuple[Side, Side], Shop], body: Any) -> None:
    sides, shop = env
    for method, path in (("POST", A), ("PUT", f"{A}{shop.mine[0]}/"), ("PATCH", f"{A}{shop.mine[0]}/")):
        status, _ = send(sides, method, path, body)
        assert status in (200, 400), (method, body)
        if status == 200:  # a partial update of what is valid in it
            assert method == "PATCH", body


@pytest.mark.parametrize(("content", "content_type"), [
    (b"", JSON), (b"", None), (b"", FORM), (b'{"city": ', JSON), (b"not json", JSON), (b"[]", JSON),
    (b'{"city": "x"}', "text/plain"), (b'{"city": "x"}', None), (b"city=x", "text/csv"), (b'{"city": NaN}', JSON),
    (b"city=&country=", FORM), (b"country=x", FORM), (b"x", "multipart/form-data"),
    (b'{"country": "\xe5x"}', "application/json; charset=latin-1"),
])
def test_bad_and_empty_bodies_and_content_types(env: tuple[tuple[Side, Side], Shop], content: bytes,
                                                 content_type: str | None) -> None:
    sides, shop = env
    exchange(sides, "POST", A, who="customer", content=content, content_type=content_type)
    exchange(sides, "PUT", f"{A}{shop.mine[0]}/", who="customer", content=content, content_type=content_type)
    exchange(sides, "PATCH", f"{A}{shop.mine[0]}/", who="customer", content=content, content_type=content_type)


def test_form_and_multipart_creates(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, _ = env
    status, made = exchange(sides, "POST", A, who="customer-raw",
                            content="&".join(f"{k}={v}" for k, v in {**HOME, "city": "Form å"}.items()).encode(),
                            content_type=FORM)
    assert status == 201 and made["is_default"] is False
    status, made = exchange(sides, "POST", A, who="customer",
                            content=_multipart(*HOME.items(), ("is_default", "1")),
                            content_type=f"multipart/form-data; boundary={BOUNDARY}")
    assert status == 201 and made["is_default"] is True
    exchange(sides, "GET", A, who="customer")
    exchange(sides, "DELETE", f"{A}{made['id']}/", who="customer")
    exchange(sides, "GET", A, who="customer")


@pytest.mark.parametrize("who", [None, "customer", "customer-raw"])
def test_negotiation_and_sizes_on_writes(env: tuple[tuple[Side, Side], Shop], who: str | None) -> None:
    """``?format=``/``Accept`` are DRF's before the permission; bodies over 1 MiB (400) and over the server's
    10 MiB (413) are refused before anything is written."""
    sides, shop = env
    for method, path in (("POST", A), ("PATCH", ME), ("PUT", f"{A}{shop.mine[0]}/")):
        exchange(sides, method, path + "?format=xml", who=who, content=b"{}", content_type=JSON)
        exchange(sides, method, path, who=who, content=b"{}", content_type=JSON, headers={"Accept": "text/html"})
        exchange(sides, method, path, who=who, content=b'{"city": "' + b"n" * 2_000_000 + b'"}', content_type=JSON)
        exchange(sides, method, path, who=who, content=b"x" * (10 * 1024 * 1024 + 1), content_type=JSON)
    exchange(sides, "POST", LOOKUP, headers={"X-Service-Token": ORDERS_TOKEN}, content=b"x" * (10 * 1024 * 1024 + 1),
             content_type=JSON)


# --- the internal look-up of the orders service's checkout ---------------------------------------------------------


def _internal(sides: tuple[Side, Side], body: Any, *, token: str | None = ORDERS_TOKEN,
              content_type: str | None = JSON, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    headers = {**({} if token is None else {"X-Service-Token": token}), **(headers or {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return exchange(sides, "POST", LOOKUP, headers=headers, content=content, content_type=content_type)


def test_the_internal_lookup_answers_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides, shop = env
    user, other = shop.user_ids["customer"], shop.user_ids["other"]
    status, found = _internal(sides, {"user": user, "address": shop.mine[-1]})
    assert status == 200 and found["line2"] == "after the copy"
    assert _internal(sides, {"user": user, "address": shop.others[0]})[0] == 404
    assert _internal(sides, {"user": other, "address": shop.mine[0]})[0] == 404
    assert _internal(sides, {"user": other, "address": shop.others[0]})[0] == 200
    _internal(sides, f"user={user}&address={shop.mine[0]}".encode(), content_type=FORM)
    for headers in ({"Accept": "text/html"}, {"Accept": "application/xml"}):
        _internal(sides, {"user": user, "address": 999999}, headers=headers)
    exchange(sides, "POST", LOOKUP + "?format=xml", headers={"X-Service-Token": ORDERS_TOKEN}, content=b"{}",
             content_type=JSON)
    for method in ("GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"):
        exchange(sides, method, LOOKUP, headers={"X-Service-Token": ORDERS_TOKEN})


@pytest.mark.parametrize("body", [
    {}, {"user": "x", "address": "y"}, {"user": 0, "address": -1}, {"user": 2**63, "address": 1},
    {"user": 1.5, "address": "1.0"}, {"user": None, "address": True}, {"user": [1], "address": {"a": 1}},
    {"user": "", "address": " 7 "}, [], "x", None, b"", b"{", b"user=1",
], ids=repr)
def test_bad_internal_bodies_are_refused_alike(env: tuple[tuple[Side, Side], Shop], body: Any) -> None:
    status, _ = _internal(env[0], body)
    assert status in (400, 404, 415)


@pytest.mark.parametrize("token", [None, "", "wrong", ORDERS_TOKEN + "x", ORDERS_TOKEN.upper()])
def test_the_internal_lookup_needs_the_orders_token(env: tuple[tuple[Side, Side], Shop], token: str | None) -> None:
    sides, shop = env
    status, _ = _internal(sides, {"user": shop.user_ids["customer"], "address": shop.mine[0]}, token=token)
    assert status == 401
    exchange(sides, "POST", LOOKUP, who="customer", headers={} if token is None else {"X-Service-Token": token},
             content=b"{}", content_type=JSON)
    exchange(sides, "GET", LOOKUP, headers={} if token is None else {"X-Service-Token": token})


# --- register, login, logout: sessions at the monolith --------------------------------------------------------------

LOGIN = "/api/accounts/login/"
REGISTER = "/api/accounts/register/"
LOGOUT = "/api/accounts/logout/"
SEEDED = "customer4@example.com"  # seeded, copied, used by no other case
_TOKEN_FIELD = re.compile(rb'"token":"([0-9a-f]{40})"')
_JOINED_FIELD = re.compile(rb'"date_joined":"([^"]+)"')


def _cookie_shape(set_cookie: str) -> str:
    """A Set-Cookie by name and attributes: a value is random (a session key, a CSRF token), an expiry date the
    clock's; a removal (``""``, 1970) is compared as it is."""
    name, _, rest = set_cookie.partition("=")
    value, _, attributes = rest.partition(";")
    if value in ('""', ""):
        return set_cookie
    return f"{name}=<value>;" + re.sub(r"expires=[^;]+", "expires=<date>", attributes)


@dataclass
class Answer:
    status: int
    body: bytes  # new tokens and a new user's date_joined normalised
    headers: dict[str, str | None]
    cookies: list[str]  # shapes, in order
    response: httpx.Response


def _answer(response: httpx.Response, *, new_user: bool = False) -> Answer:
    body = response.content
    for token in _TOKEN_FIELD.findall(body):
        body = body.replace(token, b"<token>")
    if new_user:
        for joined in _JOINED_FIELD.findall(body):
            assert _is_datetime(joined.decode()), joined
            body = body.replace(joined, b"<time>")
    headers = {h: response.headers.get(h) for h in COMPARED_HEADERS if h != "retry-after"}
    return Answer(response.status_code, body, headers,
                  [_cookie_shape(v) for v in response.headers.get_list("set-cookie")], response)


def both(sides: tuple[Side, Side], method: str, path: str, *, body: Any = None, client: str = "10.9.0.1",
         headers: tuple[dict[str, str], dict[str, str]] | None = None, content: bytes | None = None,
         content_type: str = JSON, new_user: bool = False) -> tuple[Answer, Answer]:
    """The same request to both sides, from the client address ``client`` (X-Forwarded-For), each side with its
    own extra ``headers`` (a session cookie of its own); no cookie is kept between requests. Status, body (new
    tokens normalised), the compared headers but Retry-After, and the Set-Cookie shapes must be equal."""
    answers = []
    for i, side in enumerate(sides):
        sent = {"Content-Type": content_type, "X-Forwarded-For": client, **(headers[i] if headers else {})}
        data = content if content is not None else (json.dumps(body).encode() if body is not None else None)
        response = side.http.request(method, path, headers=sent, content=data)
        side.http.cookies.clear()  # the clients are shared: a session must not leak into other cases
        answers.append(_answer(response, new_user=new_user))
    mono, svc = answers
    shown = [(a.status, a.body, a.headers, a.cookies) for a in answers]
    assert shown[0] == shown[1], f"{method} {path} differs:\n monolith {shown[0]}\n service  {shown[1]}"
    return mono, svc


def _session_key(answer: Answer) -> str:
    return answer.response.cookies["sessionid"]


@pytest.mark.parametrize("body", [
    {}, {"email": "", "password": ""}, {"email": None, "password": None}, {"email": ["x"], "password": {"a": 1}},
    {"email": "x" * 255, "password": "p" * 129}, {"email": 5, "password": 5}, [], "text", None,
    {"email": "a@b.co", "password": "x\u0000y"},
])
def test_bad_login_bodies_are_refused_alike(env: tuple[tuple[Side, Side], Shop], body: Any) -> None:
    mono, _ = both(env[0], "POST", LOGIN, body=body, client="10.9.1.1")
    assert mono.status == 400 and not mono.cookies


def test_bad_login_forms_and_methods(env: tuple[tuple[Side, Side], Shop]) -> None:
    sides = env[0]
    both(sides, "POST", LOGIN, content=b"email=&password=", content_type=FORM, client="10.9.1.2")
    both(sides, "POST", LOGIN, content=b"{", client="10.9.1.2")
    for method in ("GET", "PUT", "DELETE", "OPTIONS"):
        for path in (LOGIN, REGISTER, LOGOUT):
            both(sides, method, path, client="10.9.1.2")
    both(sides, "POST", LOGIN + "?format=xml", body={}, client="10.9.1.2")


def test_login_answers_alike_with_the_monolith_s_cookies(env: tuple[tuple[Side, Side], Shop]) -> None:
    """A seeded user (the same on both sides): the same user, a token (the monolith's and the service's own), the
    session's and CSRF cookies as the monolith sets them; a caller with a session already gets a new key."""
    sides = env[0]
    mono, svc = both(sides, "POST", LOGIN, body={"email": f"  {SEEDED.upper()} ", "password": PASSWORD},
                     client="10.9.2.1", headers=({"Cookie": "sessionid=notasessionkey0000"},) * 2)
    assert mono.status == 200 and mono.headers["vary"] == "Cookie"
    assert [c.split("=")[0] for c in mono.cookies] == ["csrftoken", "sessionid"], mono.cookies
    assert "HttpOnly" in mono.cookies[1] and "Max-Age=1209600" in mono.cookies[1]
    assert _TOKEN_FIELD.search(svc.response.content)


@pytest.mark.parametrize(("email", "password", "client"), [
    (SEEDED, "wrong-password", "10.9.3.1"),
    ("nobody-at-all@example.com", PASSWORD, "10.9.3.2"),
    (USERS["revoked"], PASSWORD, "10.9.3.3"),
])
def test_wrong_credentials_are_refused_alike(env: tuple[tuple[Side, Side], Shop], email: str, password: str,
                                             client: str) -> None:
    mono, _ = both(env[0], "POST", LOGIN, body={"email": email, "password": password}, client=client)
    assert (mono.status, json.loads(mono.body)) == (400, {"non_field_errors": [
        "Unable to log in with provided credentials."]})


def test_the_throttle_refuses_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """Five failures for one account (its own, and its own client address): the sixth login is 429 on both, with
    the same message but for the seconds, as Retry-After. Those are each side's own count until its first failure
    leaves the window: each is held to the time the case took (a real hash a login on each side, one side after the
    other: on a busy machine the two sides' first failures can be seconds apart), not to the other side's."""
    sides = env[0]
    body = {"email": "throttled-account@example.com", "password": "wrong-password"}
    started = time.monotonic()
    for _ in range(5):
        both(sides, "POST", LOGIN, body=body, client="10.9.4.1")
    answers = []
    for side in sides:
        response = side.http.post(LOGIN, json=body, headers={"X-Forwarded-For": "10.9.4.1"})
        answers.append(response)
    took = time.monotonic() - started
    waits = [int(r.headers["retry-after"]) for r in answers]
    assert [r.status_code for r in answers] == [429, 429]
    assert all(300 - took - 1 <= wait <= 300 for wait in waits), (waits, took)
    for response, wait in zip(answers, waits, strict=True):
        assert response.json() == {"detail": f"Too many failed logins. Try again in {wait} seconds.",
                                   "code": "throttled"}
        assert "set-cookie" not in response.headers
    assert {h: answers[0].headers.get(h) for h in COMPARED_HEADERS if h != "retry-after"} == \
        {h: answers[1].headers.get(h) for h in COMPARED_HEADERS if h != "retry-after"}


@pytest.mark.parametrize("body", [
    {}, {"email": "", "password": ""}, {"email": None, "password": PASSWORD},
    {"email": "not-an-email", "password": PASSWORD}, {"email": "a@b", "password": PASSWORD},
    {"email": "a..b@example.com", "password": PASSWORD}, {"email": "ä@example.com", "password": PASSWORD},
    {"email": '"quoted local"@[127.0.0.1]', "password": "1234567"},
    {"email": "x@[::1]", "password": "password"}, {"email": "x@xn--bcher-kva.example", "password": "12345678"},
    {"email": "x" * 140 + "@example.com", "password": PASSWORD}, {"email": ["a@b.co"], "password": PASSWORD},
    {"email": "x\u0000@example.com", "password": PASSWORD},
    {"email": "similar.person@example.com", "password": "similar.person"},
    {"email": "names@example.com", "password": PASSWORD, "first_name": None, "last_name": "l" * 151},
    {"email": USERS["customer"].upper(), "password": PASSWORD},
])
def test_bad_registrations_are_refused_alike(env: tuple[tuple[Side, Side], Shop], body: Any) -> None:
    mono, _ = both(env[0], "POST", REGISTER, body=body, client="10.9.5.1")
    assert mono.status == 400 and not mono.cookies


def test_registration_logout_and_sessions_answer_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """A registration (201: the same new user on both sides, ids included, a token of each side's own, the
    monolith's cookies), the same one again (400), then /me/ by the session cookie alone (a session the
    monolith opened: the service asks the monolith whose it is), a stale session cookie, and logout: by token
    (204, nothing to remove), then by token with a session cookie (its removal, as the monolith answers it), and
    the token refused afterwards."""
    sides = env[0]
    body = {"email": "New.Person@Example.com", "password": PASSWORD, "first_name": "Nü", "last_name": "Person"}
    mono, svc = both(sides, "POST", REGISTER, body=body, client="10.9.6.1", new_user=True)
    assert mono.status == 201 and sorted(c.split("=")[0] for c in mono.cookies) == ["csrftoken", "sessionid"]
    tokens = (json.loads(mono.response.content)["token"], json.loads(svc.response.content)["token"])
    again, _ = both(sides, "POST", REGISTER, body=body, client="10.9.6.1")
    assert json.loads(again.body) == {"email": ["A user with this email already exists."]}

    # A session the monolith opened (the monolith's own login, cookies as a browser keeps them): whose it is.
    mono_http = sides[0].http
    login = mono_http.post(LOGIN, json={"email": USERS["other"], "password": PASSWORD},
                           headers={"X-Forwarded-For": "10.9.6.2"})
    mono_http.cookies.clear()
    assert login.status_code == 200, login.text
    cookie = f"sessionid={login.cookies['sessionid']}"
    for method in ("GET", "HEAD", "OPTIONS"):
        both(sides, method, ME, headers=({"Cookie": cookie},) * 2)
    mine, _ = both(sides, "GET", A, headers=({"Cookie": cookie},) * 2)
    assert mine.status == 200
    refused, _ = both(sides, "PATCH", ME, body={"first_name": "x"}, headers=({"Cookie": cookie},) * 2)
    assert refused.status == 403  # a session's write without the CSRF token
    stale, _ = both(sides, "GET", ME, headers=({"Cookie": "sessionid=abcdefghijklmnop0123"},) * 2)
    assert stale.status == 401 and [c.split("=")[0] for c in stale.cookies] == ["sessionid"]  # its removal

    # Logout by each side's own token: 204, the answer varies by cookie, nothing to remove.
    auth = tuple({"Authorization": f"Token {token}"} for token in tokens)
    out, _ = both(sides, "POST", LOGOUT, headers=auth)  # type: ignore[arg-type]
    assert out.status == 204 and not out.cookies
    gone, _ = both(sides, "POST", LOGOUT, headers=auth)  # type: ignore[arg-type]
    assert gone.status == 401
    # With a session cookie too (the other user's session, opened above; each side logs out one of its own).
    sessions = []
    for side in sides:
        answer = side.http.post(LOGIN, json={"email": SEEDED, "password": PASSWORD},
                                headers={"X-Forwarded-For": "10.9.6.3"})
        side.http.cookies.clear()
        assert answer.status_code == 200, answer.text
        sessions.append({"Authorization": f"Token {answer.json()['token']}",
                         "Cookie": f"sessionid={answer.cookies['sessionid']}"})
    out, _ = both(sides, "POST", LOGOUT, headers=tuple(sessions))  # type: ignore[arg-type]
    assert out.status == 204 and [c.split("=")[0] for c in out.cookies] == ["sessionid"]
    assert out.cookies[0].startswith('sessionid=""; expires=Thu, 01 Jan 1970')


def test_malformed_cookies_are_answered_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """A session cookie that cannot be a key is removed, a CSRF cookie that cannot be one renewed, on every answer
    (a login's own cookies instead, where it logs in)."""
    sides = env[0]
    for cookie in ("sessionid=bad!", "csrftoken=short", "sessionid=bad!; csrftoken=short"):
        headers = ({"Cookie": cookie},) * 2
        both(sides, "GET", ME, headers=headers)
        both(sides, "POST", LOGIN, body={}, headers=headers, client="10.9.7.1")
        both(sides, "GET", A, headers=headers)
        both(sides, "GET", "/api/accounts/nowhere/", headers=headers)
    mono, _ = both(sides, "POST", LOGIN, body={"email": SEEDED, "password": PASSWORD}, client="10.9.7.2",
                   headers=({"Cookie": "sessionid=bad!; csrftoken=short"},) * 2)
    assert [c.split("=")[0] for c in mono.cookies] == ["csrftoken", "sessionid"]


# --- the password change ----------------------------------------------------------------------------------------------

PASSWORD_URL = "/api/accounts/password/"
NEW_PASSWORD = "a-brand-new-password-2"
OLD_WRONG = {"old_password": ["Your old password was entered incorrectly. Please enter it again."]}


def _auth(sides: tuple[Side, Side], who: str, svc_who: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """``who``'s credential on each side (the service's as the router sends it, or ``svc_who``'s)."""
    return sides[0].auth[who], sides[1].auth[svc_who or who]


def _change(old: str, new: str) -> dict[str, str]:
    return {"old_password": old, "new_password": new}


def test_password_change_refusals_answer_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """Nobody, methods, OPTIONS, bad bodies, the validators for this user, a wrong old password (alone and with a bad
    new one): the same answers, and nothing changed (the right password still changes it afterwards)."""
    sides = env[0]
    anonymous, _ = both(sides, "POST", PASSWORD_URL, body=_change(PASSWORD, NEW_PASSWORD), client="10.9.8.1")
    assert anonymous.status == 401
    both(sides, "POST", PASSWORD_URL, body=_change(PASSWORD, NEW_PASSWORD), client="10.9.8.1",
         headers=({"Authorization": "Token " + "0" * 40},) * 2)
    for svc_who in ("pw", "pw-raw"):
        auth = _auth(sides, "pw", svc_who)
        for method in ("GET", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"):
            both(sides, method, PASSWORD_URL, headers=auth, client="10.9.8.1")
        both(sides, "POST", PASSWORD_URL + "?format=xml", body={}, headers=auth, client="10.9.8.1")
        for body in ({}, _change("", ""), {"old_password": None, "new_password": ["x"]},
                     _change(PASSWORD, "x" * 129), _change("x" * 129, NEW_PASSWORD), [], "text", None, 5):
            answer, _ = both(sides, "POST", PASSWORD_URL, body=body, headers=auth, client="10.9.8.1")
            assert answer.status == 400, body
        for content, content_type in ((b"{", JSON), (b"", JSON), (b"old_password=&new_password=", FORM),
                                      (b'{"old_password": "x"}', "text/plain")):
            both(sides, "POST", PASSWORD_URL, content=content, content_type=content_type, headers=auth,
                 client="10.9.8.1")
        for new in ("short1!", "password123", "83920174652", "12345", PW_USERS["pw"], "Password.Change"):
            answer, _ = both(sides, "POST", PASSWORD_URL, body=_change(PASSWORD, new), headers=auth,
                             client="10.9.8.1")
            assert answer.status == 400 and set(json.loads(answer.body)) == {"new_password"}, new
    auth = _auth(sides, "pw")
    wrong, _ = both(sides, "POST", PASSWORD_URL, body=_change("not-the-password", NEW_PASSWORD), headers=auth,
                    client="10.9.8.2")
    assert json.loads(wrong.body) == OLD_WRONG
    both_wrong, _ = both(sides, "POST", PASSWORD_URL, body=_change(f" {PASSWORD}", "123"), headers=auth,
                         client="10.9.8.2")
    assert set(json.loads(both_wrong.body)) == {"old_password", "new_password"}
    exchange(sides, "GET", ME, who="pw")


def test_password_change_by_token_answers_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """A token caller's change: 204 and nothing else (no session looked at), the token kept, the new password
    logging in on both sides and the old one not, and no longer the old password to change it with."""
    sides = env[0]
    auth = _auth(sides, "pw")
    done, _ = both(sides, "POST", PASSWORD_URL, body=_change(PASSWORD, NEW_PASSWORD), headers=auth,
                   client="10.9.8.3")
    assert (done.status, done.body, done.cookies, done.headers["vary"]) == (204, b"", [], None)
    assert exchange(sides, "GET", ME, who="pw")[0] == 200   # the token is kept
    assert exchange(sides, "GET", ME, who="pw-raw")[0] == 200
    logged_in, _ = both(sides, "POST", LOGIN, body={"email": PW_USERS["pw"], "password": NEW_PASSWORD},
                        client="10.9.8.3")
    assert logged_in.status == 200
    refused, _ = both(sides, "POST", LOGIN, body={"email": PW_USERS["pw"], "password": PASSWORD}, client="10.9.8.3")
    assert refused.status == 400
    again, _ = both(sides, "POST", PASSWORD_URL, body=_change(PASSWORD, "another-new-password-3"), headers=auth,
                    client="10.9.8.3")
    assert json.loads(again.body) == OLD_WRONG


def test_password_change_is_throttled_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """Five wrong old passwords (the account's own, from a client address of its own): the sixth change is 429 on
    both, right password or not, as the login then is. Retry-After is each side's own count of the seconds until its
    first failure leaves the window: each is held to the time the case took (every wrong old password costs a real
    hash on each side, one side after the other), not to the other side's."""
    sides = env[0]
    auth = _auth(sides, "pw-throttle")
    started = time.monotonic()
    for _ in range(5):
        both(sides, "POST", PASSWORD_URL, body=_change("wrong-password", NEW_PASSWORD), headers=auth,
             client="10.9.8.4")
    for path, body in ((PASSWORD_URL, _change(PASSWORD, NEW_PASSWORD)),
                       (LOGIN, {"email": PW_USERS["pw-throttle"], "password": PASSWORD})):
        answers = [side.http.post(path, json=body, headers={**auth[i], "X-Forwarded-For": "10.9.8.4"})
                   for i, side in enumerate(sides)]
        took = time.monotonic() - started
        assert [r.status_code for r in answers] == [429, 429], path
        for response in answers:
            wait = int(response.headers["retry-after"])
            assert 300 - took - 1 <= wait <= 300, (path, wait, took)
            assert response.json() == {"detail": f"Too many failed logins. Try again in {wait} seconds.",
                                       "code": "throttled"}
            assert "set-cookie" not in response.headers
        assert {h: answers[0].headers.get(h) for h in COMPARED_HEADERS if h != "retry-after"} == \
            {h: answers[1].headers.get(h) for h in COMPARED_HEADERS if h != "retry-after"}


def _browser_sessions(side: Side, email: str, client: str) -> list[tuple[str, str, str]]:
    """Two logins of ``email`` at ``side`` (as two browsers): each one's session key, CSRF cookie and token."""
    out = []
    for _ in range(2):
        answer = side.http.post(LOGIN, json={"email": email, "password": PASSWORD}, headers={"X-Forwarded-For": client})
        side.http.cookies.clear()
        assert answer.status_code == 200, answer.text
        out.append((answer.cookies["sessionid"], answer.cookies["csrftoken"], answer.json()["token"]))
    return out


def test_password_change_by_session_keeps_that_session_alike(env: tuple[tuple[Side, Side], Shop]) -> None:
    """A session caller's change, each side on its own account (a session the monolith's own login opened, and one
    the service's login opened at the monolith): 403 without the CSRF token; then 204 with the session's new key
    (no CSRF rotation) on both. The monolith: that session kept, the other one ended, the token kept. The service:
    once the monolith's copy holds the service's new hash (the reverse sync, simulated), the same; and the monolith's
    login page takes the service's new password (Django verifies the service's hash)."""
    sides, shop = env
    mono, svc = sides
    mono_sessions = _browser_sessions(mono, PW_USERS["pw-mono"], "10.9.8.5")
    svc_sessions = _browser_sessions(svc, PW_USERS["pw-svc"], "10.9.8.6")
    cookies = tuple(f"sessionid={key}; csrftoken={csrf}" for key, csrf, _ in (mono_sessions[0], svc_sessions[0]))
    no_csrf, _ = both(sides, "POST", PASSWORD_URL, body=_change(PASSWORD, NEW_PASSWORD), client="10.9.8.7",
                      headers=tuple({"Cookie": cookie} for cookie in cookies))  # type: ignore[arg-type]
    assert (no_csrf.status, json.loads(no_csrf.body)) == (403, {"detail": "CSRF Failed: CSRF token missing."})
    with_csrf = tuple({"Cookie": cookie, "X-CSRFToken": csrf}
                      for cookie, (_, csrf, _) in zip(cookies, (mono_sessions[0], svc_sessions[0]), strict=True))
    done, svc_done = both(sides, "POST", PASSWORD_URL, body=_change(PASSWORD, NEW_PASSWORD), client="10.9.8.7",
                          headers=with_csrf)  # type: ignore[arg-type]
    assert (done.status, done.body, done.headers["vary"]) == (204, b"", "Cookie")
    assert [c.split("=")[0] for c in done.cookies] == ["sessionid"] and "HttpOnly" in done.cookies[0]
    kept = {"mono": _session_key(done), "svc": _session_key(svc_done)}
    assert kept["mono"] != mono_sessions[0][0] and kept["svc"] != svc_sessions[0][0]

    def me(side: Side, headers: dict[str, str]) -> httpx.Response:
        answer = side.http.get(ME, headers=headers)
        side.http.cookies.clear()
        return answer

    for side, who, key, sessions in ((mono, "pw-mono", kept["mono"], mono_sessions),
                                     (svc, "pw-svc", kept["svc"], svc_sessions)):
        if side is svc:
            shop.reverse_sync(PW_USERS["pw-svc"])
        this = me(side, {"Cookie": f"sessionid={key}"})
        assert (this.status_code, this.json().get("email")) == (200, PW_USERS[who]), (who, this.text)
        other = me(side, {"Cookie": f"sessionid={sessions[1][0]}"})
        assert other.status_code == 401 and other.headers["set-cookie"].startswith('sessionid=""'), who
        assert me(side, {"Authorization": f"Token {sessions[0][2]}"}).status_code == 200, who

    # The monolith's login page, with the password changed at the service (its copy as the reverse sync leaves it).
    page = mono.http.get("/accounts/login/")
    token = page.cookies["csrftoken"]
    for password, status in ((PASSWORD, 200), (NEW_PASSWORD, 302)):
        answer = mono.http.post("/accounts/login/", headers={"X-Forwarded-For": "10.9.8.8"}, data={
            "username": PW_USERS["pw-svc"], "password": password, "csrfmiddlewaretoken": token})
        assert answer.status_code == status, (password, answer.status_code)
    mono.http.cookies.clear()
