"""The monolith's login page through its accounts gateway, in remote mode, against the accounts service as its own
process (issue 16: "the monolith's pages still log people in and out, through the accounts service"). The users
are the monolith's rows copied as the data split leaves them. Held to: a right password opens the session here
(the service's user, its auth hash), the service stamps last_login and upgrades an old hash (which Django on the
monolith then verifies), the monolith's own copy is not written; wrong passwords are refused and counted at the
service, whose throttle answers the page 429 with Retry-After; a session stays valid until the password changes
at the service and the reverse sync brings the new hash (as Django logs out other sessions)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token
from sqlalchemy import Engine, create_engine, insert, select, update

from extracted.accounts.migrate import upgrade_head
from extracted.accounts.models import User as ServiceUser
from legacy_monolith import switches
from legacy_monolith.accounts import gateway
from strangler.processes import ManagedProcess, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[3]
TOKEN = "accounts-service-token-for-the-gateway-test"
PAGE = "/accounts/login/"
PASSWORD = "gateway test password 1"
service_users = ServiceUser.__table__


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    base = tmp_path_factory.mktemp("accounts-gateway")
    url = f"sqlite:///{base / 'accounts.sqlite3'}"
    engine = create_engine(url)
    upgrade_head(engine)
    port = free_port()
    env = {"ACCOUNTS_DATABASE_URL": url, "ACCOUNTS_SERVICE_TOKEN": TOKEN, "ACCOUNTS_PBKDF2_ITERATIONS": "1000",
           "ROUTER_IDENTITY_SECRET": "accounts-gateway-test-identity-secret-0123456789"}
    process = ManagedProcess("accounts", [sys.executable, "-m", "extracted.accounts", "--port", str(port)],
                             log_path=base / "accounts.log", env={**os.environ, **env}, cwd=ROOT)
    with process:
        process.wait_healthy(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", engine
    engine.dispose()


@pytest.fixture
def remote(settings, service: tuple[str, Engine]) -> Iterator[Engine]:
    url, engine = service
    settings.ACCOUNTS_SERVICE_URL, settings.ACCOUNTS_SERVICE_TOKEN = url, TOKEN
    # Django's hashers at the service's test cost (ACCOUNTS_PBKDF2_ITERATIONS=1000), and an older SHA1 one.
    settings.PASSWORD_HASHERS = ["tests.extracted.accounts.test_logins.ThousandPBKDF2",
                                 "tests.extracted.accounts.test_logins.ThousandPBKDF2SHA1"]
    switches.set_switch(gateway.SWITCH, True)
    cache.clear()   # the tokens the service vouched for in an earlier test
    yield engine
    switches.set_switch(gateway.SWITCH, False)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM tokens")
        conn.execute(service_users.delete())
        conn.exec_driver_sql("DELETE FROM login_failures")


def copy_to_service(engine: Engine, user: User) -> None:
    """The user's row as the data split copies it."""
    with engine.begin() as conn:
        conn.execute(insert(service_users).values(  # type: ignore[arg-type]
            id=user.pk, password=user.password, last_login=user.last_login, is_superuser=user.is_superuser,
            username=user.username, first_name=user.first_name, last_name=user.last_name, email=user.email,
            is_staff=user.is_staff, is_active=user.is_active, date_joined=user.date_joined))


def service_row(engine: Engine, user_id: int) -> object:
    with engine.connect() as conn:
        return conn.execute(select(service_users).where(service_users.c.id == user_id)).first()


def test_a_login_through_the_service_opens_the_session_here(remote: Engine, settings) -> None:
    settings.ACCOUNTS_SYNC_WAIT = 0.3   # no reverse sync runs here: the wait for the copy runs out
    old = make_password(PASSWORD, hasher="pbkdf2_sha1")
    user = User.objects.create(username="gw@example.com", email="gw@example.com", password=old)
    copy_to_service(remote, user)
    page = Client()
    answer = page.post(PAGE, {"username": "GW@example.com", "password": PASSWORD})
    assert answer.status_code == 302, answer.content.decode()[:500]
    assert page.session["_auth_user_id"] == str(user.pk)
    at_service = service_row(remote, user.pk)
    assert at_service.last_login is not None and at_service.password.startswith("pbkdf2_sha256$1000$")
    user.refresh_from_db()
    assert user.last_login is None and user.password == old   # the monolith's copy: the sync's to write
    # The reverse sync brings the upgraded hash: the session stays valid (Django verifies the new encoding too).
    User.objects.filter(pk=user.pk).update(password=at_service.password)
    assert page.get("/api/accounts/me/").json()["id"] == user.pk
    # A login that upgrades nothing finds the copy as it is: no wait at all.
    started = time.monotonic()
    assert Client().post(PAGE, {"username": user.email, "password": PASSWORD}).status_code == 302
    assert time.monotonic() - started < 0.3
    # A password changed at the service, synced back: this session is over, as Django logs out other sessions.
    with remote.begin() as conn:
        conn.execute(update(service_users).where(service_users.c.id == user.pk)
                     .values(password=make_password("another password 2")))
    User.objects.filter(pk=user.pk).update(password=service_row(remote, user.pk).password)
    assert page.get("/api/accounts/me/").status_code in (401, 403)


