"""The accounts gateway: how the monolith's remaining code reaches the accounts (branch by abstraction).

Once the accounts service owns the users, their passwords and tokens (the accounts plan's cutover), the only
legacy code that still writes them is the login page: it checks a password (and Django may re-hash it), counts a
failure for the login throttle, and stamps ``last_login``. It asks :func:`authenticator` for the implementation
in force:

- :class:`LocalAccounts`: the monolith's own tables (Django's ``authenticate`` behind ``accounts/throttle.py``);
- :class:`RemoteAccounts`: the accounts service's internal ``POST /api/accounts/internal/authenticate/``
  (``{email, password, client}``; ``X-Service-Token`` = ``ACCOUNTS_SERVICE_TOKEN``), which throttles, verifies,
  upgrades the hash and stamps ``last_login`` at the service, and answers the user as it is there (its
  password hash included: the session's auth hash is made from it). The page then opens the session here, as
  always: sessions stay the monolith's (docs/accounts_decision.md). Anything but an answer it understands is
  :class:`~legacy_monolith.exceptions.AccountsUnavailable` (503): never a local fallback.

Django's own ``update_last_login`` receiver is replaced by :func:`stamp_last_login`, which steps aside in remote
mode: the monolith's copy of the users refuses writes after the cutover, and the service has stamped it.

The switch is ``accounts_gateway.remote`` (``python manage.py accounts_gateway local|remote|status``; the accounts
plan's hook at the cutover, its undo at a rollback).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any, Final, Protocol

import httpx
from django.conf import settings
from django.contrib.auth.models import User, update_last_login
from django.core.cache import cache
from django.utils.dateparse import parse_datetime
from rest_framework.authtoken.models import Token

from legacy_monolith import switches
from legacy_monolith.accounts import throttle
from legacy_monolith.accounts.services import authenticate_throttled, normalise_email
from legacy_monolith.exceptions import AccountsUnavailable, TooManyLogins
from legacy_monolith.gateways import pooled_client, remote_settings_problems, response_json

SWITCH: Final = "accounts_gateway.remote"
log = logging.getLogger(__name__)
AUTHENTICATE: Final = "/api/accounts/internal/authenticate/"
TOKEN_LOOKUP: Final = "/api/accounts/internal/token/"  # noqa: S105 - a path
# Marks a User built from the service's answer (:func:`user_from`): the service stamped its last_login already.
FROM_THE_SERVICE: Final = "stamped_by_the_accounts_service"
USER_FIELDS: Final = ("id", "password", "last_login", "is_superuser", "username", "first_name", "last_name", "email",
                      "is_staff", "is_active", "date_joined")


class Accounts(Protocol):
    def authenticate(self, request: Any, *, email: str, password: str) -> User | None: ...

    def token_user(self, key: str) -> User | None: ...


class LocalAccounts:
    def authenticate(self, request: Any, *, email: str, password: str) -> User | None:
        return authenticate_throttled(request, email=email, password=password)

    def token_user(self, key: str) -> User | None:
        token = Token.objects.select_related("user").filter(key=key).first()
        return token.user if token is not None else None


class RemoteAccounts:
    def __init__(self) -> None:
        self.client = pooled_client(settings.ACCOUNTS_SERVICE_URL.rstrip("/"), settings.ACCOUNTS_SERVICE_TIMEOUT)

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            return self.client.post(path, json=body, headers={"X-Service-Token": settings.ACCOUNTS_SERVICE_TOKEN})
        except httpx.HTTPError as exc:
            raise AccountsUnavailable(f"The accounts service did not answer ({type(exc).__name__}).") from None

    def authenticate(self, request: Any, *, email: str, password: str) -> User | None:
        response = self._post(AUTHENTICATE, {"email": normalise_email(email), "password": password,
                                             "client": throttle.client_of(request)})
        answer = response_json(response)
        if response.status_code == 429 and isinstance(answer, dict):
            retry = response.headers.get("Retry-After", "1")
            raise TooManyLogins(str(answer.get("detail") or "Too many failed logins."),
                                int(retry) if retry.isdigit() else 1)
        if response.status_code == 400:
            return None
        if response.status_code != 200 or not isinstance(answer, dict) or not isinstance(answer.get("user"), dict):
            raise AccountsUnavailable(f"The accounts service answered {response.status_code} to a login.")
        user = user_from(answer["user"])
        wait_for_the_copy(user)
        return user

    def token_user(self, key: str) -> User | None:
        """The user of a token as the service, which owns the tokens, has it; None when it does not know the key (a
        logged-out token, or one that never was). What it vouched for is kept ``ACCOUNTS_TOKEN_CACHE_SECONDS``
        (Django's cache, per process); a refusal is not kept, so that a token issued a moment ago is taken at once."""
        cached = f"accounts-token:{hashlib.sha256(key.encode()).hexdigest()}"
        data = cache.get(cached)
        if not isinstance(data, dict):
            response = self._post(TOKEN_LOOKUP, {"key": key})
            answer = response_json(response)
            if response.status_code == 404:
                return None
            if response.status_code != 200 or not isinstance(answer, dict) or not isinstance(answer.get("user"),
                                                                                             dict):
                raise AccountsUnavailable(f"The accounts service answered {response.status_code} to a token "
                                          "look-up.")
            data = answer["user"]
            cache.set(cached, data, settings.ACCOUNTS_TOKEN_CACHE_SECONDS)
        return user_from(data)

    def probe(self) -> str | None:
        """None when the service answers and takes the token (a login nobody can pass: 400 or 429)."""
        try:
            response = self.client.post(AUTHENTICATE, json={"email": "", "password": "", "client": "probe"},
                                        headers={"X-Service-Token": settings.ACCOUNTS_SERVICE_TOKEN})
        except httpx.HTTPError as exc:
            return f"the accounts service at {settings.ACCOUNTS_SERVICE_URL} did not answer ({type(exc).__name__})"
        if response.status_code in (400, 429):
            return None
        return f"the accounts service answered {response.status_code} to an authorised probe"


def user_from(data: dict[str, Any]) -> User:
    """The service's user as an (unsaved) ``User``: what ``login()`` puts in the session (its id, and the auth hash
    made from its password hash). The monolith's copy of the row comes with the reverse sync."""
    if not isinstance(data.get("id"), int) or not isinstance(data.get("password"), str):
        raise AccountsUnavailable("The accounts service answered a user without an id or a password hash.")
    values = {name: data.get(name) for name in USER_FIELDS if name in data}
    for name in ("last_login", "date_joined"):
        if isinstance(values.get(name), str):
            values[name] = parse_datetime(values[name])
    user = User(**values)
    user._state.adding = False  # it exists (at the service): nothing here may INSERT it
    setattr(user, FROM_THE_SERVICE, True)
    return user


def wait_for_the_copy(user: User) -> None:
    """Until the monolith's copy of the user holds the password hash the service answered (a login that upgraded
    the hash, or a user new there), at most ``ACCOUNTS_SYNC_WAIT`` seconds: the session about to open carries an
    auth hash made from it, and Django flushes a session whose hash its copy of the user does not match, which
    would log the user out on the next request (docs/accounts_decision.md). Still behind at the bound: the
    session opens anyway (at worst one more login, with nothing left to upgrade)."""
    deadline = time.monotonic() + settings.ACCOUNTS_SYNC_WAIT
    while not User.objects.filter(pk=user.pk, password=user.password).exists():
        if time.monotonic() >= deadline:
            log.warning("user %s: the monolith's copy is behind the accounts service after %.1fs; opening the "
                        "session anyway", user.pk, settings.ACCOUNTS_SYNC_WAIT)
            return
        time.sleep(0.05)


def remote_configuration_problems() -> list[str]:
    return remote_settings_problems("ACCOUNTS_SERVICE_URL", "ACCOUNTS_SERVICE_TOKEN")


def authenticator() -> Accounts:
    return RemoteAccounts() if switches.is_enabled(SWITCH) else LocalAccounts()


def stamp_last_login(sender: Any, user: User, **kwargs: Any) -> None:
    """Django's ``update_last_login``, except in remote mode (the service has stamped it, and the monolith's copy
    of the users takes no writes but the sync's), and for a user the service answered (its login stamped it there;
    the copy here may not even hold the user yet, a registration the sync has not brought)."""
    if not switches.is_enabled(SWITCH) and not getattr(user, FROM_THE_SERVICE, False):
        update_last_login(sender, user, **kwargs)
