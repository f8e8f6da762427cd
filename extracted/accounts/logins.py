"""Logging in at the accounts service: Django's ``ModelBackend.authenticate`` on the service's users, behind the
login throttle (:mod:`.throttle`); the API's ``POST /api/accounts/login/`` and ``/logout/`` (the monolith's
``LoginApi`` and ``LogoutApi``: an API token, and the caller's session, which stays the monolith's, logged in or out
there through its session API, :mod:`.sessions`); and the internal ``POST /api/accounts/internal/authenticate/``
the monolith's login page calls through its accounts gateway once the service owns the accounts.

What Django does, step by step, and so does :func:`authenticate`:

1. the throttle is asked first: a refused account or client is 429 whatever the password;
2. the user is found by ``username`` (the normalised email, exactly); none: the default hasher still runs once
   (Django's ``UserModel().set_password``: a missing user takes as long as a wrong password);
3. the password is verified (:mod:`.passwords`) and, when Django's setter would be called, the new encoding is
   stored, only over the encoding it replaces (a password changed meanwhile is not overwritten);
4. an inactive user is refused like a wrong password (``user_can_authenticate``);
5. a failure is counted; a success forgets the account's failures and stamps ``last_login`` (Django's
   ``update_last_login`` on ``user_logged_in``).

The slow part (the hash, ~0.3 s at 1,000,000 iterations) runs outside any transaction: a write transaction held
across it would stall every other writer (SQLite has one at a time). Two racing failures may both pass the
check: the throttle is approximate by a request or two, as the monolith's is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import Connection, Engine, Table, and_, select, update
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from . import passwords, services, throttle, validation
from .exceptions import NotAuthenticated, NotFound, ValidationFailed
from .fields import char_field, collect, ensure_mapping, field_value
from .identity import Caller
from .models import Token, User
from .parsers import read_body
from .rendering import user_dict
from .resources import Resource, State, answer_session
from .responses import json_response, render_datetime

users = cast(Table, User.__table__)
tokens = cast(Table, Token.__table__)
# The monolith's preferred hasher's iteration count (its PASSWORD_HASHERS: Django 5.2's PBKDF2PasswordHasher by
# default). A monolith that configures another count sets the same here, or every login would re-hash.
ITERATIONS_ENV: Final = "ACCOUNTS_PBKDF2_ITERATIONS"
INVALID: Final = "Unable to log in with provided credentials."
USER_FIELDS: Final = ("id", "password", "last_login", "is_superuser", "username", "first_name", "last_name", "email",
                      "is_staff", "is_active", "date_joined")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def preferred_iterations() -> int:
    raw = os.environ.get(ITERATIONS_ENV, "").strip()
    if not raw:
        return passwords.PBKDF2_ITERATIONS
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{ITERATIONS_ENV}: {raw!r} is not a whole number from 1 up")
    return int(raw)


def _now(conn: Connection) -> datetime:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if conn.dialect.name in ("mysql", "mariadb") else now


def _user(conn: Connection, **where: Any) -> Any | None:
    columns = [users.c[name] for name in USER_FIELDS]
    return conn.execute(select(*columns).where(and_(*(users.c[k] == v for k, v in where.items())))).first()


def authenticate(engine: Engine, email: str, password: str, client: str) -> Any | None:
    """The user's row (:data:`USER_FIELDS`) after a successful login, or None; :class:`~.errors.TooManyLogins`."""
    email = normalise_email(email)
    with engine.connect() as conn:
        throttle.check(conn, email, client)
        user = _user(conn, username=email)
    iterations = preferred_iterations()
    if user is None:
        passwords.hash_password(password, iterations=iterations)  # as long as a wrong password takes
        ok, upgraded = False, None
    else:
        ok, upgraded = passwords.verify_and_upgrade(password, user.password, iterations=iterations)
    with engine.begin() as conn:
        if user is not None and upgraded is not None:
            conn.execute(update(users).where(and_(users.c.id == user.id, users.c.password == user.password))
                         .values(password=upgraded))
        if not ok or user is None or not user.is_active:
            throttle.failed(conn, email, client)
            return None
        throttle.succeeded(conn, email)
        conn.execute(update(users).where(users.c.id == user.id).values(last_login=_now(conn)))
        return _user(conn, id=user.id)


def _credentials(data: Any) -> tuple[str, str, str]:
    body: Mapping[str, Any] = ensure_mapping(data)

    def get(name: str) -> Any:
        return field_value(body, name, partial=False, required=True)

    values = collect([
        ("email", lambda: char_field(get("email"), max_length=254)),
        ("password", lambda: _password(get("password"))),
        ("client", lambda: char_field(field_value(body, "client", partial=False, required=False), required=False,
                                      max_length=throttle.MAX_CLIENT_LENGTH, allow_blank=True)),
    ])
    return values["email"], values["password"], values.get("client", "")


def _password(data: Any) -> str:
    """DRF's ``CharField(max_length=128, trim_whitespace=False)``: spaces are part of a password (so only ``""`` is
    blank, and nothing is stripped); the field's other checks are ``char_field``'s."""
    if not isinstance(data, str) or data == "":
        return char_field(data, max_length=128)
    char_field(data if data.strip() else "x" * len(data), max_length=128)  # length, NUL, surrogates
    return data