def test_a_login_waits_for_the_copy_to_hold_the_upgraded_hash(remote: Engine, settings) -> None:
    """The reverse sync lands while the login waits: the session opens on a copy that matches it."""
    settings.ACCOUNTS_SYNC_WAIT = 5
    user = User.objects.create(username="lag@example.com", email="lag@example.com",
                               password=make_password(PASSWORD, hasher="pbkdf2_sha1"))
    copy_to_service(remote, user)

    def sync_later() -> None:
        time.sleep(0.5)
        User.objects.filter(pk=user.pk).update(password=service_row(remote, user.pk).password)

    syncer = threading.Thread(target=sync_later)
    syncer.start()
    page = Client()
    started = time.monotonic()
    assert page.post(PAGE, {"username": user.email, "password": PASSWORD}).status_code == 302
    syncer.join()
    assert 0.4 < time.monotonic() - started < 5
    assert page.get("/api/accounts/me/").json()["id"] == user.pk   # the very next request: still logged in


def test_wrong_passwords_are_counted_at_the_service_and_throttled_there(remote: Engine) -> None:
    user = User.objects.create(username="thr@example.com", email="thr@example.com", password=make_password(PASSWORD))
    copy_to_service(remote, user)
    page = Client()
    for _ in range(5):
        refused = page.post(PAGE, {"username": user.email, "password": "wrong"})
        assert refused.status_code == 200 and "Please enter a correct" in refused.content.decode()
    throttled = page.post(PAGE, {"username": user.email, "password": PASSWORD})
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    assert "Too many failed logins" in throttled.content.decode()
    assert "_auth_user_id" not in page.session
    with remote.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM login_failures").scalar() == 5


# --- a token the service issued, before the reverse sync brings it -------------------------------------------------


def token_at_service(engine: Engine, user: User, key: str) -> None:
    """A token only the service holds (issued there a moment ago: no reverse sync runs here)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO tokens (key, user_id, created) VALUES (?, ?, CURRENT_TIMESTAMP)",
                             (key, user.pk))


def test_a_token_the_copy_does_not_hold_yet_is_asked_of_the_service(remote: Engine) -> None:
    """Remote mode: the monolith's remaining API takes a token issued at the service a moment ago (its copy follows
    by the reverse sync), as that user; a key neither side knows stays 401 "Invalid token."."""
    user = User.objects.create(username="tok@example.com", email="tok@example.com", password=make_password("x"))
    copy_to_service(remote, user)
    key = "a" * 40
    token_at_service(remote, user, key)
    api = Client()
    answer = api.get("/api/accounts/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["id"] == user.pk
    unknown = api.get("/api/accounts/me/", HTTP_AUTHORIZATION=f"Token {'b' * 40}")
    assert unknown.status_code == 401 and unknown.json() == {"detail": "Invalid token."}


def test_a_token_logged_out_at_the_service_is_refused_here_within_the_cache_bound(remote: Engine, settings) -> None:
    """The monolith's copy still holds the token (the reverse sync is behind, or its follower stopped): what the
    service, which owns the tokens, says decides, within ACCOUNTS_TOKEN_CACHE_SECONDS."""
    settings.ACCOUNTS_TOKEN_CACHE_SECONDS = 1.0
    user = User.objects.create(username="out@example.com", email="out@example.com", password=make_password("x"))
    copy_to_service(remote, user)
    key = "f" * 40
    Token.objects.create(user=user, key=key)   # the copy's row, as the sync brought it
    token_at_service(remote, user, key)
    api = Client()
    assert api.get("/api/accounts/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    with remote.begin() as conn:   # the logout, at the service
        conn.exec_driver_sql("DELETE FROM tokens WHERE key = ?", (key,))
    assert Token.objects.filter(key=key).exists()   # the copy still holds it
    time.sleep(1.1)
    answer = api.get("/api/accounts/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert answer.status_code == 401 and answer.json() == {"detail": "Invalid token."}


def test_a_token_of_an_inactive_user_at_the_service_is_refused(remote: Engine) -> None:
    user = User.objects.create(username="gone@example.com", email="gone@example.com", password=make_password("x"))
    copy_to_service(remote, user)
    with remote.begin() as conn:
        conn.execute(update(service_users).where(service_users.c.id == user.pk).values(is_active=False))
    token_at_service(remote, user, "c" * 40)
    answer = Client().get("/api/accounts/me/", HTTP_AUTHORIZATION=f"Token {'c' * 40}")
    assert answer.status_code == 401 and answer.json() == {"detail": "User inactive or deleted."}


def test_local_mode_never_asks_the_service(settings) -> None:
    """Before the cutover the monolith's tokens are the only ones: an unknown key is refused here, whatever the
    service (not even running at this address) would say."""
    settings.ACCOUNTS_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    answer = Client().get("/api/accounts/me/", HTTP_AUTHORIZATION=f"Token {'d' * 40}")
    assert answer.status_code == 401 and answer.json() == {"detail": "Invalid token."}


def test_a_service_that_does_not_answer_is_a_503_not_a_refusal(remote: Engine, settings) -> None:
    settings.ACCOUNTS_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    answer = Client().get("/api/accounts/me/", HTTP_AUTHORIZATION=f"Token {'e' * 40}")
    assert answer.status_code == 503 and answer.json()["code"] == "accounts_unavailable"
