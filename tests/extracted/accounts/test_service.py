"""The accounts service in process (its own SQLite file, rows loaded as the data split leaves them): who is calling
(the router's identity token, or the caller's own API token when no identity token came, refused as DRF refuses
it), the caller's names, the address book with its one default address (in every case of the monolith's
``address_save``, and under concurrent writes), the internal look-up for the orders service's checkout, and who
sees what: a user never sees or touches another's addresses through any endpoint (the contract test holds the
rest against the monolith)."""

from __future__ import annotations

import os
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
from sqlalchemy import Engine, Table, insert, select, update
from starlette.requests import Request

from extracted.accounts.app import create_app
from extracted.accounts.authentication import token_key
from extracted.accounts.db import make_engine
from extracted.accounts.exceptions import AuthenticationFailed
from extracted.accounts.migrate import upgrade_head
from extracted.accounts.models import Address, Token, User
from extracted.accounts.selectors import Reader

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
    from starlette.testclient import TestClient

SECRET = "accounts-unit-tests-identity-secret-0123456789"
ORDERS_TOKEN = "orders-service-token-for-accounts-tests"  # noqa: S105 - a test's own
JOINED = datetime(2024, 9, 2, 3, 55, 0, tzinfo=UTC)
MADE = datetime(2026, 12, 4, 10, 30, 0, 123456, tzinfo=UTC)
ME = "/api/accounts/me/"
A = "/api/accounts/addresses/"
LOOKUP = "/api/accounts/internal/addresses/"
STAFF, CUSTOMER, OTHER, GONE, LONELY = 1, 2, 3, 4, 5
KEYS = {CUSTOMER: "a" * 40, OTHER: "0123456789abcdef0123456789abcdef01234567", GONE: "f" * 40}
users, addresses, tokens = (cast(Table, model.__table__) for model in (User, Address, Token))
PG_ADMIN = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432")
MYSQL_ADMIN = os.environ.get("TEST_MARIADB_ADMIN_URL", "mysql://root@127.0.0.1:3306")
HOME = {"full_name": "Greta Jönsson", "line1": "Storgatan 1", "city": "Malmö", "postal_code": "21145",
        "country": "se"}


def mint(user_id: int, *, staff: bool = False) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "staff": staff, "iat": now, "exp": now + 60, "iss": "strangler-router",
                       "aud": "strangler-services"}, SECRET, algorithm="HS256")


CSRF_SECRET = "CsrfSecretForTheBrowserSession012"[:32]


def who(user_id: int, *, staff: bool = False) -> dict[str, str]:
    """A browser behind the router: its session resolved to an identity token, its CSRF cookie and header passed
    on (a write by session is held to Django's CSRF check: :func:`test_a_session_write_needs_the_csrf_token`)."""
    return {"x-identity-token": mint(user_id, staff=staff), "cookie": f"csrftoken={CSRF_SECRET}",
            "x-csrftoken": CSRF_SECRET}


def test_a_session_write_needs_the_csrf_token(client: Any) -> None:
    """The router resolved a session cookie (no ``Authorization: Token``): DRF's SessionAuthentication enforces
    CSRF on writes, before the permission and the method; reads and token callers are not held to it."""
    bare = {"x-identity-token": mint(CUSTOMER)}
    for method, path in (("PATCH", ME), ("POST", A), ("DELETE", f"{A}1/"), ("PUT", ME),
                         ("POST", "/api/accounts/logout/")):
        response = client.request(method, path, json={}, headers=bare)
        assert (response.status_code, response.json()) == (403, {"detail": "CSRF Failed: CSRF cookie not set."})
    assert client.get(ME, headers=bare).status_code == 200
    wrong = {**bare, "cookie": f"csrftoken={CSRF_SECRET}", "x-csrftoken": "x" * 32}
    assert client.patch(ME, json={}, headers=wrong).json() == {
        "detail": "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect."}
    assert client.patch(ME, json={}, headers={**bare, **token(CUSTOMER)}).status_code == 200


def token(user_id: int) -> dict[str, str]:
    return {"authorization": f"Token {KEYS[user_id]}"}


