"""The API's register, login and logout at the accounts service, in process, against a stand-in for the monolith's
internal session API (``/api/internal/session/user/``; the real one is held by
``tests/legacy_monolith/accounts/test_session_api.py``, the two together by the contract test): the monolith's
messages and statuses, the API token got or created and deleted, the session logged in and out there with the
caller's cookie passed on and its Set-Cookie answered here, ``/me/`` by session cookie alone (the identity bridge's
way once the service owns identity), and a monolith that does not answer (503 ``session_unavailable``)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, Table, insert, select, update

from extracted.accounts import logins, passwords
from extracted.accounts.app import create_app
from extracted.accounts.db import make_engine
from extracted.accounts.emails import valid_email
from extracted.accounts.migrate import upgrade_head
from extracted.accounts.models import Token, User
from extracted.accounts.sessions import PATH, Sessions

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
    from starlette.testclient import TestClient

SERVICE_TOKEN = "accounts-service-token-for-tests-0123"  # noqa: S105 - a test's own
PASSWORD = "correct horse battery staple"
LOGIN, REGISTER, LOGOUT, ME = "/api/accounts/login/", "/api/accounts/register/", "/api/accounts/logout/", \
    "/api/accounts/me/"
ALICE, GONE = 1, 2
INVALID = {"non_field_errors": ["Unable to log in with provided credentials."]}
users, tokens = cast(Table, User.__table__), cast(Table, Token.__table__)
SESSION_COOKIE = "sessionid={key}; expires=Sat, 19 Dec 2026 08:00:00 GMT; HttpOnly; Max-Age=1209600; Path=/; " \
                 "SameSite=Lax"
CSRF_COOKIE = "csrftoken=abcdefghijklmnopqrstuvwxyzABCDEF; expires=Sat, 04 Dec 2027 08:00:00 GMT; Max-Age=31449600; " \
              "Path=/; SameSite=Lax"
REMOVED = 'sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax'


@dataclass
class Monolith:
    """The monolith's session API as it answers: sessions by key, the calls it saw."""

    sessions: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, str | None, Any]] = field(default_factory=list)
    down: bool = False
    refusing: bool = False  # the monolith has another ACCOUNTS_SERVICE_TOKEN

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("nothing listens")
        if self.refusing:
            return httpx.Response(401, json={"detail": "Invalid service token.", "code": "not_authenticated"})
        assert request.url.path == PATH
        assert request.headers["x-service-token"] == SERVICE_TOKEN
        cookie = request.headers.get("cookie")
        body = httpx.Response(200, content=request.content).json() if request.content else None
        self.calls.append((request.method, cookie, body))
        key = re.search(r"sessionid=(\w+)", cookie or "")
        current = key[1] if key else None
        headers = [("vary", "Cookie")]
        if request.method == "GET":
            user = self.sessions.get(current or "")
            if current and user is None:
                headers.append(("set-cookie", REMOVED))
            return httpx.Response(200, json={"user": user}, headers=headers)
        if request.method == "POST":
            self.sessions.pop(current or "", None)
            new = f"session{len(self.calls)}key"
            self.sessions[new] = body["user"]["id"]
            headers += [("set-cookie", CSRF_COOKIE), ("set-cookie", SESSION_COOKIE.format(key=new))]
            return httpx.Response(200, json={"user": body["user"]["id"]}, headers=headers)
        self.sessions.pop(current or "", None)
        if current:
            headers.append(("set-cookie", REMOVED))
        return httpx.Response(200, json={"user": None}, headers=headers)


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv(logins.ITERATIONS_ENV, "1000")  # cheap hashes: the logic is the same
    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite3'}")
    upgrade_head(engine)
    encoded = passwords.hash_password(PASSWORD, iterations=1000)
    with engine.begin() as conn:
        conn.execute(insert(users), [
            {"id": user_id, "password": encoded, "last_login": None, "is_superuser": False, "username": email,
             "first_name": "", "last_name": "", "email": email, "is_staff": False, "is_active": active,
             "date_joined": passwords_joined()}
            for user_id, email, active in ((ALICE, "alice@example.com", True), (GONE, "gone@example.com", False))])
    yield engine
    engine.dispose()


def passwords_joined() -> Any:
    from datetime import UTC, datetime
    return datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def monolith() -> Monolith:
    return Monolith()


