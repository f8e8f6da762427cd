"""``POST /api/accounts/password/`` at the accounts service, in process, against a stand-in for the monolith's
internal session API (the real one, and both sides' answers compared, are the contract test's): the monolith's
``PasswordChangeApi`` answers (Django's messages, the validators for this user, DRF's refusals), the login throttle
on the login's own rows, the token kept, the session that made the change opened again at the monolith with the
new hash (its Set-Cookie answered, the login's CSRF rotation not), a monolith that does not answer (503, the change
undone), and a change racing another."""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import jwt
import pytest
from sqlalchemy import Engine, Table, insert, select, update

from extracted.accounts import logins, password_change, passwords, throttle
from extracted.accounts.app import create_app
from extracted.accounts.db import make_engine
from extracted.accounts.exceptions import ValidationFailed
from extracted.accounts.migrate import upgrade_head
from extracted.accounts.models import LoginFailure, Token, User
from extracted.accounts.sessions import PATH, Sessions

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
    from starlette.testclient import TestClient

SERVICE_TOKEN = "accounts-service-token-for-password-tests"  # noqa: S105 - a test's own
SECRET = "accounts-password-tests-identity-secret-0123456789"
PASSWORD = "correct horse battery staple"
NEW = "a-brand-new-password-2"
URL, LOGIN, ME = "/api/accounts/password/", "/api/accounts/login/", "/api/accounts/me/"
ALICE, NAMED = 1, 2
KEY = "a" * 40
OLD_WRONG = {"old_password": ["Your old password was entered incorrectly. Please enter it again."]}
NOT_AUTHENTICATED = {"detail": "Authentication credentials were not provided."}
CSRF = "CsrfSecretForTheBrowserSession01"
SESSION_COOKIE = "sessionid={key}; expires=Sat, 19 Dec 2026 08:00:00 GMT; HttpOnly; Max-Age=1209600; Path=/; " \
                 "SameSite=Lax"
CSRF_COOKIE = "csrftoken=abcdefghijklmnopqrstuvwxyzABCDEF; expires=Sat, 04 Dec 2027 08:00:00 GMT; Max-Age=31449600; " \
              "Path=/; SameSite=Lax"
users, tokens, failures = (cast(Table, model.__table__) for model in (User, Token, LoginFailure))


@dataclass
class Monolith:
    """The monolith's session API as it answers (its login() rotates the CSRF cookie too): sessions by key, and the
    user's password hash each was opened with; the calls it saw."""

    sessions: dict[str, tuple[int, str]] = field(default_factory=dict)
    calls: list[tuple[str, str | None, Any]] = field(default_factory=list)
    down_for: set[str] = field(default_factory=set)  # the methods it does not answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == PATH and request.headers["x-service-token"] == SERVICE_TOKEN
        if request.method in self.down_for:
            raise httpx.ConnectError("nothing listens")
        cookie = request.headers.get("cookie")
        body = httpx.Response(200, content=request.content).json() if request.content else None
        self.calls.append((request.method, cookie, body))
        key = re.search(r"sessionid=(\w+)", cookie or "")
        current = key[1] if key else ""
        if request.method == "GET":
            opened = self.sessions.get(current)
            return httpx.Response(200, json={"user": opened[0] if opened else None}, headers={"vary": "Cookie"})
        assert request.method == "POST"
        self.sessions.pop(current, None)
        new = f"session{len(self.calls)}key"
        self.sessions[new] = (body["user"]["id"], body["user"]["password"])
        return httpx.Response(200, json={"user": body["user"]["id"]}, headers=[
            ("vary", "Cookie"), ("set-cookie", CSRF_COOKIE), ("set-cookie", SESSION_COOKIE.format(key=new))])


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv(logins.ITERATIONS_ENV, "1000")  # cheap hashes: the logic is the same
    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite3'}")
    upgrade_head(engine)
    encoded = passwords.hash_password(PASSWORD, iterations=1000)
    joined = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(users), [
            {"id": user_id, "password": encoded, "last_login": None, "is_superuser": False, "username": email,
             "first_name": first, "last_name": last, "email": email, "is_staff": False, "is_active": True,
             "date_joined": joined}
            for user_id, email, first, last in ((ALICE, "alice@example.com", "Alice", ""),
                                                (NAMED, "x1@example.com", "Quintessential", "Zephyrine"))])
        conn.execute(insert(tokens).values(key=KEY, user_id=ALICE, created=joined))
    yield engine
    engine.dispose()


