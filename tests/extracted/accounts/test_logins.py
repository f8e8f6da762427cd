"""Logging in at the accounts service (``extracted/accounts/logins.py``, ``throttle.py``), on users whose passwords
Django hashed: a right password logs in and stamps ``last_login``; a hash Django would upgrade is upgraded (and
Django verifies the new one); wrong passwords, unknown and inactive users are refused alike and counted; the
throttle refuses an account after five failures and a client after twenty, right password or not, with the
monolith's message and a Retry-After that says when; a success forgets the account's failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, PBKDF2SHA1PasswordHasher, check_password, make_password
from sqlalchemy import Engine, insert, select, update

from extracted.accounts import logins, throttle
from extracted.accounts.db import make_engine
from extracted.accounts.errors import TooManyLogins
from extracted.accounts.migrate import upgrade_head
from extracted.accounts.models import LoginFailure, User

users, failures = User.__table__, LoginFailure.__table__
JOINED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
FAST = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]


def _user(user_id: int, email: str, encoded: str, **extra: object) -> dict[str, object]:
    return {"id": user_id, "password": encoded, "last_login": None, "is_superuser": False, "username": email,
            "first_name": "", "last_name": "", "email": email, "is_staff": False, "is_active": True,
            "date_joined": JOINED, **extra}


@pytest.fixture(autouse=True)
def _cheap_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, settings: object) -> None:
    """1,000 iterations on both sides (the service's variable, Django's hasher), except where a test wants the
    real cost: the logic is the same, each real hash takes half a second."""
    if "slow" in request.keywords:
        return
    monkeypatch.setenv(logins.ITERATIONS_ENV, "1000")
    settings.PASSWORD_HASHERS = ["tests.extracted.accounts.test_logins.ThousandPBKDF2",  # type: ignore[attr-defined]
                                 "tests.extracted.accounts.test_logins.ThousandPBKDF2SHA1"]


class ThousandPBKDF2(PBKDF2PasswordHasher):
    iterations = 1000


class ThousandPBKDF2SHA1(PBKDF2SHA1PasswordHasher):
    iterations = 500   # fewer than the preferred: an old hash, upgraded on login


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'accounts.sqlite3'}")
    upgrade_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def alice(engine: Engine) -> str:
    """A user whose hash Django made at a lower iteration count than the preferred one (an old hash)."""
    encoded = make_password(PASSWORD, hasher="pbkdf2_sha1")
    with engine.begin() as conn:
        conn.execute(insert(users).values(**_user(2, "alice@example.com", encoded)))  # type: ignore[arg-type]
    return encoded


@pytest.mark.slow
def test_a_django_hash_logs_in_is_upgraded_and_stamps_last_login(engine: Engine, alice: str) -> None:
    """At the real cost: Django 5.2's 1,000,000 iterations on both sides."""
    row = logins.authenticate(engine, " Alice@Example.com ", PASSWORD, "198.51.100.1")
    assert row is not None and row.id == 2 and row.last_login is not None
    assert row.password != alice and row.password.startswith("pbkdf2_sha256$1000000$")
    assert check_password(PASSWORD, row.password)   # Django takes the service's new hash
    answer = logins.user_answer(row)
    assert answer["password"] == row.password and answer["date_joined"] == "2025-01-02T03:04:05Z"
    again = logins.authenticate(engine, "alice@example.com", PASSWORD, "198.51.100.1")
    assert again is not None and again.password == row.password   # current: not hashed again


@pytest.mark.parametrize("case", ["wrong password", "unknown user", "inactive user", "unusable password"])
def test_refusals_are_alike_and_counted(engine: Engine, alice: str, case: str) -> None:
    email, password = "alice@example.com", PASSWORD
    if case == "wrong password":
        password = "nope"
    elif case == "unknown user":
        email = "nobody@example.com"
    else:
        values = {"is_active": False} if case == "inactive user" else {"password": make_password(None)}
        with engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == 2).values(**values))
    assert logins.authenticate(engine, email, password, "198.51.100.1") is None
    with engine.connect() as conn:
        assert conn.execute(select(failures.c.email, failures.c.client)).all() == [(email, "198.51.100.1")]


def test_the_throttle_refuses_an_account_then_forgets_it_after_a_success(engine: Engine, alice: str) -> None:
    for _ in range(throttle.PER_ACCOUNT):
        assert logins.authenticate(engine, "alice@example.com", "nope", "198.51.100.1") is None
    with pytest.raises(TooManyLogins) as refused:
        logins.authenticate(engine, "alice@example.com", PASSWORD, "198.51.100.2")
    retry = refused.value.retry_after
    assert 1 <= retry <= 300 and refused.value.detail == f"Too many failed logins. Try again in {retry} seconds."
    assert refused.value.headers() == {"Retry-After": str(retry)} and refused.value.status == 429
    with engine.begin() as conn:   # the window passes
        conn.execute(update(failures).values(at=datetime.now(UTC) - throttle.WINDOW - timedelta(seconds=1)))
    assert logins.authenticate(engine, "alice@example.com", PASSWORD, "198.51.100.2") is not None
    with engine.connect() as conn:
        assert conn.execute(select(failures.c.id).where(failures.c.email == "alice@example.com")).all() == []


def test_the_throttle_refuses_a_client_failing_on_many_accounts(engine: Engine, alice: str) -> None:
    with engine.begin() as conn:
        now = datetime.now(UTC)
        conn.execute(insert(failures), [{"email": f"guess{n}@example.com", "client": "203.0.113.9",  # type: ignore[arg-type]
                                         "at": now - timedelta(seconds=n)} for n in range(throttle.PER_CLIENT)])
    with pytest.raises(TooManyLogins):
        logins.authenticate(engine, "alice@example.com", PASSWORD, "203.0.113.9")
    assert logins.authenticate(engine, "alice@example.com", PASSWORD, "203.0.113.10") is not None


def test_the_client_is_forwarded_only_by_a_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    assert throttle.client_of("127.0.0.1", "203.0.113.5, 10.0.0.1") == "203.0.113.5"
    assert throttle.client_of("198.51.100.7", "203.0.113.5") == "198.51.100.7"
    monkeypatch.setenv(throttle.TRUSTED_ENV, "10.0.0.1")
    assert throttle.client_of("127.0.0.1", "203.0.113.5") == "127.0.0.1"
    assert throttle.client_of("10.0.0.1", "203.0.113.5") == "203.0.113.5"
