"""The schema of a routes file's ``routes:`` (path, methods, header, backend, canary, fallback, shadow) and of
its ``parity:`` (the store and the rules every shadowed route compares with).

A route's ``shadow:`` and ``parity.rules`` are the one rule model (``router.parity.rules.RulesSpec``: ignore,
unordered, headers, ignore_headers, max_differences), the same as a replay's rules file.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from router.config.values import CONTROL, MAX_PATH, check_methods
from router.exceptions import PathRejected
from router.parity.rules import RulesSpec
from router.routing.paths import normalise
from router.routing.table import SAFE_METHODS
from router.validation import Spec, header_name, show


class HeaderSpec(Spec):
    name: Annotated[str, AfterValidator(header_name)]
    value: str | None = None


class ShadowSpec(RulesSpec):
    backend: str
    methods: list[str] = sorted(SAFE_METHODS)
    queue: Annotated[int, Field(ge=1, le=100_000)] = 100
    # At most this many shadowed requests a second (default 10: a few hundred a minute is plenty for a gate);
    # the rest are not mirrored (counted as sampled out).
    # The shadow's work shares the router's CPU: unbounded, it doubled p99 under load.
    rate: Annotated[float, Field(gt=0, le=100_000)] = 10.0
    store: bool = True

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        return check_methods(value) or []


class ParitySpec(Spec):
    """Top-level ``parity:``: where shadow comparisons are stored (SQLite; a relative path is from the routes
    file's folder; ``null`` keeps none; read at startup only), how much of them is kept, and comparison rules
    for every shadowed route (a route's own rules add to these)."""

    store: str | None = "var/parity.sqlite3"
    max_rows: Annotated[int, Field(ge=1, le=100_000_000)] = 100_000
    max_age_days: Annotated[float, Field(gt=0, le=3650)] | None = 30.0
    rules: RulesSpec = RulesSpec()

    @field_validator("store")
    @classmethod
    def _store(cls, value: str | None) -> str | None:
        if value is not None and CONTROL.search(value):
            raise ValueError(f"{show(value)} is not a file path (control characters; null keeps no store)")
        return value


class RouteSpec(Spec):
    path: str
    match: Literal["prefix", "exact"] = "prefix"
    methods: list[str] | None = None
    header: HeaderSpec | None = None
    backend: str
    canary: float | None = None
    fallback: str | None = None
    shadow: ShadowSpec | None = None
    shadow_writes: bool = False
    # No write freeze here: a freeze is a lease held by whoever moves the route (router/control/leases.py), kept in
    # memory beside the table, so it outlives reloads and is never written to a file by mistake.

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str] | None) -> list[str] | None:
        return check_methods(value)

    @field_validator("shadow", mode="before")
    @classmethod
    def _shadow_shorthand(cls, value: Any) -> Any:
        return {"backend": value} if isinstance(value, str) else value

    @field_validator("canary", mode="before")
    @classmethod
    def _canary(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{show(value)} is not a percentage (0-100)")
        if not 0 <= value <= 100:  # NaN fails this too
            raise ValueError(f"{value} is not a percentage (0-100)")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{show(value)} must start with '/'")
        if len(value) > MAX_PATH:
            raise ValueError(f"{show(value)} is longer than {MAX_PATH} characters")
        probe = re.sub(r"(?<=/)\{[A-Za-z_][A-Za-z0-9_]*\}(?=/|$)", "x", value)
        if "{" in probe or "}" in probe:
            raise ValueError(f"{show(value)}: parameters look like {{name}} and fill a whole segment")
        names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", value)
        if len(names) != len(set(names)):
            raise ValueError(f"{show(value)}: a parameter name appears twice")
        try:
            # A route path is written decoded ('/café/'), as match() sees requests; UTF-8 is its wire form.
            normalised = normalise(probe.encode("utf-8"))
        except PathRejected as exc:
            raise ValueError(f"{show(value)}: {exc}") from None
        if normalised == "/__router" or normalised.startswith("/__router/"):
            raise ValueError(f"{show(value)}: /__router/ is the router's own (liveness); no route may use it")
        if normalised != probe and normalised + "/" != probe:
            raise ValueError(f"{show(value)} is not normalised (it would be {show(normalised)}); it could never "
                             "match")
        return value
