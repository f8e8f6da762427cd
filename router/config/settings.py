"""The schema of a routes file's top level (``FileSpec``) and of its process-level settings: ``admin:`` (the
admin API), ``identity:`` (the identity bridge) and ``canary:`` (how a canary tells people apart)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from router.config.backends import BackendSpec
from router.config.routes import ParitySpec, RouteSpec
from router.config.values import (
    MAX_BACKENDS,
    MAX_ROUTES,
    NAME,
    SIZE,
    UNITS,
    check_env_name,
    check_listen,
    port_ok,
    split_url,
)
from router.routing.headers import NEVER_MATCHABLE
from router.validation import TOKEN, Spec, header_name, show

Listen = Annotated[str, AfterValidator(check_listen)]  # host:port
EnvName = Annotated[str, AfterValidator(check_env_name)]  # the name of an environment variable


class AdminSpec(Spec):
    listen: Listen = "127.0.0.1:8081"
    token_env: EnvName = "ROUTER_ADMIN_TOKEN"  # noqa: S105 - names the variable holding the token


FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,7}$")


def field_path(value: str) -> str:
    """A dotted path into the look-up's JSON answer (``id``, ``user.pk``)."""
    if not FIELD_PATH.match(value):
        raise ValueError(f"{show(value)} is not a field path (names joined by dots, e.g. id or user.pk)")
    return value


FieldPath = Annotated[str, AfterValidator(field_path)]


class IdentitySpec(Spec):
    resolve_url: str
    cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    token_ttl: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # How long a look-up may take. Its backend answers /me/ behind whatever else it is doing: the demo's monolith
    # (two sync workers) took over 2 s (the bound before it was a setting) while a burst of logins hashed passwords
    # (PBKDF2, 1,000,000 iterations each), and two browsing requests were refused 503 identity_unavailable.
    timeout: Annotated[float, Field(gt=0, le=60)] = 5.0
    secret_env: EnvName = "ROUTER_IDENTITY_SECRET"  # noqa: S105 - names the variable holding the secret
    session_cookie: str = "sessionid"
    # Where the look-up's JSON answer holds the user's id and staff flag (a null id: anonymous, cached).
    user_id_field: FieldPath = "id"
    staff_field: FieldPath | None = "is_staff"
    # A look-up that fails (monolith down, timeout, 5xx, an answer without the id field) for a caller who sent
    # a credential: "refuse" answers 503 identity_unavailable (never serve a known user as a stranger);
    # "anonymous" lets the request on without an identity.
    on_failure: Literal["refuse", "anonymous"] = "refuse"

    @field_validator("resolve_url")
    @classmethod
    def _resolve_url(cls, value: str) -> str:
        if value.startswith("/"):   # a path: asked of the backend the table sends GET of it to
            segments = value.split("?")[0].split("/")
            if "?" in value or "#" in value or value.startswith("//") or ".." in segments or "." in segments \
                    or "" in segments[1:-1] or not value.isascii() or any(c.isspace() for c in value):
                raise ValueError(f"{show(value)} is not a plain path (e.g. /api/accounts/me/: no query, no dot or "
                                 "empty segments)")
            return value
        parts = split_url(value)
        if parts is None or not port_ok(parts):
            raise ValueError(f"{show(value)} is neither an http(s) URL with a host nor a path "
                             "(e.g. http://127.0.0.1:8000/me/ or /me/)")
        if "@" in parts.netloc or parts.fragment:
            raise ValueError(f"{show(value)}: no credentials or fragment here (the caller's own credentials are "
                             "what is sent)")
        return value

    @field_validator("session_cookie")
    @classmethod
    def _cookie(cls, value: str) -> str:
        if not TOKEN.match(value) or len(value) > 256:
            raise ValueError(f"{show(value)} is not a cookie name")
        return value


CANARY_KEY = re.compile(r"^(user|client|cookie:.+|header:.+)$")


def canary_key(value: str) -> str:
    if not CANARY_KEY.match(value):
        raise ValueError(f"{show(value)} is not a canary key (user, cookie:NAME, header:NAME or client)")
    kind, _, name = value.partition(":")
    if kind == "cookie" and (not TOKEN.match(name) or len(name) > 256):
        raise ValueError(f"{show(value)}: {show(name)} is not a cookie name")
    if kind == "header":
        header_name(name)
        if name.lower() in NEVER_MATCHABLE:
            raise ValueError(f"{show(value)}: {name} is removed before routing (hop-by-hop or identity header)")
        return f"header:{name.lower()}"
    return value


class CanarySpec(Spec):
    """How a canary tells people apart: the first of ``key`` a request has (``user``: the identity bridge's
    user id; ``cookie:NAME``; ``header:NAME``, e.g. a device id; ``client``: the address, always there).
    Unset: user, the identity bridge's session cookie (else ``sessionid``), client."""

    key: Annotated[list[Annotated[str, AfterValidator(canary_key)]] | None, Field(min_length=1, max_length=8)] = None


class FileSpec(Spec):
    version: Literal[1] = 1
    listen: Listen = "127.0.0.1:8080"
    max_body: int | str = 100 * 2**20
    default: str
    backends: Annotated[dict[str, BackendSpec], Field(max_length=MAX_BACKENDS)]
    routes: Annotated[dict[str, RouteSpec], Field(max_length=MAX_ROUTES)] = {}
    admin: AdminSpec = AdminSpec()
    identity: IdentitySpec | None = None
    canary: CanarySpec = CanarySpec()
    parity: ParitySpec = ParitySpec()

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        if isinstance(value, bool):  # Literal[1] takes True even when strict: True == 1
            raise ValueError(f"{show(value)} is not a version (expected 1)")
        return value

    @field_validator("max_body", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"{show(value)} is not a size (e.g. 10MiB, 500KB, 1048576)")
        if isinstance(value, int):
            if value < 0:
                raise ValueError(f"{value} is not a size")
            return value
        found = SIZE.match(value) if len(value) <= 64 else None
        if not found:
            raise ValueError(f"{show(value)} is not a size (e.g. 10MiB, 500KB, 1048576)")
        return int(found.group(1)) * UNITS[found.group(2)]

    @field_validator("backends")
    @classmethod
    def _backend_names(cls, value: dict[str, BackendSpec]) -> dict[str, BackendSpec]:
        if not value:
            raise ValueError("at least one backend is needed")
        for name in value:
            if not NAME.match(str(name)):
                raise ValueError(f"{show(name)} is not a name (letters, digits, '-', '_')")
        return value

    @field_validator("routes")
    @classmethod
    def _route_names(cls, value: dict[str, RouteSpec]) -> dict[str, RouteSpec]:
        for name in value:
            if not NAME.match(str(name)):
                raise ValueError(f"{show(name)} is not a name (letters, digits, '-', '_')")
        return value
