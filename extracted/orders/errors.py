"""The orders service's own errors, under the shared tree of :mod:`.exceptions`::

    Unavailable
    └── NotYet               503 not_yet    (checkout and cancel: the saga is not written yet)
"""

from __future__ import annotations

from .exceptions import Unavailable


class NotYet(Unavailable):
    """A write this service does not make yet (checkout, cancel: the saga comes next). Until then the router
    sends every write of ``/api/orders/`` to the monolith; a write that reaches the service anyway is refused
    here, with nothing written."""

    code = "not_yet"
    default_detail = ("The orders service does not take this write yet: checkout and cancel are still the "
                      "monolith's.")