@pytest.fixture
def client(engine: Engine, monolith: Monolith, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ACCOUNTS_SERVICE_TOKEN", SERVICE_TOKEN)
    sessions = Sessions("http://monolith.test", transport=httpx.MockTransport(monolith))
    with TestClient(create_app(engine, sessions=sessions), base_url="http://127.0.0.1") as test_client:
        yield test_client


def set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


def token_of(engine: Engine, user_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(tokens.c.key).where(tokens.c.user_id == user_id)).scalar()


# --- login ----------------------------------------------------------------------------------------------------------


def test_login_opens_the_session_at_the_monolith_and_answers_a_token(client: TestClient, engine: Engine,
                                                                      monolith: Monolith) -> None:
    response = client.post(LOGIN, json={"email": " Alice@Example.com ", "password": PASSWORD},
                           headers={"cookie": "sessionid=anonymous1key; other=1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{40}", body["token"]) and body["token"] == token_of(engine, ALICE)
    assert body["user"] == {"id": ALICE, "email": "alice@example.com", "first_name": "", "last_name": "",
                            "is_staff": False, "date_joined": "2025-01-02T03:04:05Z"}
    assert set_cookies(response) == [CSRF_COOKIE, SESSION_COOKIE.format(key="session1key")]
    assert (response.headers["vary"], response.headers["allow"]) == ("Cookie", "POST, OPTIONS")
    [(method, cookie, sent)] = monolith.calls
    assert (method, cookie) == ("POST", "sessionid=anonymous1key; other=1")   # the caller's cookie, as it came
    assert sent["user"]["id"] == ALICE and sent["user"]["password"].startswith("pbkdf2_sha256$1000$")
    again = client.post(LOGIN, json={"email": "alice@example.com", "password": PASSWORD})
    assert again.json()["token"] == body["token"]   # got, not created again


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"email": ["This field is required."], "password": ["This field is required."]}),
    ({"email": "", "password": ""}, {"email": ["This field may not be blank."],
                                     "password": ["This field may not be blank."]}),
    ({"email": None, "password": 5}, {"email": ["This field may not be null."]}),
    ({"email": ["a"], "password": "x" * 129}, {"email": ["Not a valid string."],
                                               "password": ["Ensure this field has no more than 128 characters."]}),
    ([], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_bad_login_bodies(client: TestClient, monolith: Monolith, body: Any, errors: Any) -> None:
    response = client.post(LOGIN, json=body)
    assert (response.status_code, response.json()) == (400, errors)
    assert not monolith.calls and not set_cookies(response) and "vary" not in response.headers


@pytest.mark.parametrize(("email", "password"), [("alice@example.com", "wrong"), ("nobody@example.com", PASSWORD),
                                                 ("gone@example.com", PASSWORD),
                                                 ("alice@example.com", f" {PASSWORD}")])
def test_wrong_credentials_are_refused_alike(client: TestClient, engine: Engine, monolith: Monolith, email: str,
                                             password: str) -> None:
    response = client.post(LOGIN, json={"email": email, "password": password})
    assert (response.status_code, response.json()) == (400, INVALID)
    assert not monolith.calls and token_of(engine, ALICE) is None


def test_the_throttle_refuses_after_five_failures(client: TestClient, monolith: Monolith) -> None:
    for _ in range(5):
        assert client.post(LOGIN, json={"email": "alice@example.com", "password": "wrong"}).status_code == 400
    response = client.post(LOGIN, json={"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 429
    wait = int(response.headers["retry-after"])
    assert 290 <= wait <= 300
    assert response.json() == {"detail": f"Too many failed logins. Try again in {wait} seconds.", "code": "throttled"}
    assert not monolith.calls


def test_a_monolith_that_does_not_answer_is_503_and_no_token_is_made(client: TestClient, engine: Engine,
                                                                      monolith: Monolith) -> None:
    monolith.down = True
    response = client.post(LOGIN, json={"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 503
    assert response.json()["code"] == "session_unavailable"
    assert token_of(engine, ALICE) is None


@pytest.mark.parametrize("path", [LOGIN, REGISTER])
def test_a_monolith_that_refuses_the_token_is_503(client: TestClient, engine: Engine, monolith: Monolith,
                                                  path: str) -> None:
    monolith.refusing = True
    body = {"email": "alice@example.com" if path == LOGIN else "new@example.com", "password": PASSWORD}
    response = client.post(path, json=body)
    assert (response.status_code, response.json()["code"]) == (503, "session_unavailable")
    assert not set_cookies(response)
    with engine.connect() as conn:   # a registration is undone: tried again, it is not "already" there
        assert conn.execute(select(users.c.id).where(users.c.username == "new@example.com")).first() is None
    assert token_of(engine, ALICE) is None


def test_an_unset_service_token_is_503_not_configured(client: TestClient, engine: Engine,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCOUNTS_SERVICE_TOKEN")
    response = client.post(LOGIN, json={"email": "alice@example.com", "password": PASSWORD})
    assert (response.status_code, response.json()["code"]) == (503, "not_configured")
    assert client.post(REGISTER, json={"email": "new@example.com", "password": PASSWORD}).status_code == 503
    with engine.connect() as conn:
        assert conn.execute(select(users.c.id).where(users.c.username == "new@example.com")).first() is None


def test_login_ignores_a_stale_token(client: TestClient) -> None:
    response = client.post(LOGIN, json={"email": "alice@example.com", "password": PASSWORD},
                           headers={"authorization": "Token " + "0" * 40})
    assert response.status_code == 200


# --- register -------------------------------------------------------------------------------------------------------


def test_register_creates_the_user_and_logs_in(client: TestClient, engine: Engine, monolith: Monolith) -> None:
    response = client.post(REGISTER, json={"email": "New.User@Example.COM ", "password": PASSWORD,
                                           "first_name": "New"})
    assert response.status_code == 201, response.text
    body = response.json()
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == "new.user@example.com")).one()
    assert body["user"] == {"id": row.id, "email": "new.user@example.com", "first_name": "New", "last_name": "",
                            "is_staff": False, "date_joined": body["user"]["date_joined"]}
    assert body["token"] == token_of(engine, row.id)
    assert passwords.verify(PASSWORD, row.password, iterations=1000) and row.last_login is not None
    assert row.is_active and not row.is_staff and not row.is_superuser
    assert [call[0] for call in monolith.calls] == ["POST"]
    assert len(set_cookies(response)) == 2


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"email": ["This field is required."], "password": ["This field is required."]}),
    ({"email": "not-an-email", "password": PASSWORD}, {"email": ["Enter a valid email address."]}),
    ({"email": ["a@b.co"], "password": PASSWORD}, {"email": ["Enter a valid email address."]}),
    ({"email": "a" * 140 + "@example.com", "password": PASSWORD},
     {"email": ["Ensure this field has no more than 150 characters."]}),
    ({"email": "x@example.com", "password": PASSWORD, "first_name": None},
     {"first_name": ["This field may not be null."]}),
    ({"email": "x@example.com", "password": "12345"},
     {"password": ["This password is too short. It must contain at least 8 characters.",
                   "This password is too common.", "This password is entirely numeric."]}),
    ({"email": "ALICE@example.com", "password": PASSWORD}, {"email": ["A user with this email already exists."]}),
])
def test_bad_registrations(client: TestClient, monolith: Monolith, body: Any, errors: Any) -> None:
    response = client.post(REGISTER, json=body)
    assert (response.status_code, response.json()) == (400, errors)
    assert not monolith.calls