def _user(user_id: int, email: str, first: str, last: str, *, staff: bool = False, active: bool = True
          ) -> dict[str, Any]:
    return {"id": user_id, "password": "pbkdf2_sha256$1000000$salt$hash", "last_login": None, "is_superuser": False,
            "username": email, "first_name": first, "last_name": last, "email": email, "is_staff": staff,
            "is_active": active, "date_joined": JOINED}


def _address(address_id: int, user_id: int, default: bool, city: str) -> dict[str, Any]:
    return {"id": address_id, "user_id": user_id, "full_name": f"User {user_id}", "line1": "Street 1", "line2": "",
            "city": city, "postal_code": "00100", "country": "FI", "phone": "", "is_default": default,
            "created_at": MADE}


def load(engine: Engine) -> None:
    """The rows as the data split leaves them."""
    upgrade_head(engine)
    with engine.begin() as conn:
        conn.execute(insert(users), [
            _user(STAFF, "staff@example.com", "Sam", "Staff", staff=True),
            _user(CUSTOMER, "customer1@example.com", "Greta", "Jönsson"),
            _user(OTHER, "customer2@example.com", "Lars", "Kowalski"),
            _user(GONE, "customer3@example.com", "Ina", "Active", active=False),
            _user(LONELY, "customer4@example.com", "No", "Addresses")])
        conn.execute(insert(tokens), [{"key": key, "user_id": user_id, "created": MADE}
                                      for user_id, key in KEYS.items()])
        conn.execute(insert(addresses), [
            _address(1, CUSTOMER, True, "Helsinki"), _address(2, CUSTOMER, False, "Turku"),
            _address(3, OTHER, True, "Oslo")])
        if conn.dialect.name == "postgresql":  # as the split leaves them: the next id after the copied ones
            for table in ("users", "addresses"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                                     f"(SELECT MAX(id) FROM {table}))")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite3'}")
    load(engine)
    yield engine
    engine.dispose()


@contextmanager
def server_engine(kind: str) -> Iterator[Engine]:
    """A fresh database on the project's PostgreSQL or MariaDB server (skipped when none answers), dropped after."""
    name = f"accounts_test_{uuid.uuid4().hex[:10]}"
    try:
        if kind == "postgresql":
            import psycopg

            admin: Any = psycopg.connect(f"{PG_ADMIN}/postgres", autocommit=True, connect_timeout=3)
        else:
            import pymysql

            admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=3, autocommit=True)
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        pytest.skip(f"no {kind} server answers ({exc})")
    try:
        admin.cursor().execute(f"CREATE DATABASE {name}")
        engine = make_engine(f"{PG_ADMIN}/{name}" if kind == "postgresql" else f"{MYSQL_ADMIN}/{name}")
        try:
            load(engine)
            yield engine
        finally:
            engine.dispose()
    finally:
        admin.cursor().execute(f"DROP DATABASE {name}" + (" WITH (FORCE)" if kind == "postgresql" else ""))
        admin.close()


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    monkeypatch.setenv("ORDERS_SERVICE_TOKEN", ORDERS_TOKEN)
    with TestClient(create_app(engine), base_url="http://127.0.0.1") as test_client:
        yield test_client


def defaults(engine: Engine, user_id: int) -> list[int]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(select(addresses.c.id).where(
            addresses.c.user_id == user_id, addresses.c.is_default.is_(True)).order_by(addresses.c.id))]


def book(client: TestClient, user_id: int) -> list[tuple[int, bool]]:
    listed = client.get(A, headers=who(user_id))
    assert listed.status_code == 200
    return [(a["id"], a["is_default"]) for a in listed.json()]


# --- who is calling ------------------------------------------------------------------------------------------------

CUSTOMER_ME = {"id": CUSTOMER, "email": "customer1@example.com", "first_name": "Greta", "last_name": "Jönsson",
               "is_staff": False, "date_joined": "2024-09-02T03:55:00Z"}


def test_me_by_the_identity_token_and_by_the_callers_own_token(client: TestClient) -> None:
    by_identity = client.get(ME, headers=who(CUSTOMER))
    assert (by_identity.status_code, by_identity.json()) == (200, CUSTOMER_ME)
    assert by_identity.headers["allow"] == "GET, PATCH, HEAD, OPTIONS"
    assert by_identity.headers["vary"] == "Cookie"  # a session could have said who it is
    by_token = client.get(ME, headers=token(CUSTOMER))
    assert (by_token.status_code, by_token.json()) == (200, CUSTOMER_ME)
    assert "vary" not in by_token.headers  # token authentication answered: the session was never looked at
    assert client.get(ME, headers=who(STAFF, staff=True)).json()["is_staff"] is True
    assert client.head(ME, headers=token(CUSTOMER)).status_code == 200


