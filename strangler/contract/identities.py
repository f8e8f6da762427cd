"""The callers a generated request is sent as: anonymous, a user, staff, a token nobody issued (``bad-token``)
and a credential the monolith issued but no longer takes (``revoked-token``: its user deactivated, as a shop
bans an account; Django REST framework's token authentication answers 401 "User inactive or deleted.").

The user and the staff member are made in the monolith's scratch copy (never in the real database), through
Django's own user model, with the credential the monolith's API takes: a token when Django REST framework's
token authentication (or a subclass) is configured, else a session. Both sides get the same credential; the
service side learns who it is from the identity token its router mints, exactly as in production.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from strangler.contract.exceptions import ContractError

EMAILS = {"user": "strangler-contract-user@example.com", "staff": "strangler-contract-staff@example.com",
          "revoked-token": "strangler-contract-revoked@example.com"}


@dataclass(frozen=True)
class Credentials:
    scheme: str  # "token" or "session"
    headers: dict[str, tuple[str, str]]  # identity -> (header, value); anonymous absent

    def header(self, identity: str) -> tuple[str, str] | None:
        return self.headers.get(identity)

    def placeholder(self, identity: str) -> tuple[str, str] | None:
        """What a person reproducing a request puts in its place (``$STAFF_TOKEN``)."""
        found = self.headers.get(identity)
        if found is None:
            return None
        name, value = found
        variable = "$" + identity.upper().replace("-", "_") + ("_TOKEN" if self.scheme == "token" else "_SESSION")
        if identity in ("bad-token", "revoked-token"):
            return found  # a made-up or refused credential: shown as it was sent
        keyword = value.split(" ", 1)[0] + " " if self.scheme == "token" else value.split("=", 1)[0] + "="
        return name, keyword + variable


def create(alias: str) -> Credentials:
    """Makes the user and the staff member in the database ``alias`` (a scratch copy) and their credentials."""
    from django.contrib.auth import get_user_model

    model: Any = get_user_model()
    users = {}
    for identity, email in EMAILS.items():
        fields: dict[str, Any] = {model.USERNAME_FIELD: email}
        for name in getattr(model, "REQUIRED_FIELDS", ()):
            fields.setdefault(name, email if "mail" in name else "contract")
        manager = model._default_manager.db_manager(alias)
        user = manager.filter(**{model.USERNAME_FIELD: email}).first()
        if user is None:
            user = manager.create_user(password=secrets.token_urlsafe(16), **fields)
        user.is_staff = identity == "staff"
        user.is_active = True
        user.save(using=alias)  # active while its credential is made (a session needs its auth hash)
        users[identity] = user
    token_auth = _token_authentication()
    if token_auth is not None:
        keyword, token_model = token_auth
        headers = {}
        for identity, user in users.items():
            token = token_model.objects.using(alias).filter(user=user).first() or \
                token_model.objects.using(alias).create(user=user)
            headers[identity] = ("Authorization", f"{keyword} {token.key}")
        headers["bad-token"] = ("Authorization", f"{keyword} {secrets.token_hex(20)}")
        credentials = Credentials("token", headers)
    else:
        credentials = _sessions(alias, users)
    revoked = users["revoked-token"]
    revoked.is_active = False  # its credential stays; the monolith no longer takes it
    revoked.save(using=alias)
    return credentials


def _token_authentication() -> tuple[str, Any] | None:
    try:
        from rest_framework.authentication import TokenAuthentication
        from rest_framework.settings import api_settings
    except ImportError:
        return None
    for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        if isinstance(cls, type) and issubclass(cls, TokenAuthentication):
            cls = cast(Any, cls)
            try:
                return str(cls.keyword), cls().get_model()
            except (LookupError, ImportError, RuntimeError):
                return None
    return None


def _sessions(alias: str, users: dict[str, Any]) -> Credentials:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    if "django.contrib.sessions" not in settings.INSTALLED_APPS:
        raise ContractError("the monolith has neither token authentication (Django REST framework) nor "
                            "django.contrib.sessions: the contract check cannot act as a user or staff")
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    backend = settings.AUTHENTICATION_BACKENDS[0]
    cookie = settings.SESSION_COOKIE_NAME
    headers = {}
    for identity, user in users.items():
        key = secrets.token_hex(16)
        data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: backend, HASH_SESSION_KEY: user.get_session_auth_hash()}
        Session.objects.using(alias).create(session_key=key, session_data=SessionStore().encode(data),
                                            expire_date=timezone.now() + timedelta(days=1))
        headers[identity] = ("Cookie", f"{cookie}={key}")
    headers["bad-token"] = ("Cookie", f"{cookie}={secrets.token_hex(16)}")
    return Credentials("session", headers)