def test_a_registration_losing_the_race_is_the_same_400(client: TestClient, engine: Engine,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from extracted.accounts import services
    monkeypatch.setattr(services, "email_taken", lambda engine, email: False)   # both passed the check
    response = client.post(REGISTER, json={"email": "alice@example.com", "password": PASSWORD})
    assert (response.status_code, response.json()) == (400, {"email": ["A user with this email already exists."]})


# --- logout ---------------------------------------------------------------------------------------------------------


def test_logout_by_token_deletes_it(client: TestClient, engine: Engine, monolith: Monolith) -> None:
    token = client.post(LOGIN, json={"email": "alice@example.com", "password": PASSWORD}).json()["token"]
    monolith.calls.clear()
    client.cookies.clear()   # a script: no cookies kept
    response = client.post(LOGOUT, headers={"authorization": f"Token {token}"})
    assert (response.status_code, response.content) == (204, b"")
    assert (response.headers["vary"], response.headers["allow"]) == ("Cookie", "POST, OPTIONS")
    assert token_of(engine, ALICE) is None and not monolith.calls and not set_cookies(response)
    assert client.post(LOGOUT, headers={"authorization": f"Token {token}"}).status_code == 401


def test_logout_with_a_session_logs_it_out_at_the_monolith(client: TestClient, engine: Engine,
                                                           monolith: Monolith) -> None:
    login = client.post(LOGIN, json={"email": "alice@example.com", "password": PASSWORD})
    key = re.search(r"sessionid=(\w+)", set_cookies(login)[1])[1]   # type: ignore[index]
    client.cookies.clear()
    response = client.post(LOGOUT, headers={"authorization": f"Token {login.json()['token']}",
                                            "cookie": f"sessionid={key}"})
    assert response.status_code == 204
    assert set_cookies(response) == [REMOVED]
    assert monolith.sessions == {} and monolith.calls[-1][:2] == ("DELETE", f"sessionid={key}")


def test_logout_needs_a_caller(client: TestClient) -> None:
    response = client.post(LOGOUT)
    assert (response.status_code, response.json()) == (401, {"detail": "Authentication credentials were not "
                                                                       "provided."})


# --- /me/ by the session cookie alone --------------------------------------------------------------------------------


def test_me_by_session_cookie(client: TestClient, engine: Engine, monolith: Monolith) -> None:
    monolith.sessions["abcdefgh12345678"] = ALICE
    response = client.get(ME, headers={"cookie": "sessionid=abcdefgh12345678"})
    assert (response.status_code, response.json()["id"]) == (200, ALICE)
    assert response.headers["vary"] == "Cookie" and not set_cookies(response)
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == ALICE).values(is_active=False))
    assert client.get(ME, headers={"cookie": "sessionid=abcdefgh12345678"}).status_code == 401


