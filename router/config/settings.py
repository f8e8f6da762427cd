"""The schema of a routes file's top level (``FileSpec``) and of its process-level settings: ``admin:`` (the
admin API) and ``identity:`` (the identity bridge)."""

from __future__ import annotations

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
from router.validation import TOKEN, Spec, show

Listen = Annotated[str, AfterValidator(check_listen)]  # host:port
EnvName = Annotated[str, AfterValidator(check_env_name)]  # the name of an environment variable


class AdminSpec(Spec):
    listen: Listen = "127.0.0.1:8081"
    token_env: EnvName = "ROUTER_ADMIN_TOKEN"  # noqa: S105 - names the variable holding the token


class IdentitySpec(Spec):
    resolve_url: str
    cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    token_ttl: Annotated[float, Field(gt=0, le=3600)] = 60.0
    secret_env: EnvName = "ROUTER_IDENTITY_SECRET"  # noqa: S105 - names the variable holding the secret
    session_cookie: str = "sessionid"

    @field_validator("resolve_url")
    @classmethod
    def _resolve_url(cls, value: str) -> str:
        parts = split_url(value)
        if parts is None or not port_ok(parts):
            raise ValueError(f"{show(value)} is not an http(s) URL with a host "
                             "(e.g. http://127.0.0.1:8000/api/accounts/me/)")
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


class FileSpec(Spec):
    version: Literal[1] = 1
    listen: Listen = "127.0.0.1:8080"
    max_body: int | str = 100 * 2**20
    default: str
    backends: Annotated[dict[str, BackendSpec], Field(max_length=MAX_BACKENDS)]
    routes: Annotated[dict[str, RouteSpec], Field(max_length=MAX_ROUTES)] = {}
    admin: AdminSpec = AdminSpec()
    identity: IdentitySpec | None = None
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
