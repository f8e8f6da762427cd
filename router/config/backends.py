"""The schema of a routes file's ``backends:``: targets, health checks, timeouts, balancing, circuit breaker."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from router.config.values import CONTROL, MAX_PATH, MAX_TARGETS, port_ok, split_url
from router.validation import Spec, show


class HealthSpec(Spec):
    path: str = "/healthz"
    interval: Annotated[float, Field(ge=0, le=3600)] = 5.0

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{show(value)} must start with '/'")
        if CONTROL.search(value) or " " in value or len(value) > MAX_PATH:
            raise ValueError(f"{show(value)} is not a request path (no spaces or control characters, at most "
                             f"{MAX_PATH} characters)")
        return value


class TimeoutSpec(Spec):
    connect: Annotated[float, Field(gt=0, le=300)] = 2.0
    read: Annotated[float, Field(gt=0, le=3600)] = 30.0


class CircuitSpec(Spec):
    failures: Annotated[int, Field(ge=1, le=10_000)] = 5
    reset_after: Annotated[float, Field(gt=0, le=3600)] = 10.0


class BackendSpec(Spec):
    targets: Annotated[list[str], Field(min_length=1, max_length=MAX_TARGETS)]
    health: HealthSpec = HealthSpec()
    timeouts: TimeoutSpec = TimeoutSpec()
    balance: Literal["round_robin", "least_busy"] = "round_robin"
    circuit: CircuitSpec = CircuitSpec()

    @field_validator("targets", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("targets")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        cleaned = []
        for url in value:
            parts = split_url(url)
            if parts is None:
                raise ValueError(f"{show(url)} is not an http(s)://host[:port] URL")
            if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
                raise ValueError(f"{show(url)} must be scheme://host[:port] only (no path, query or credentials)")
            if not port_ok(parts):
                raise ValueError(f"{show(url)} has an invalid port")
            cleaned.append(f"{parts.scheme}://{parts.netloc}")
        return cleaned