@pytest.fixture
def monolith() -> Monolith:
    return Monolith()


@pytest.fixture
def client(engine: Engine, monolith: Monolith, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ACCOUNTS_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    sessions = Sessions("http://monolith.test", transport=httpx.MockTransport(monolith))
    with TestClient(create_app(engine, sessions=sessions), base_url="http://127.0.0.1") as test_client:
        yield test_client


def hash_of(engine: Engine, user_id: int = ALICE) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(users.c.password).where(users.c.id == user_id)).scalar_one())


def failed_accounts(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(failures.c.email).order_by(failures.c.id)).scalars())


def by_token(key: str = KEY) -> dict[str, str]:
    return {"authorization": f"Token {key}"}


def change(client: TestClient, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    client.cookies.clear()
    return client.post(URL, json=body, headers=headers if headers is not None else by_token())


def login(client: TestClient, email: str, password: str) -> httpx.Response:
    client.cookies.clear()
    return client.post(LOGIN, json={"email": email, "password": password})


def mint(user_id: int) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "staff": False, "iat": now, "exp": now + 60, "iss": "strangler-router",
                       "aud": "strangler-services"}, SECRET, algorithm="HS256")


def a_session(monolith: Monolith, engine: Engine, user_id: int = ALICE, key: str = "browsersession01") -> str:
    """A session the monolith opened for the user (with the hash the user has now)."""
    monolith.sessions[key] = (user_id, hash_of(engine, user_id))
    return key


# --- a token caller -------------------------------------------------------------------------------------------------


def test_a_token_caller_changes_the_password_and_keeps_the_token(client: TestClient, engine: Engine,
                                                                 monolith: Monolith) -> None:
    response = change(client, {"old_password": PASSWORD, "new_password": NEW})
    assert (response.status_code, response.content) == (204, b"")
    assert response.headers["allow"] == "POST, OPTIONS" and "vary" not in response.headers
    assert not response.headers.get_list("set-cookie") and not monolith.calls   # no session to keep
    stored = hash_of(engine)
    assert stored.startswith("pbkdf2_sha256$1000$") and passwords.verify(NEW, stored, iterations=1000)
    assert client.get(ME, headers=by_token()).status_code == 200   # DRF does not rotate tokens
    assert login(client, "alice@example.com", NEW).status_code == 200
    assert login(client, "alice@example.com", PASSWORD).json() == {"non_field_errors": [
        "Unable to log in with provided credentials."]}


def test_a_wrong_old_password_is_400_and_counted_by_the_throttle(client: TestClient, engine: Engine) -> None:
    before = hash_of(engine)
    response = change(client, {"old_password": "not-my-password", "new_password": NEW})
    assert (response.status_code, response.json()) == (400, OLD_WRONG)
    assert hash_of(engine) == before and failed_accounts(engine) == ["alice@example.com"]


@pytest.mark.parametrize(("new", "messages"), [
    ("short1!", ["This password is too short. It must contain at least 8 characters."]),
    ("password123", ["This password is too common."]),
    ("83920174652", ["This password is entirely numeric."]),
    ("12345", ["This password is too short. It must contain at least 8 characters.", "This password is too common.",
               "This password is entirely numeric."]),
    ("alice@example.com", ["The password is too similar to the username."]),
    ("Alice-Example", ["The password is too similar to the username."]),
])
def test_the_new_password_must_pass_the_validators_for_this_user(client: TestClient, engine: Engine, new: str,
                                                                 messages: list[str]) -> None:
    before = hash_of(engine)
    response = change(client, {"old_password": PASSWORD, "new_password": new})
    assert (response.status_code, response.json()) == (400, {"new_password": messages})
    assert hash_of(engine) == before and not failed_accounts(engine)


