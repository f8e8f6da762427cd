"""Errors of the router.

Tree::

    RouterError
    ├── ConfigError            a routes file is unusable; names the file, the field and the value
    └── RequestRejected        a client request the router refuses to route (maps to a 4xx)
        └── PathRejected       a path that is ambiguous to route (encoded slashes, NUL, bad escapes)

Upstream failures are not exceptions of the router's own: the forwarding core maps the client library's
errors to 502/503/504 answers that name the route and the backend.
"""

from __future__ import annotations


class RouterError(Exception):
    """Base of everything the router raises on purpose."""


class ConfigError(RouterError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class RequestRejected(RouterError):
    status = 400

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class PathRejected(RequestRejected):
    pass