def user_answer(row: Any) -> dict[str, Any]:
    """The whole user, as the monolith's gateway builds a ``User`` from it (its password hash included: the
    session's auth hash is made from it)."""
    out = {name: getattr(row, name) for name in USER_FIELDS}
    for name in ("last_login", "date_joined"):
        out[name] = render_datetime(out[name]) if out[name] is not None else None
    for name in ("is_superuser", "is_staff", "is_active"):
        out[name] = bool(out[name])
    return out


async def internal_authenticate(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/accounts/internal/authenticate/`` ``{email, password, client}`` (``X-Service-Token`` =
    ``ACCOUNTS_SERVICE_TOKEN``): 200 ``{"user": {...}}``; 400 for bad credentials (the API's body); 429."""
    email, password, client = _credentials((await read_body(request))())
    row = await run_in_threadpool(authenticate, state.engine, email, password, client)
    if row is None:
        raise ValidationFailed({"non_field_errors": [INVALID]})
    return json_response({"user": user_answer(row)})


def token_owner(engine: Engine, key: str) -> Any | None:
    """The users row (:data:`USER_FIELDS`) of the token ``key``, or None when no token has that key."""
    with engine.connect() as conn:
        found = conn.execute(select(tokens.c.user_id).where(tokens.c.key == key)).first()
        return None if found is None else _user(conn, id=found.user_id)


async def internal_token(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/accounts/internal/token/`` ``{"key"}`` (``X-Service-Token`` = ``ACCOUNTS_SERVICE_TOKEN``): the
    token's user (as :func:`internal_authenticate` answers it), or 404 ``{"detail": "Invalid token."}``. The
    monolith's token authentication asks it, in remote mode, of a key its copy does not hold: a token issued here
    a moment ago, which the reverse sync has not brought yet (whoever was just told their token must not be
    refused by the monolith's remaining API in the meantime)."""
    body: Mapping[str, Any] = ensure_mapping((await read_body(request))())
    key = collect([("key", lambda: char_field(field_value(body, "key", partial=False, required=True),
                                              max_length=40))])["key"]
    row = None
    if key.isascii() and key.isalnum():
        row = await run_in_threadpool(token_owner, state.engine, key)
    if row is None:
        raise NotFound("Invalid token.")
    return json_response({"user": user_answer(row)})


# --- the API's login and logout -------------------------------------------------------------------------------------


class PublicResource(Resource):
    """A view with no authentication at all (``authentication_classes = []``: the monolith's ``LoginApi`` and
    ``RegisterApi``, so that a stale cookie or token cannot stand in the way of signing in): nobody is asked who
    the caller is, and the answer does not vary by cookie unless the session is logged in."""

    async def caller(self, request: Request, state: State) -> Caller | None:
        return None


def client_of(request: Request) -> str:
    """Who the throttle counts a failure against: the peer, or the first ``X-Forwarded-For`` hop of a trusted
    proxy (the router)."""
    peer = request.client.host if request.client else ""
    return throttle.client_of(peer, request.headers.get("x-forwarded-for", ""))


def session_user(row: Any) -> dict[str, Any]:
    """A users row of :data:`USER_FIELDS` as ``UserSerializer`` renders it."""
    return user_dict((row.id, row.email, row.first_name, row.last_name, row.is_staff, row.date_joined))


async def log_in(request: Request, state: State, row: Any) -> str:
    """What the monolith's ``user_login`` does once the password is right: the caller's session logged in (at the
    monolith, with the caller's cookie: its Set-Cookie answered here), then the user's API token, got or
    created. A monolith that does not answer: 503, and no token was made."""
    answer = await state.sessions.log_in(request.headers.get("cookie"), user_answer(row),
                                         request.scope.get("request_id"))
    answer_session(request, answer)
    return str(await state.write(services.token_for, state.engine, int(row.id)))


async def login(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/accounts/login/`` ``{email, password}``: 200 ``{"token", "user"}``; 400 for bad credentials
    (DRF's ``obtain_auth_token`` message); 429 while the throttle refuses the account or the client."""
    email, password = validation.credentials((await read_body(request))())
    row = await run_in_threadpool(authenticate, state.engine, email, password, client_of(request))
    if row is None:
        raise ValidationFailed({"non_field_errors": [INVALID]})
    token = await log_in(request, state, row)
    return json_response({"token": token, "user": session_user(row)})


async def logout(request: Request, caller: Caller | None, state: State) -> Response:
    """``POST /api/accounts/logout/`` (authenticated): the caller's session logged out at the monolith (when they
    sent a session cookie: Django answers its removal, even of a key it does not know), then every API token of
    theirs deleted; 204. Django's
    ``logout()`` always looks at the session: the answer varies by cookie."""
    if caller is None:  # the view's permission (IsAuthenticated) has refused anonymous callers
        raise NotAuthenticated()
    cookie = request.headers.get("cookie")
    if state.sessions.names_a_session(cookie):
        answer_session(request, await state.sessions.log_out(cookie, request.scope.get("request_id")))
    await state.write(services.tokens_delete, state.engine, caller.user_id)
    return Response(status_code=204, headers={"Vary": "Cookie"})