def test_a_stale_session_is_anonymous_and_its_cookie_removed(client: TestClient) -> None:
    response = client.get(ME, headers={"cookie": "sessionid=staleeeeeeeeeeee"})
    assert response.status_code == 401
    assert set_cookies(response) == [REMOVED]


def test_no_session_cookie_asks_nobody(client: TestClient, monolith: Monolith) -> None:
    assert client.get(ME, headers={"cookie": "csrftoken=x"}).status_code == 401
    assert not monolith.calls


def test_a_session_write_without_the_csrf_token_is_403(client: TestClient, monolith: Monolith) -> None:
    monolith.sessions["abcdefgh12345678"] = ALICE
    response = client.patch(ME, json={"first_name": "A"}, headers={"cookie": "sessionid=abcdefgh12345678"})
    assert (response.status_code, response.json()) == (403, {"detail": "CSRF Failed: CSRF cookie not set."})
    secret = "A" * 32
    ok = client.patch(ME, json={"first_name": "A"}, headers={"cookie": f"sessionid=abcdefgh12345678; "
                                                                       f"csrftoken={secret}", "x-csrftoken": secret})
    assert (ok.status_code, ok.json()["first_name"]) == (200, "A")


def test_a_session_read_while_the_monolith_is_down_is_503(client: TestClient, monolith: Monolith) -> None:
    monolith.down = True
    response = client.get(ME, headers={"cookie": "sessionid=abcdefgh12345678"})
    assert (response.status_code, response.json()["code"]) == (503, "session_unavailable")


# --- the email validator: Django's own, ported ---------------------------------------------------------------------

_ATOM = st.text(alphabet="abcXYZ019!#$%&'*+/=?^_`{|}~-.\"\\ @é[]:", min_size=0, max_size=8)
_LABEL = st.text(alphabet="abz09-éxn", min_size=0, max_size=8)
_DOMAIN = st.one_of(
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
    st.just("localhost"),
    st.ip_addresses().map(lambda ip: f"[{ip}]"),
    st.text(alphabet="0123456789abcdef:.[]", max_size=20),
)


@given(st.one_of(st.tuples(_ATOM, _DOMAIN).map("@".join), st.text(max_size=20)))
def test_the_email_validator_is_djangos(value: str) -> None:
    try:
        validate_email(value)
        django_takes = True
    except ValidationError:
        django_takes = False
    assert valid_email(value) is django_takes


# --- what Django's session and CSRF middleware add to every answer -------------------------------------------------


@pytest.mark.parametrize("path", [ME, LOGIN, "/api/accounts/nowhere/"])
def test_a_malformed_session_cookie_is_removed_on_every_answer(client: TestClient, monolith: Monolith,
                                                                path: str) -> None:
    response = client.post(path, json={}, headers={"cookie": "sessionid=bad!"})
    assert set_cookies(response) == [REMOVED] and "Cookie" in response.headers["vary"]
    assert not monolith.calls   # no session to ask about


def test_a_malformed_csrf_cookie_is_renewed_once(client: TestClient, monolith: Monolith) -> None:
    response = client.get(ME, headers={"cookie": "csrftoken=short"})
    [renewed] = set_cookies(response)
    assert re.fullmatch(r"csrftoken=[A-Za-z0-9]{32}; expires=[^;]+; Max-Age=31449600; Path=/; SameSite=Lax", renewed)
    login = client.post(LOGIN, json={"email": "alice@example.com", "password": PASSWORD},
                        headers={"cookie": "csrftoken=short"})
    assert set_cookies(login) == [CSRF_COOKIE, SESSION_COOKIE.format(key="session1key")]   # the login's alone
