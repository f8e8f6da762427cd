"""What a client may send as a request head, and how slowly: ``HttpLimits``, read once at start from the
environment (``ROUTER_MAX_HEADER_LINE``, ``ROUTER_MAX_HEADER_BYTES``, ``ROUTER_MAX_HEADERS``,
``ROUTER_HEAD_TIMEOUT``, ``ROUTER_BODY_TIMEOUT``, ``ROUTER_KEEP_ALIVE_TIMEOUT``). The protocol that enforces
them is ``protocol.py``; the body timeout is kept by the application, which is what waits for a body."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

# Sizes as the routes file writes them (max_body): bytes, or a number with a unit.
SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB)?\s*$")
UNITS = {None: 1, "B": 1, "KB": 10**3, "KiB": 2**10, "MB": 10**6, "MiB": 2**20}

@dataclass(frozen=True)
class HttpLimits:
    """What a client may send as a request head, and how slowly (the defaults are nginx's order of size)."""

    max_line: int = 8 * 1024  # one header field (name and value), and the request target
    max_head: int = 64 * 1024  # the request line and every header field together
    max_headers: int = 100  # header fields (and, apart, trailer fields)
    head_timeout: float = 5.0  # seconds from the connection (or a head's first byte) to the head's end
    # Seconds a request body may go without a byte while the router waits for it (a client that trickles or
    # stalls its body would hold the connection and the backend's): 408 and closed (``exchange.read_body``).
    body_timeout: float = 5.0
    keep_alive: int = 5  # seconds an idle connection is kept between requests (uvicorn's own setting)

    # Environment variable -> field. The routes file does not carry these (they are read once, at start).
    ENV: ClassVar[Mapping[str, str]] = {
        "ROUTER_MAX_HEADER_LINE": "max_line", "ROUTER_MAX_HEADER_BYTES": "max_head",
        "ROUTER_MAX_HEADERS": "max_headers", "ROUTER_HEAD_TIMEOUT": "head_timeout",
        "ROUTER_BODY_TIMEOUT": "body_timeout", "ROUTER_KEEP_ALIVE_TIMEOUT": "keep_alive",
    }

    def __post_init__(self) -> None:
        problems = []
        if not 256 <= self.max_line <= self.max_head:
            problems.append(f"max_line: {self.max_line} must be 256 bytes or more and at most max_head "
                            f"({self.max_head})")
        if self.max_head > 16 * 2**20:
            problems.append(f"max_head: {self.max_head} is over 16 MiB")
        if not 1 <= self.max_headers <= 10_000:
            problems.append(f"max_headers: {self.max_headers} is not between 1 and 10000")
        if not 0 < self.head_timeout <= 600 or not math.isfinite(self.head_timeout):
            problems.append(f"head_timeout: {self.head_timeout} is not between 0 (excluded) and 600 seconds")
        if not 0 < self.body_timeout <= 3600 or not math.isfinite(self.body_timeout):
            problems.append(f"body_timeout: {self.body_timeout} is not between 0 (excluded) and 3600 seconds")
        if not 1 <= self.keep_alive <= 3600:
            problems.append(f"keep_alive: {self.keep_alive} is not between 1 and 3600 seconds")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpLimits:
        """The defaults, overridden by ``ROUTER_MAX_HEADER_LINE``/``ROUTER_MAX_HEADER_BYTES`` (bytes, or a size
        like 16KiB), ``ROUTER_MAX_HEADERS``, ``ROUTER_HEAD_TIMEOUT`` (seconds) and ``ROUTER_KEEP_ALIVE_TIMEOUT``
        (whole seconds); a bad value raises ValueError naming the variable."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for variable, name in cls.ENV.items():
            text = environ.get(variable)
            if text is None or not text.strip():
                continue
            try:
                values[name] = _parse(name, text)
            except ValueError:
                raise ValueError(f"{variable}: {text!r} is not {_EXPECTED[name]}") from None
        try:
            return cls(**values)
        except ValueError as exc:
            names = {name: variable for variable, name in cls.ENV.items()}
            raise ValueError(re.sub(r"\b(max_line|max_head|max_headers|head_timeout|body_timeout|keep_alive)\b",
                                    lambda m: names[m.group(1)], str(exc))) from None


_EXPECTED = {"max_line": "a size (e.g. 8192 or 8KiB)", "max_head": "a size (e.g. 65536 or 64KiB)",
             "max_headers": "a whole number", "head_timeout": "a number of seconds",
             "body_timeout": "a number of seconds",
             "keep_alive": "a whole number of seconds"}


def _parse(name: str, text: str) -> int | float:
    if name in ("max_line", "max_head"):
        found = SIZE.match(text)
        if not found:
            raise ValueError(text)
        return int(found.group(1)) * UNITS[found.group(2)]
    if name in ("head_timeout", "body_timeout"):
        return float(text)
    return int(text)
