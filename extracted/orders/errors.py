"""The orders service's own errors, under the shared tree of :mod:`.exceptions`::

    ApiError
    ├── Declined                 the status and body another owner refused a checkout with (out of stock: 409
    │                            ``out_of_stock``, the monolith's body), or the saga's own refusal (an empty cart)
    ├── CodedError
    │   ├── IdempotencyKeyReused 422 idempotency_key_reused  (the key came with another request before)
    │   └── InvalidTransition    409 invalid_transition (an order that can no longer be cancelled)
    └── Unavailable
        ├── NotYet               503 not_yet    (cancel: not written yet; checkout without its saga running)
        ├── CheckoutPending      503 checkout_pending (still running: ask again with the same key)
        ├── CheckoutUnavailable  503 checkout_unavailable (the saga could not finish: nothing was ordered)
        └── OwnerFrozen          503 write_freeze + Retry-After (an owner the checkout needs is frozen for a move;
                                 nothing was ordered)
"""

from __future__ import annotations

from typing import Any

from .exceptions import ApiError, CodedError, Conflict, Unavailable


class NotYet(Unavailable):
    """A write this service does not make (cancel: the saga comes next; checkout in an app built without its
    saga). The router sends such writes to the monolith; one that reaches the service anyway is refused here,
    with nothing written."""

    code = "not_yet"
    default_detail = ("The orders service does not take this write yet: checkout and cancel are still the "
                      "monolith's.")


class Declined(ApiError):
    """A checkout's refusal, answered with the status and body its owner gave (or the saga's own)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status, self._body = status, body

    def body(self) -> Any:
        return self._body


class IdempotencyKeyReused(CodedError):
    status = 422
    code = "idempotency_key_reused"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class CheckoutPending(Unavailable):
    code = "checkout_pending"
    default_detail = ("Your order is still being placed. Send the same request with the same Idempotency-Key "
                      "again to learn how it ended; it will not be placed twice.")
    retry_after = "2"


class OwnerFrozen(Unavailable):
    """An owner the request needed answered that its data is frozen for a move, for longer than the request
    waited: the client is told what the freeze itself tells it."""

    code = "write_freeze"

    def __init__(self, detail: str, retry_after: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class CheckoutUnavailable(Unavailable):
    code = "checkout_unavailable"
