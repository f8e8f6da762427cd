"""The accounts service's own errors, under the shared tree of :mod:`.exceptions`::

    ApiError
    └── CodedError
        └── TooManyLogins    429 throttled (the login throttle: Retry-After, the seconds to wait)
"""

from __future__ import annotations

from .exceptions import CodedError


class TooManyLogins(CodedError):
    status = 429
    code = "throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
