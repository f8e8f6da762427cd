"""The values a routes file holds, checked: names, tokens, sizes, addresses, URLs, methods; and the limits.

Each checker returns the value (or its normal form) or raises ``ValueError`` with the value shown
(``router.validation.show``), which the schema reports at its key. ``refused`` builds the ``ConfigError`` of
a file, every problem cut to ``MAX_PROBLEM`` characters and at most ``MAX_PROBLEMS`` of them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from router import safeyaml
from router.exceptions import ConfigError
from router.validation import TOKEN, show

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$")
UNITS = {None: 1, "B": 1, "KB": 10**3, "KiB": 2**10, "MB": 10**6, "MiB": 2**20, "GB": 10**9, "GiB": 2**30}
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_BYTES = safeyaml.MAX_BYTES  # a routes file larger than this is refused before it is parsed
MAX_BACKENDS = 100
MAX_ROUTES = 1000  # far beyond any real table; bounds the work a reload may cost (ambiguities, matching)
MAX_TARGETS = 100
MAX_PATH = 2048
MAX_PROBLEM = 300  # characters of one problem
MAX_PROBLEMS = 50  # problems listed; the rest are counted


def _clip(problem: str) -> str:
    return problem if len(problem) <= MAX_PROBLEM else problem[:MAX_PROBLEM - 3] + "..."


def refused(problems: list[str]) -> ConfigError:
    """A ``ConfigError`` with every problem cut to ``MAX_PROBLEM`` characters and at most ``MAX_PROBLEMS`` of
    them (the rest counted), so that no file, however broken, is printed back whole."""
    shown = [_clip(p) for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        first = problems[0].partition(": ")[0]
        shown.append(f"{first}: ... and {len(problems) - MAX_PROBLEMS} more problems")
    return ConfigError(shown)


def check_listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{show(value)} is not host:port")
    return value


def check_env_name(value: str) -> str:
    if not ENV_NAME.match(value):
        raise ValueError(f"{show(value)} is not an environment variable name (letters, digits, '_')")
    return value


def _plain_host(parts: Any) -> bool:
    """The URL's host is a name, an IPv4 address or a bracketed IPv6 address (no spaces, no odd characters)."""
    host = parts.netloc.rpartition("@")[2]
    if not host.endswith("]"):
        host = host.rpartition(":")[0] if ":" in host else host
    return bool(parts.hostname) and HOST.match(host) is not None


def split_url(value: str) -> Any:
    """``urlsplit(value)``, or None unless it is an http(s) URL with a plain host."""
    if CONTROL.search(value) or " " in value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed '[' of an IPv6 address
        return None
    if parts.scheme not in ("http", "https") or not _plain_host(parts):
        return None
    return parts


def port_ok(parts: Any) -> bool:
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    return True


def check_methods(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("an empty list matches nothing; leave 'methods' out to match every method")
    out = []
    for method in value:
        if not isinstance(method, str) or not TOKEN.match(method) or len(method) > 32:
            raise ValueError(f"{show(method)} is not an HTTP method")
        out.append(method.upper())
    if "GET" in out and "HEAD" not in out:
        out.append("HEAD")  # a HEAD is a GET without the body; splitting them would surprise everyone
    return out