def test_the_identity_token_wins_over_the_callers_own_token(client: TestClient) -> None:
    """The router passes both: the identity token is what it resolved; the raw one counts only without it."""
    both = client.get(ME, headers={**who(OTHER), **token(CUSTOMER)})
    assert both.json()["id"] == OTHER
    unknown = client.get(ME, headers={**who(OTHER), "authorization": "Token " + "9" * 40})
    assert (unknown.status_code, unknown.json()["id"]) == (200, OTHER)


@pytest.mark.parametrize(("authorization", "detail"), [
    ("Token " + "9" * 40, "Invalid token."),                      # nobody's
    ("Token " + "a" * 41, "Invalid token."),                      # too long to exist: never looked up
    ("token " + "a" * 39 + "-", "Invalid token."),                # not letters and digits
    ("Token abc\x00def", "Invalid token."),
    ("Token", "Invalid token header. No credentials provided."),
    ("Token a b", "Invalid token header. Token string should not contain spaces."),
    ("TOKEN " + "f" * 40, "User inactive or deleted."),           # a deactivated user's own token
])
def test_a_refused_token_is_answered_as_drf_answers_it(client: TestClient, authorization: str, detail: str) -> None:
    for method in ("GET", "PATCH", "OPTIONS"):
        refused = client.request(method, ME, headers={"authorization": authorization})
        assert (refused.status_code, refused.json()) == (401, {"detail": detail})
        assert refused.headers["www-authenticate"] == "Token"
        assert "vary" not in refused.headers
    assert client.get(A, headers={"authorization": authorization}).json() == {"detail": detail}


