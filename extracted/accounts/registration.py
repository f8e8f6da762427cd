"""``POST /api/accounts/register/``: the monolith's ``RegisterApi`` (``services.user_register``, then
``services.user_login``), on the service's users.

In the monolith's order: the body (``RegisterSerializer``: :func:`.validation.registration`), the password's
validators (400 ``{"password": [...]}``, Django's messages: :mod:`.password_validation`), the email already taken
(400 ``{"email": [...]}``), the user created with the password hashed as Django hashes it; then a login exactly as
``POST /api/accounts/login/`` does (the throttle, the password checked again, ``last_login``, the session opened at
the monolith, the API token): 201 ``{"token", "user"}``.

A session that cannot be opened (the monolith does not answer: 503) undoes the registration, so that what the 503
says holds (nothing was changed) and the same registration can be tried again; the monolith, one process, cannot
fail between the two.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from . import password_validation, passwords, services, validation
from .exceptions import Unavailable, ValidationFailed
from .identity import Caller
from .logins import INVALID, authenticate, client_of, log_in, normalise_email, preferred_iterations, session_user
from .parsers import read_body
from .resources import State
from .responses import json_response


async def register(request: Request, caller: Caller | None, state: State) -> Response:
    fields = validation.registration((await read_body(request))())
    email, password = normalise_email(fields["email"]), fields["password"]
    problems = await run_in_threadpool(password_validation.validate, password, email=email,
                                       first_name=fields["first_name"], last_name=fields["last_name"])
    if problems:
        raise ValidationFailed({"password": problems})
    if await state.read(services.email_taken, state.engine, email):
        raise ValidationFailed({"email": [services.EMAIL_TAKEN]})
    encoded = await run_in_threadpool(passwords.hash_password, password, iterations=preferred_iterations())
    user_id = await state.write(services.user_register, state.engine, email=email, encoded_password=encoded,
                                first_name=fields["first_name"], last_name=fields["last_name"])
    row = await run_in_threadpool(authenticate, state.engine, email, password, client_of(request))
    if row is None:  # deactivated or re-passworded in between: the monolith's user_login says so
        raise ValidationFailed({"non_field_errors": [INVALID]})
    try:
        token = await log_in(request, state, row)
    except Unavailable:
        await state.write(services.user_delete, state.engine, user_id)
        raise
    return json_response({"token": token, "user": session_user(row)}, status=201)