def test_the_validators_see_the_user_s_names(client: TestClient, engine: Engine) -> None:
    headers = {"x-identity-token": mint(NAMED), **by_token("b" * 40)}   # the router's: the raw token is not looked up
    with engine.begin() as conn:
        conn.execute(insert(tokens).values(key="b" * 40, user_id=NAMED, created=datetime.now(UTC)))
    for new, attribute in (("quintessential", "first name"), ("Zephyrine9", "last name")):
        response = change(client, {"old_password": PASSWORD, "new_password": new}, headers)
        assert response.json() == {"new_password": [f"The password is too similar to the {attribute}."]}


def test_both_fields_errors_come_at_once(client: TestClient) -> None:
    response = change(client, {"old_password": "wrong", "new_password": "123"})
    assert (response.status_code, response.json()) == (400, {**OLD_WRONG, "new_password": [
        "This password is too short. It must contain at least 8 characters.", "This password is too common.",
        "This password is entirely numeric."]})


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {"old_password": ["This field is required."], "new_password": ["This field is required."]}),
    ({"old_password": "", "new_password": ""}, {"old_password": ["This field may not be blank."],
                                                "new_password": ["This field may not be blank."]}),
    ({"old_password": None, "new_password": ["x"]}, {"old_password": ["This field may not be null."],
                                                     "new_password": ["Not a valid string."]}),
    ({"old_password": PASSWORD, "new_password": "x" * 129},
     {"new_password": ["Ensure this field has no more than 128 characters."]}),
    ([], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_bad_bodies(client: TestClient, engine: Engine, body: Any, errors: Any) -> None:
    response = change(client, body)
    assert (response.status_code, response.json()) == (400, errors)
    assert not failed_accounts(engine)


def test_a_form_body_and_spaces_in_passwords(client: TestClient, engine: Engine) -> None:
    client.cookies.clear()
    form = b"old_password=+" + PASSWORD.replace(" ", "+").encode() + b"&new_password=short1%21"
    response = client.post(URL, content=form,
                           headers={**by_token(), "content-type": "application/x-www-form-urlencoded"})
    assert response.json() == {**OLD_WRONG, "new_password": [
        "This password is too short. It must contain at least 8 characters."]}
    assert change(client, {"old_password": PASSWORD, "new_password": f"  {NEW}  "}).status_code == 204
    assert passwords.verify(f"  {NEW}  ", hash_of(engine), iterations=1000)


# --- who may call ---------------------------------------------------------------------------------------------------


def test_an_anonymous_caller_is_401(client: TestClient, engine: Engine) -> None:
    before = hash_of(engine)
    response = change(client, {"old_password": PASSWORD, "new_password": NEW}, {})
    assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
    assert response.headers["www-authenticate"] == "Token"
    bad = change(client, {"old_password": PASSWORD, "new_password": NEW}, by_token("0" * 40))
    assert (bad.status_code, bad.json()) == (401, {"detail": "Invalid token."})
    assert hash_of(engine) == before


def test_other_methods_and_options(client: TestClient) -> None:
    response = client.get(URL, headers=by_token())
    assert (response.status_code, response.json(), response.headers["allow"]) == (
        405, {"detail": 'Method "GET" not allowed.'}, "POST, OPTIONS")
    options = client.options(URL, headers=by_token()).json()
    assert options == {"name": "Password Change Api", "description": password_change.DESCRIPTION,
                       "renders": ["application/json"],
                       "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]}


# --- a session caller -----------------------------------------------------------------------------------------------


def test_a_session_write_without_the_csrf_token_is_403(client: TestClient, engine: Engine,
                                                       monolith: Monolith) -> None:
    key = a_session(monolith, engine)
    before = hash_of(engine)
    response = change(client, {"old_password": PASSWORD, "new_password": NEW}, {"cookie": f"sessionid={key}"})
    assert (response.status_code, response.json()) == (403, {"detail": "CSRF Failed: CSRF cookie not set."})
    response = change(client, {"old_password": PASSWORD, "new_password": NEW},
                      {"cookie": f"sessionid={key}; csrftoken={CSRF}"})
    assert (response.status_code, response.json()) == (403, {"detail": "CSRF Failed: CSRF token missing."})
    assert hash_of(engine) == before and [call[0] for call in monolith.calls] == ["GET", "GET"]


def test_the_session_that_changed_it_is_opened_again_with_the_new_hash(client: TestClient, engine: Engine,
                                                                        monolith: Monolith) -> None:
    key = a_session(monolith, engine)
    other = a_session(monolith, engine, key="othersession0001")
    response = change(client, {"old_password": PASSWORD, "new_password": NEW},
                      {"cookie": f"sessionid={key}; csrftoken={CSRF}", "x-csrftoken": CSRF})
    assert (response.status_code, response.content) == (204, b"")
    # The monolith's new session key, and not the CSRF cookie its login() rotated: a password change keeps it.
    new_key = "session2key"
    assert response.headers.get_list("set-cookie") == [SESSION_COOKIE.format(key=new_key)]
    assert response.headers["vary"] == "Cookie"
    [whose, reopened] = monolith.calls
    assert whose[0] == "GET" and reopened[:2] == ("POST", f"sessionid={key}; csrftoken={CSRF}")
    assert reopened[2]["user"]["id"] == ALICE and reopened[2]["user"]["password"] == hash_of(engine)
    assert monolith.sessions[new_key] == (ALICE, hash_of(engine)) and key not in monolith.sessions
    # The other session still holds the old hash: the monolith flushes it once its copy has the new one.
    assert monolith.sessions[other][1] != hash_of(engine)
    assert client.get(ME, headers=by_token()).status_code == 200   # the token is kept


def test_a_session_the_router_resolved_is_opened_again_too(client: TestClient, engine: Engine,
                                                           monolith: Monolith) -> None:
    key = a_session(monolith, engine)
    response = change(client, {"old_password": PASSWORD, "new_password": NEW},
                      {"x-identity-token": mint(ALICE), "cookie": f"sessionid={key}; csrftoken={CSRF}",
                       "x-csrftoken": CSRF})
    assert response.status_code == 204
    assert [call[0] for call in monolith.calls] == ["POST"]   # the router said whose session it is
    assert [c.split("=")[0] for c in response.headers.get_list("set-cookie")] == ["sessionid"]


def test_a_token_caller_s_session_cookie_is_not_kept(client: TestClient, engine: Engine, monolith: Monolith) -> None:
    """Authenticated by its token (DRF's TokenAuthentication answers first): no session made the change, so none
    is opened again; the session its cookie names ends like every other one."""
    key = a_session(monolith, engine)
    for headers, (old, new) in ((by_token(), (PASSWORD, NEW)),
                                ({"x-identity-token": mint(ALICE), **by_token()}, (NEW, PASSWORD + "-2"))):
        response = change(client, {"old_password": old, "new_password": new}, {**headers, "cookie": f"sessionid={key}"})
        assert response.status_code == 204 and not response.headers.get_list("set-cookie")
    assert not monolith.calls


def test_a_monolith_that_does_not_answer_is_503_and_the_change_undone(client: TestClient, engine: Engine,
                                                                      monolith: Monolith) -> None:
    key = a_session(monolith, engine)
    before = hash_of(engine)
    monolith.down_for.add("POST")
    response = change(client, {"old_password": PASSWORD, "new_password": NEW},
                      {"cookie": f"sessionid={key}; csrftoken={CSRF}", "x-csrftoken": CSRF})
    assert (response.status_code, response.json()["code"]) == (503, "session_unavailable")
    assert not response.headers.get_list("set-cookie")
    assert hash_of(engine) == before   # "nothing was changed": the same request can be tried again
    monolith.down_for.clear()
    again = change(client, {"old_password": PASSWORD, "new_password": NEW},
                   {"cookie": f"sessionid={key}; csrftoken={CSRF}", "x-csrftoken": CSRF})
    assert again.status_code == 204


# --- the throttle ----------------------------------------------------------------------------------------------------


def test_five_wrong_old_passwords_refuse_the_change_and_the_login(client: TestClient, engine: Engine) -> None:
    for _ in range(throttle.PER_ACCOUNT):
        assert change(client, {"old_password": "wrong", "new_password": NEW}).status_code == 400
    before = hash_of(engine)
    refused = change(client, {"old_password": PASSWORD, "new_password": NEW})
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after"])
    assert 290 <= wait <= 300
    assert refused.json() == {"detail": f"Too many failed logins. Try again in {wait} seconds.", "code": "throttled"}
    assert login(client, "alice@example.com", PASSWORD).status_code == 429   # the login's own counts
    assert hash_of(engine) == before


def test_failed_logins_count_against_a_change_and_a_right_old_password_forgets_them(client: TestClient,
                                                                                    engine: Engine) -> None:
    for _ in range(throttle.PER_ACCOUNT - 1):
        assert login(client, "alice@example.com", "wrong").status_code == 400
    response = change(client, {"old_password": PASSWORD, "new_password": "short"})
    assert response.status_code == 400 and "new_password" in response.json()
    assert not failed_accounts(engine)


# --- Django's check_password, and changes racing each other ---------------------------------------------------------


def test_a_right_old_password_s_due_upgrade_is_stored_even_when_the_new_one_is_refused(client: TestClient,
                                                                                      engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == ALICE)
                     .values(password=passwords.hash_password(PASSWORD, iterations=500)))
    assert change(client, {"old_password": PASSWORD, "new_password": "short"}).status_code == 400
    stored = hash_of(engine)
    assert stored.startswith("pbkdf2_sha256$1000$") and passwords.verify(PASSWORD, stored, iterations=1000)


def test_a_change_made_meanwhile_is_not_overwritten(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another change lands between this one's check of the old password and its write: the old password is checked
    again against what is there now, and is wrong."""
    real = passwords.verify_and_upgrade
    theirs = passwords.hash_password("their-new-password-9", iterations=1000)

    def meanwhile(password: str, encoded: str, *, iterations: int) -> tuple[bool, str | None]:
        answer = real(password, encoded, iterations=iterations)
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == ALICE, users.c.password != theirs).values(password=theirs))
        return answer

    monkeypatch.setattr(passwords, "verify_and_upgrade", meanwhile)
    with pytest.raises(ValidationFailed) as refused:
        password_change.change(engine, ALICE, PASSWORD, NEW, "client", 1000)
    assert refused.value.errors == OLD_WRONG
    assert hash_of(engine) == theirs


def test_a_hash_upgraded_meanwhile_is_checked_again_and_replaced(engine: Engine,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A login re-hashed the same password meanwhile: checked again, it is still right, and the change is made."""
    real = passwords.verify_and_upgrade
    upgraded = passwords.hash_password(PASSWORD, iterations=1000)
    calls: list[str] = []

    def meanwhile(password: str, encoded: str, *, iterations: int) -> tuple[bool, str | None]:
        calls.append(encoded)
        if len(calls) == 1:
            with engine.begin() as conn:
                conn.execute(update(users).where(users.c.id == ALICE).values(password=upgraded))
        return real(password, encoded, iterations=iterations)

    monkeypatch.setattr(passwords, "verify_and_upgrade", meanwhile)
    replaced, encoded = password_change.change(engine, ALICE, PASSWORD, NEW, "client", 1000)
    assert replaced == upgraded == calls[1] and hash_of(engine) == encoded
    assert passwords.verify(NEW, encoded, iterations=1000)
