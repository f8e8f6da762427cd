"""``POST /api/accounts/password/`` ``{"old_password", "new_password"}``: the monolith's ``PasswordChangeApi``
(``legacy_monolith/accounts/services.py::user_password_change``), on the service's users.

In the monolith's order, each answer as it gives it:

1. who is calling (a token, or a session: its CSRF check), 401/403 as DRF answers; the body
   (``PasswordChangeSerializer``: both fields required, up to 128 characters, spaces kept), 400;
2. the login throttle (:mod:`.throttle`, on the login's own rows): a throttled account (the user's normalised
   username, their email) or client is 429 before the old password is checked. A wrong old password is a failed
   login for both, a right one forgets the account's failures: a stolen session or token must not be a way to
   guess the password without limit (the monolith's decision, the same here);
3. 400 with both fields' errors at once, as Django's ``PasswordChangeForm`` gives them: ``old_password`` wrong
   (Django's message), ``new_password`` failing the validators for this user (:mod:`.password_validation`). A right
   old password whose hash is due for an upgrade is re-hashed and stored even then, as Django's ``check_password``
   does;
4. the new hash stored, only over the hash the old password was verified against: a change that raced this one is
   not overwritten (the old password is checked again against what is there now, once);
5. 204, no body. The API token is kept (DRF does not rotate it). The user's other sessions end as Django's do:
   the monolith flushes a session whose auth hash its copy of the user no longer matches, once the reverse sync
   brings the new hash.

**The session that made the change stays logged in.** Sessions are the monolith's, and so is the secret their
auth hash is made with; a session caller's session is opened again there for the user with the new hash, through
the monolith's internal session API (:meth:`.sessions.Sessions.log_in`, the caller's cookie passed on): a new
session key, answered here as the monolith's ``update_session_auth_hash`` answers it (Set-Cookie of the session
alone). Once the accounts are cut over, the monolith's copy holds the new hash only when the reverse sync has
brought it (~0.5 s); the session API waits for that before it opens the session (``wait_for_the_copy``, at most
``ACCOUNTS_SYNC_WAIT``: docs/accounts_decision.md, "A hash upgraded at login meets the sync lag"), so the session's
next request is not flushed by the auth-hash check. The same API's login rotates the CSRF cookie; Django's password
change does not, and a cookie-kept CSRF secret needs no server state, so that ``Set-Cookie`` is not passed on: the
caller keeps the CSRF cookie it has, as with the monolith.

What the re-opening does not keep: ``login()`` starts the session afresh where ``update_session_auth_hash`` keeps
its data (in this shop: a cart merge the cart service deferred at login, ``cart.gateway.PENDING_MERGE``, and a flash
message not shown yet). A method of the session API doing exactly ``update_session_auth_hash`` would keep it; it is
the monolith's ``accounts/internal.py`` to add.

A monolith that does not answer (503 ``session_unavailable``): the change is undone (the old hash put back over the
new one), so that the 503's "nothing was changed" holds and the same request can be tried again.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial as bind
from typing import Any, Final, cast

from sqlalchemy import Engine, Table, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from . import csrf, password_validation, passwords, services, throttle, validation
from .authentication import uses_token_scheme
from .exceptions import NotAuthenticated, Unavailable, ValidationFailed
from .fields import collect, ensure_mapping, field_value
from .identity import Caller
from .logins import USER_FIELDS, client_of, normalise_email, preferred_iterations, user_answer
from .models import User
from .parsers import read_body
from .resources import State, answer_session

users = cast(Table, User.__table__)
# Django's PasswordChangeForm's message for a wrong old password.
OLD_PASSWORD_INCORRECT: Final = "Your old password was entered incorrectly. Please enter it again."  # noqa: S105
# The monolith's PasswordChangeApi's docstring, which DRF's OPTIONS shows.
DESCRIPTION: Final = ("The caller changes their password: the old one, then the new one, which must pass the "
                      "password rules.")
# How often the old password is checked against a hash that changed while it was being checked.
ATTEMPTS: Final = 2


def password_fields(data: Any) -> tuple[str, str]:
    """``PasswordChangeSerializer``'s validated data: ``(old_password, new_password)``."""
    body: Mapping[str, Any] = ensure_mapping(data)

    def password(name: str) -> str:
        return validation.password_field(field_value(body, name, partial=False, required=True))

    values = collect([(name, bind(password, name)) for name in ("old_password", "new_password")])
    return values["old_password"], values["new_password"]


def user_row(engine: Engine, user_id: int) -> Any | None:
    """The users row of :data:`~.logins.USER_FIELDS` (the password hash included), or None."""
    with engine.connect() as conn:
        return conn.execute(select(*(users.c[name] for name in USER_FIELDS)).where(users.c.id == user_id)).first()


def change(engine: Engine, user_id: int, old_password: str, new_password: str, client: str,
           iterations: int) -> tuple[str, str]:
    """Steps 2 to 4 (slow: the hashes run outside any transaction): ``(the hash replaced, the new hash)``; raises
    :class:`~.errors.TooManyLogins` or :class:`~.exceptions.ValidationFailed`."""
    for _ in range(ATTEMPTS):
        row = user_row(engine, user_id)
        if row is None:  # deleted in between: the caller is nobody now
            raise NotAuthenticated()
        account = normalise_email(row.username)
        with engine.connect() as conn:
            throttle.check(conn, account, client)
        ok, upgraded = passwords.verify_and_upgrade(old_password, row.password, iterations=iterations)
        with engine.begin() as conn:
            if ok:
                throttle.succeeded(conn, account)
            else:
                throttle.failed(conn, account, client)
        errors: dict[str, list[Any]] = {} if ok else {"old_password": [OLD_PASSWORD_INCORRECT]}
        problems = password_validation.validate(new_password, email=row.email, first_name=row.first_name,
                                                last_name=row.last_name, username=row.username)
        if problems:
            errors["new_password"] = problems
        if errors:
            if upgraded is not None:
                services.password_replace(engine, user_id, row.password, upgraded)
            raise ValidationFailed(errors)
        encoded = passwords.hash_password(new_password, iterations=iterations)
        if services.password_replace(engine, user_id, row.password, encoded):
            return row.password, encoded
    raise ValidationFailed({"old_password": [OLD_PASSWORD_INCORRECT]})  # changed under it each time


async def password_change(request: Request, caller: Caller | None, state: State) -> Response:
    if caller is None:  # the view's permission (IsAuthenticated) has refused anonymous callers
        raise NotAuthenticated()
    old_password, new_password = password_fields((await read_body(request))())
    replaced, encoded = await run_in_threadpool(change, state.engine, caller.user_id, old_password, new_password,
                                                client_of(request), preferred_iterations())
    cookie = request.headers.get("cookie")
    if not uses_token_scheme(request) and state.sessions.names_a_session(cookie):
        # A caller the session authenticated (by its cookie here, or the router's identity token made from it).
        row = await state.read(user_row, state.engine, caller.user_id)
        if row is not None:  # (deleted since: no session to keep)
            try:
                answer = await state.sessions.log_in(cookie, user_answer(row), request.scope.get("request_id"))
            except Unavailable:
                await state.write(services.password_replace, state.engine, caller.user_id, encoded, replaced)
                raise
            answer.set_cookies.pop(csrf.COOKIE, None)  # login() rotated it; a password change does not
            answer_session(request, answer)
    return Response(status_code=204)
