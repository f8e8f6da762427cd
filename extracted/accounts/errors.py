"""The accounts service's own errors, under the shared tree of :mod:`.exceptions`::

    ApiError
    └── CodedError
        ├── TooManyLogins        429 throttled (the login throttle: Retry-After, the seconds to wait)
        └── Unavailable
            └── SessionUnavailable   503 session_unavailable (the monolith's session API did not answer)
"""

from __future__ import annotations

from .exceptions import CodedError, Unavailable


class TooManyLogins(CodedError):
    status = 429
    code = "throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class SessionUnavailable(Unavailable):
    """The sessions' owner (the monolith's internal session API) did not answer: a login, a logout or a caller's
    session cannot be settled. The cart service's code for the same."""

    code = "session_unavailable"
