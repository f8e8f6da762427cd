"""How things are spelled in an nginx configuration: the fixed names and paths of the export, string tokens,
durations, percentages, header names, indentation, and the PCRE of a route's path pattern."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable

from router.routing.table import Pattern

DEFAULT_PREFIX = os.path.join(tempfile.gettempdir(), "router-nginx")  # runtime files; per user: --prefix
LIVENESS_PATH = "/__router/health"
SHADOW_PREFIX = "/__router/shadow/"  # /__router/ is the router's own: no route can collide with these
# Every 5xx nginx can intercept: the Python router falls back on any 5xx answer, not only 502-504.
FALLBACK_STATUSES = "500 501 502 503 504 505 506 507 508 510 511"
DISPATCH_STATUS = 418  # a status no backend answer is involved in: ``return 418`` + ``error_page 418 = @x``
HEADER_VAR = re.compile(r"^[a-z0-9-]+$")  # a header name nginx has an $http_ variable for
COOKIE_VAR = re.compile(r"^[A-Za-z0-9_]+$")  # a cookie name nginx has a $cookie_ variable for
BAD_DECODED = r"~[\\\x00-\x1f\x7f]"  # PCRE: a backslash or a control character
_PLAIN = re.compile(r"^[A-Za-z0-9_./:@~%+-]+$")


def q(text: str) -> str:
    """An nginx string token: bare when safe, else double-quoted (nginx unescapes \\\\ and \\" in quotes)."""
    if text and _PLAIN.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def duration(seconds: float) -> str:
    ms = max(1, round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def percent(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))


def indent(lines: Iterable[str]) -> list[str]:
    """``lines`` one block level deeper (four spaces); empty lines stay empty."""
    return ["    " + line if line else "" for line in lines]


def literal_path(p: Pattern) -> str:
    if not p.parts:
        return "/"
    return "/" + "/".join(p.parts) + ("/" if p.kind == "exact" and p.trailing_slash else "")


def path_regex(p: Pattern) -> str:
    """The PCRE (anchored at the end, not the start) matching the decoded paths ``p`` matches."""
    body = "".join("/" + ("[^/]+" if Pattern.is_param(s) else re.escape(s)) for s in p.parts)
    if p.kind == "prefix":
        return body + "(?:/.*)?$" if p.parts else "/.*$"
    if not p.parts:
        return "/$"
    return body + ("/" if p.trailing_slash else "") + "$"


def is_literal(p: Pattern) -> bool:
    return not any(Pattern.is_param(s) for s in p.parts)