def test_a_key_that_cannot_exist_is_never_looked_up(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 40 characters, or not ASCII letters and digits (a NUL byte would fail PostgreSQL's query: a 500)."""
    def looked_up(self: Reader, key: str) -> None:
        raise AssertionError(f"looked up {key!r}")

    monkeypatch.setattr(Reader, "token_user", looked_up)
    for key in ("a" * 41, "abc\x00def", "abc-def", "ab\u00e9", "\u0661\u0662"):
        refused = client.get(ME, headers=[(b"authorization", f"Token {key}".encode())])
        assert (refused.status_code, refused.json()) == (401, {"detail": "Invalid token."}), key


def test_a_token_of_bytes_that_are_not_utf8_is_refused() -> None:
    # The test client would re-encode the header as UTF-8: the request as the server hands it over instead.
    request = Request({"type": "http", "method": "GET", "path": ME, "headers": [
        (b"authorization", b"Token \xe9t\xe9")]})
    with pytest.raises(AuthenticationFailed) as refused:
        token_key(request)
    assert refused.value.detail == "Invalid token header. Token string should not contain invalid characters."
    latin = Request({"type": "http", "method": "GET", "path": ME, "headers": [(b"authorization", b"Token \xe9t")]})
    with pytest.raises(AuthenticationFailed):  # one that is UTF-8 (two bytes: "é") but not ASCII
        token_key(Request({**latin.scope, "headers": [(b"authorization", "Token été".encode())]}))


def test_anonymous_and_other_schemes_are_not_authenticated(client: TestClient) -> None:
    for headers in ({}, {"authorization": "Basic dXNlcjpwdw=="}, {"authorization": "Bearer " + "a" * 40}):
        for path in (ME, A, f"{A}1/"):
            anonymous = client.get(path, headers=headers)
            assert (anonymous.status_code, anonymous.json()) == (
                401, {"detail": "Authentication credentials were not provided."})
            assert (anonymous.headers["www-authenticate"], anonymous.headers["vary"]) == ("Token", "Cookie")


def test_an_identity_token_of_a_user_no_longer_active_is_refused_as_the_monolith_would(
        client: TestClient, engine: Engine) -> None:
    """The router mints identity tokens for active users only, but a user deactivated since (its cache) is refused:
    with their own token, as DRF's token authentication; with a session, as anonymous (Django's session user)."""
    with_token = client.get(ME, headers={**who(GONE), **token(GONE)})
    assert (with_token.status_code, with_token.json()) == (401, {"detail": "User inactive or deleted."})
    with_session = client.get(A, headers=who(GONE))
    assert (with_session.status_code, with_session.json()) == (
        401, {"detail": "Authentication credentials were not provided."})
    assert with_session.headers["vary"] == "Cookie"
    with engine.begin() as conn:
        conn.execute(tokens.delete().where(tokens.c.user_id == LONELY))
        conn.execute(users.delete().where(users.c.id == LONELY))
    deleted = client.get(ME, headers={**who(LONELY), "authorization": "Token " + "b" * 40})
    assert (deleted.status_code, deleted.json()) == (401, {"detail": "Invalid token."})
    assert client.get(ME, headers=who(LONELY)).status_code == 401


def test_a_bad_identity_token_is_never_anonymous(client: TestClient) -> None:
    forged = jwt.encode({"sub": str(CUSTOMER), "iat": int(time.time()), "exp": int(time.time()) + 60,
                         "iss": "strangler-router", "aud": "strangler-services"}, "another-secret-0123456789abcdef-01",
                        algorithm="HS256")
    refused = client.get(ME, headers={"x-identity-token": forged, **token(CUSTOMER)})
    assert (refused.status_code, refused.json()) == (401, {"detail": "Invalid token."})


def test_me_options_describes_the_view(client: TestClient) -> None:
    described = client.options(ME, headers=token(CUSTOMER))
    assert described.json() == {
        "name": "Me Api",
        "description": "Who is calling. The router's identity bridge resolves sessions and tokens through this "
                       "endpoint.",
        "renders": ["application/json"],
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]}
    assert client.options(ME).status_code == 401
    refused = client.put(ME, json={}, headers=who(CUSTOMER))
    assert (refused.status_code, refused.json()) == (405, {"detail": 'Method "PUT" not allowed.'})


# --- the caller's names --------------------------------------------------------------------------------------------


def test_patching_me_changes_the_names_only(client: TestClient, engine: Engine) -> None:
    changed = client.patch(ME, json={"first_name": "  Märta ", "email": "evil@example.com", "is_staff": True,
                                     "id": 99, "date_joined": "2000-01-01T00:00:00Z"}, headers=who(CUSTOMER))
    assert changed.status_code == 200
    assert changed.json() == {**CUSTOMER_ME, "first_name": "Märta"}
    assert client.patch(ME, data={"last_name": ""}, headers=token(CUSTOMER)).json()["last_name"] == ""
    assert client.patch(ME, json={"last_name": 5}, headers=token(CUSTOMER)).json()["last_name"] == "5"
    assert client.patch(ME, json={}, headers=token(CUSTOMER)).json()["first_name"] == "Märta"
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == CUSTOMER)).one()
    assert (row.email, row.is_staff, row.first_name, row.last_name) == ("customer1@example.com", False, "Märta", "5")


