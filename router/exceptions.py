"""Errors of the router.

Tree::

    RouterError
    ├── ConfigError            a routes file is unusable; names the file, the field and the value
    ├── RequestRejected        a client request the router refuses to route (maps to a 4xx)
    │   ├── PathRejected       a path that is ambiguous to route (encoded slashes, NUL, bad escapes)
    │   └── BodyTooLarge       more request body than max_body (413)
    ├── ClientGone             the client disconnected before the answer was complete
    ├── AdminError             an admin request refused: its HTTP status and a detail naming field and value
    └── UpstreamError          a backend could not be used; the core answers 502/503/504 (or falls back)
        ├── UpstreamConnectError   refused, unreachable, reset before answering (502)
        ├── UpstreamTimeout        no answer within the backend's timeouts (504)
        ├── UpstreamProtocolError  an answer that is not valid HTTP (502)
        └── CircuitOpen            the backend is failing and is not being tried (503)

Transports (``router/upstream/``) translate their client library's errors into UpstreamError, so the core
never sees aiohttp's exception tree.
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


class BodyTooLarge(RequestRejected):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes", status=413)


class ClientGone(RouterError):
    pass


class AdminError(RouterError):
    """Raised by the admin API and what it drives (route edits, leases, windows); answered as
    ``{"detail": ..., **extra}`` with ``status``."""

    def __init__(self, status: int, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.status, self.detail, self.extra = status, detail, extra


class UpstreamError(RouterError):
    status = 502
    kind = "upstream_error"


class UpstreamConnectError(UpstreamError):
    kind = "connect_failed"


class UpstreamTimeout(UpstreamError):
    status = 504
    kind = "timeout"


class UpstreamProtocolError(UpstreamError):
    kind = "bad_response"


class CircuitOpen(UpstreamError):
    status = 503
    kind = "circuit_open"
