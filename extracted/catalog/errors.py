"""The catalog service's own errors, under the shared tree of :mod:`.exceptions`::

    Conflict
    ├── OutOfStock           409 out_of_stock   (stock adjustment below zero)
    ├── ProtectedObject      409 protected      (deleting a category still in use, an ordered product)
    ├── ReservationConflict  409 reservation_conflict  (committing a reservation released or expired...)
    └── IdempotencyConflict  409 idempotency_conflict  (a reservation's key reused for other items)
    Unavailable
    └── OrdersUnavailable    503 orders_unavailable  (the orders' owner did not say)
"""

from __future__ import annotations

from .exceptions import Conflict, Unavailable


class OutOfStock(Conflict):
    code = "out_of_stock"


class ProtectedObject(Conflict):
    code = "protected"


class ReservationConflict(Conflict):
    """A stock reservation not in the state the call needs (see ``reservations``)."""

    code = "reservation_conflict"


class IdempotencyConflict(Conflict):
    """An idempotency key sent again with another request than the one it first came with."""

    code = "idempotency_conflict"


class OrdersUnavailable(Unavailable):
    """The orders' owner could not say whether orders reference a product: nothing is deleted on a guess."""

    code = "orders_unavailable"
