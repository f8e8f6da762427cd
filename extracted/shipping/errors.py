"""The shipping service's own errors, under the shared tree of :mod:`.exceptions`::

    ApiError
    └── CodedError
        └── Conflict
            ├── InvalidTransition    409 invalid_transition  (a status the shipment cannot move to; ``current``)
            └── IdempotencyConflict  409 idempotency_conflict (an order's shipment asked for again, otherwise)
"""

from __future__ import annotations

from .exceptions import Conflict


class InvalidTransition(Conflict):
    code = "invalid_transition"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