@pytest.mark.parametrize(("body", "errors"), [
    ({"first_name": "x" * 151, "last_name": None},
     {"first_name": ["Ensure this field has no more than 150 characters."],
      "last_name": ["This field may not be null."]}),
    ({"first_name": ["a"], "last_name": {"a": 1}},
     {"first_name": ["Not a valid string."], "last_name": ["Not a valid string."]}),
    ({"last_name": "a\x00b"}, {"last_name": ["Null characters are not allowed."]}),
    ([], {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
])
def test_bad_names_are_refused_per_field(client: TestClient, body: Any, errors: Any) -> None:
    refused = client.patch(ME, json=body, headers=who(CUSTOMER))
    assert (refused.status_code, refused.json()) == (400, errors)
    assert client.get(ME, headers=who(CUSTOMER)).json() == CUSTOMER_ME


# --- the address book -----------------------------------------------------------------------------------------------


def test_the_list_is_the_callers_own_in_id_order(client: TestClient) -> None:
    listed = client.get(A, headers=token(CUSTOMER))
    assert listed.status_code == 200
    assert listed.json() == [
        {"id": 1, "full_name": "User 2", "line1": "Street 1", "line2": "", "city": "Helsinki", "postal_code": "00100",
         "country": "FI", "phone": "", "is_default": True, "created_at": "2026-12-04T10:30:00.123456Z"},
        {"id": 2, "full_name": "User 2", "line1": "Street 1", "line2": "", "city": "Turku", "postal_code": "00100",
         "country": "FI", "phone": "", "is_default": False, "created_at": "2026-12-04T10:30:00.123456Z"}]
    assert client.get(A, headers=who(LONELY)).json() == []


def test_another_users_address_is_not_found_on_every_method(client: TestClient, engine: Engine) -> None:
    mine = who(CUSTOMER)
    for method in ("GET", "PUT", "PATCH", "DELETE", "HEAD"):
        refused = client.request(method, f"{A}3/", json={**HOME, "is_default": True}, headers=mine)
        assert refused.status_code == 404, method
        if method != "HEAD":
            assert refused.json() == {"detail": "No Address matches the given query."}
    options = client.options(f"{A}3/", headers=mine).json()
    assert "actions" not in options  # DRF describes PUT only for an object the caller may have
    assert client.options(f"{A}1/", headers=mine).json()["actions"]["PUT"]["country"]["type"] == "regex"
    assert 3 not in [a for a, _ in book(client, CUSTOMER)]
    # Their book is as it was: nothing changed, nothing deleted, the default kept.
    assert book(client, OTHER) == [(3, True)]
    with engine.connect() as conn:
        assert conn.execute(select(addresses.c.city).where(addresses.c.id == 3)).scalar() == "Oslo"
    # Making one of mine the default touches only my book.
    assert client.patch(f"{A}2/", json={"is_default": True}, headers=mine).status_code == 200
    assert defaults(engine, OTHER) == [3]


def test_creating_the_first_address_makes_it_the_default(client: TestClient) -> None:
    made = client.post(A, json={**HOME, "is_default": False}, headers=who(LONELY))
    assert made.status_code == 201
    body = made.json()
    assert body["is_default"] is True and body["country"] == "SE" and body["line2"] == "" and body["phone"] == ""
    assert body["created_at"].endswith("Z")
    second = client.post(A, json=HOME, headers=who(LONELY)).json()
    assert second["is_default"] is False
    assert book(client, LONELY) == [(body["id"], True), (second["id"], False)]


def test_making_one_the_default_clears_the_others(client: TestClient, engine: Engine) -> None:
    made = client.post(A, json={**HOME, "is_default": "yes"}, headers=who(CUSTOMER)).json()
    assert book(client, CUSTOMER) == [(1, False), (2, False), (made["id"], True)]
    assert client.put(f"{A}2/", json={**HOME, "is_default": "true"}, headers=who(CUSTOMER)).json()["is_default"]
    assert book(client, CUSTOMER) == [(1, False), (2, True), (made["id"], False)]
    assert client.patch(f"{A}1/", data={"is_default": "on"}, headers=who(CUSTOMER)).status_code == 200
    assert defaults(engine, CUSTOMER) == [1]


def test_an_edit_without_is_default_keeps_the_stored_flag(client: TestClient) -> None:
    edited = client.patch(f"{A}1/", json={"city": "Espoo"}, headers=who(CUSTOMER)).json()
    assert (edited["city"], edited["is_default"]) == ("Espoo", True)
    assert client.put(f"{A}2/", json=HOME, headers=who(CUSTOMER)).json()["is_default"] is False
    assert book(client, CUSTOMER) == [(1, True), (2, False)]


def test_an_edit_of_a_stored_default_clears_a_second_one(client: TestClient, engine: Engine) -> None:
    """A book with two defaults (as older data may have them): editing one of them, without sending is_default,
    keeps it the default and so clears the other, as the monolith's ``address_save`` does."""
    with engine.begin() as conn:
        conn.execute(update(addresses).where(addresses.c.id == 2).values(is_default=True))
    assert client.patch(f"{A}2/", json={"city": "Vaasa"}, headers=who(CUSTOMER)).json()["is_default"] is True
    assert book(client, CUSTOMER) == [(1, False), (2, True)]


def test_the_only_address_stays_the_default(client: TestClient) -> None:
    kept = client.patch(f"{A}3/", json={"is_default": False}, headers=who(OTHER)).json()
    assert kept["is_default"] is True
    assert client.put(f"{A}3/", json={**HOME, "is_default": "0"}, headers=who(OTHER)).json()["is_default"] is True


def test_unsetting_the_default_of_several_leaves_none_as_the_monolith_does(client: TestClient) -> None:
    """``address_save`` makes the only address the default, not another one when the default is unset."""
    assert client.patch(f"{A}1/", json={"is_default": False}, headers=who(CUSTOMER)).json()["is_default"] is False
    assert book(client, CUSTOMER) == [(1, False), (2, False)]
    # A form's PUT without the checkbox is False too (HTML input): the same.
    assert client.patch(f"{A}2/", json={"is_default": True}, headers=who(CUSTOMER)).status_code == 200
    assert client.put(f"{A}2/", data=HOME, headers=who(CUSTOMER)).json()["is_default"] is False


def test_deleting_an_address_changes_no_other(client: TestClient) -> None:
    deleted = client.delete(f"{A}1/", headers=token(CUSTOMER))
    assert (deleted.status_code, deleted.content, deleted.headers.get("content-type")) == (204, b"", None)
    assert book(client, CUSTOMER) == [(2, False)]
    assert client.delete(f"{A}1/", headers=token(CUSTOMER)).status_code == 404
    # The one left becomes the default at its next edit, being the only one.
    assert client.patch(f"{A}2/", json={"phone": "+358 40 1234567"}, headers=who(CUSTOMER)).json()["is_default"]


def test_an_address_deleted_meanwhile_is_not_written_again(engine: Engine) -> None:
    from extracted.accounts import services
    from extracted.accounts.exceptions import NotFound

    with engine.begin() as conn:
        conn.execute(addresses.delete().where(addresses.c.id == 2))
    with pytest.raises(NotFound):
        services.address_save(engine, CUSTOMER, 2, {"city": "Back"})
    with engine.connect() as conn:
        assert conn.execute(select(addresses.c.id).where(addresses.c.id == 2)).first() is None


def test_put_needs_every_field_patch_only_those_it_sends(client: TestClient) -> None:
    refused = client.put(f"{A}1/", json={"city": "Espoo"}, headers=who(CUSTOMER))
    assert (refused.status_code, refused.json()) == (400, {
        "full_name": ["This field is required."], "line1": ["This field is required."],
        "postal_code": ["This field is required."], "country": ["This field is required."]})
    put = client.put(f"{A}1/", json={**HOME, "line2": "c/o Berg", "phone": "123", "id": 77,
                                      "created_at": "2000-01-01T00:00:00Z"}, headers=who(CUSTOMER)).json()
    assert (put["id"], put["line2"], put["phone"], put["created_at"]) == (1, "c/o Berg", "123",
                                                                           "2026-12-04T10:30:00.123456Z")
    patched = client.patch(f"{A}1/", json={"country": "no"}, headers=who(CUSTOMER)).json()
    assert (patched["country"], patched["line2"], patched["city"]) == ("NO", "c/o Berg", "Malmö")


def test_the_address_options_describe_the_serializer(client: TestClient) -> None:
    listed = client.options(A, headers=who(CUSTOMER)).json()
    assert listed["name"] == "Address List" and list(listed["actions"]) == ["POST"]
    assert list(listed["actions"]["POST"]) == ["id", "full_name", "line1", "line2", "city", "postal_code", "country",
                                               "phone", "is_default", "created_at"]
    detail = client.options(f"{A}1/", headers=who(CUSTOMER))
    assert detail.headers["allow"] == "GET, PUT, PATCH, DELETE, HEAD, OPTIONS"
    assert detail.json()["name"] == "Address Instance" and list(detail.json()["actions"]) == ["PUT"]
    assert "actions" not in client.options(f"{A}999/", headers=who(CUSTOMER)).json()
    assert client.delete(A, headers=who(CUSTOMER)).status_code == 405


@pytest.mark.parametrize(("body", "errors"), [
    ({}, {name: ["This field is required."] for name in ("full_name", "line1", "city", "postal_code", "country")}),
    ({**HOME, "country": "usa", "is_default": "maybe"},
     {"country": ["Ensure this field has no more than 2 characters.", "Use a two-letter country code (ISO 3166-1)."],
      "is_default": ["Must be a valid boolean."]}),
    ({**HOME, "country": "u1", "is_default": None, "line2": None, "phone": None},
     {"line2": ["This field may not be null."], "country": ["Use a two-letter country code (ISO 3166-1)."],
      "phone": ["This field may not be null."], "is_default": ["This field may not be null."]}),
    ({**HOME, "country": ["us"]}, {"country": ["Use a two-letter country code (ISO 3166-1)."]}),
    ({**HOME, "country": True}, {"country": ["Use a two-letter country code (ISO 3166-1)."]}),
    ({**HOME, "country": "  "}, {"country": ["This field may not be blank."]}),
    ({**HOME, "country": 12}, {"country": ["Use a two-letter country code (ISO 3166-1)."]}),
    ({**HOME, "country": "s\x00"}, {"country": ["Null characters are not allowed.",
                                                "Use a two-letter country code (ISO 3166-1)."]}),
    ({**HOME, "full_name": "x" * 121, "line1": "", "line2": "y" * 201, "city": ["c"], "postal_code": 3.5,
      "phone": "p" * 31},
     {"full_name": ["Ensure this field has no more than 120 characters."], "line1": ["This field may not be blank."],
      "line2": ["Ensure this field has no more than 200 characters."], "city": ["Not a valid string."],
      "phone": ["Ensure this field has no more than 30 characters."]}),
    ({**HOME, "is_default": "tRuE"}, None),
    ({**HOME, "is_default": [True]}, {"is_default": ["Must be a valid boolean."]}),
    ({**HOME, "is_default": 2}, {"is_default": ["Must be a valid boolean."]}),
    ("x", {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
])
def test_bad_bodies_are_refused_per_field_and_write_nothing(client: TestClient, body: Any, errors: Any) -> None:
    answered = client.post(A, json=body, headers=who(CUSTOMER))
    if errors is None:  # DRF lowercases the text before its look-up: accepted
        assert answered.status_code == 201
        return
    assert (answered.status_code, answered.json()) == (400, errors)
    assert client.put(f"{A}1/", json=body, headers=who(CUSTOMER)).json() == errors
    assert book(client, CUSTOMER) == [(1, True), (2, False)]


def test_a_missing_address_is_404_before_the_body(client: TestClient) -> None:
    for method in ("PUT", "PATCH"):
        missing = client.request(method, f"{A}999/", content=b"{", headers={**who(CUSTOMER),
                                                                         "content-type": "application/json"})
        assert (missing.status_code, missing.json()) == (404, {"detail": "No Address matches the given query."})
    broken = client.patch(f"{A}1/", content=b"{", headers={**who(CUSTOMER), "content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["detail"].startswith("JSON parse error")


def test_a_write_the_database_refuses_as_read_only_is_503(client: TestClient, engine: Engine) -> None:
    """Before the cutover the service's copy refuses writes (the plan's ownership guard): the client retries."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TRIGGER guard BEFORE INSERT ON addresses "
                             "BEGIN SELECT RAISE(ABORT, 'read-only: accounts is the monolith''s'); END")
        conn.exec_driver_sql("CREATE TRIGGER guard_users BEFORE UPDATE ON users "
                             "BEGIN SELECT RAISE(ABORT, 'read-only: accounts is the monolith''s'); END")
    for refused in (client.post(A, json=HOME, headers=who(CUSTOMER)),
                    client.patch(ME, json={"first_name": "X"}, headers=who(CUSTOMER))):
        assert (refused.status_code, refused.json()["code"], refused.headers["retry-after"]) == (503, "read_only", "1")
    assert book(client, CUSTOMER) == [(1, True), (2, False)]


def _race_one_book(engine: Engine) -> None:
    answers: list[int] = []
    with TestClient(create_app(engine), base_url="http://127.0.0.1") as test_client:
        start = threading.Barrier(12)
        mine = who(CUSTOMER)

        def write(n: int) -> None:
            start.wait()
            if n % 3 == 0:
                answered = test_client.post(A, json={**HOME, "is_default": True}, headers=mine)
            elif n % 3 == 1:
                answered = test_client.patch(f"{A}{1 + n % 2}/", json={"is_default": True}, headers=mine)
            else:
                answered = test_client.patch(f"{A}{1 + n % 2}/", json={"city": f"City {n}"}, headers=mine)
            answers.append(answered.status_code)

        for _round in range(3):
            threads = [threading.Thread(target=write, args=(n,)) for n in range(12)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            start.reset()
            assert len(defaults(engine, CUSTOMER)) == 1
    assert sorted(set(answers)) == [200, 201]
    assert len(defaults(engine, CUSTOMER)) == 1


def test_concurrent_writes_to_one_book_leave_exactly_one_default(engine: Engine,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Creates making themselves the default, edits making an existing one the default, and edits of other
    fields (which keep the stored flag), all at once: the book's writes take turns, so one default is left."""
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    _race_one_book(engine)


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_concurrent_writes_take_turns_on_database_servers_too(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same race on PostgreSQL and MariaDB, where the user's row is locked (``SELECT ... FOR UPDATE``)."""
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    with server_engine(kind) as engine:
        _race_one_book(engine)
        with TestClient(create_app(engine), base_url="http://127.0.0.1") as test_client:
            assert test_client.get(ME, headers=token(CUSTOMER)).json() == CUSTOMER_ME  # "key" quoted right
            assert test_client.get(ME, headers=token(GONE)).json() == {"detail": "User inactive or deleted."}
            assert test_client.delete(f"{A}3/", headers=who(CUSTOMER)).status_code == 404


def test_concurrent_first_addresses_leave_exactly_one_default(engine: Engine, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """A user without addresses creating several at once, none asking to be the default: the first one written is
    the default (each read the book after the one before it wrote)."""
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    with TestClient(create_app(engine), base_url="http://127.0.0.1") as test_client:
        start = threading.Barrier(8)

        def write() -> None:
            start.wait()
            assert test_client.post(A, json=HOME, headers=who(LONELY)).status_code == 201

        threads = [threading.Thread(target=write) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(defaults(engine, LONELY)) == 1


# --- the internal look-up of the orders service's checkout --------------------------------------------------------


def test_the_internal_lookup_answers_the_fields_an_order_copies(client: TestClient, engine: Engine) -> None:
    service = {"x-service-token": ORDERS_TOKEN}
    with engine.begin() as conn:
        conn.execute(update(addresses).where(addresses.c.id == 2).values(line2="c/o Berg", phone="555"))
    found = client.post(LOOKUP, json={"user": CUSTOMER, "address": 2}, headers=service)
    assert (found.status_code, found.json()) == (200, {"full_name": "User 2", "line1": "Street 1",
                                                       "line2": "c/o Berg", "city": "Turku",
                                                       "postal_code": "00100", "country": "FI"})
    for body in ({"user": CUSTOMER, "address": 3}, {"user": OTHER, "address": 1}, {"user": CUSTOMER, "address": 999}):
        missing = client.post(LOOKUP, json=body, headers=service)
        assert (missing.status_code, missing.json()) == (404, {"detail": "No such address in your address book."})
    bad = client.post(LOOKUP, json={"user": 0, "address": "x"}, headers=service)
    assert (bad.status_code, bad.json()) == (400, {"user": ["Ensure this value is greater than or equal to 1."],
                                                   "address": ["A valid integer is required."]})
    assert client.post(LOOKUP, data={"user": "2", "address": "1"}, headers=service).json()["city"] == "Helsinki"
    refused = client.get(LOOKUP, headers=service)
    assert (refused.status_code, refused.headers["allow"]) == (405, "POST, OPTIONS")
    assert client.options(LOOKUP, headers=service).status_code == 405


def test_only_the_orders_service_token_opens_the_internal_lookup(client: TestClient,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"user": CUSTOMER, "address": 1}
    absent = client.post(LOOKUP, json=body)
    assert (absent.status_code, absent.json()) == (401, {
        "detail": "Service token not provided (X-Service-Token).", "code": "not_authenticated"})
    assert absent.headers["www-authenticate"] == "X-Service-Token"
    wrong = client.post(LOOKUP, json=body, headers={"x-service-token": "nope"})
    assert (wrong.status_code, wrong.json()["detail"]) == (401, "Invalid service token.")
    # A shopper's credential opens nothing here.
    assert client.post(LOOKUP, json=body, headers={**who(CUSTOMER), **token(CUSTOMER)}).status_code == 401
    monkeypatch.setenv("ORDERS_SERVICE_TOKEN", "")
    unset = client.post(LOOKUP, json=body, headers={"x-service-token": ORDERS_TOKEN})
    assert (unset.status_code, unset.json()["code"]) == (503, "not_configured")
