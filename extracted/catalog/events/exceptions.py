"""Errors of the events package.

Tree::

    EventsError             base of everything raised on purpose
    ├── BusConfigError      EVENTS_URL cannot be used (names the variable and the value)
    ├── BusUnavailable      the bus did not answer (the relay retries; the outbox keeps the events meanwhile)
    ├── BadEvent            a message that is not an event envelope (acknowledged and logged: it never will be)
    └── Postpone            a handler cannot apply its event yet (its tables are read-only while they move):
                            the event comes again later, quietly
"""

from __future__ import annotations


class EventsError(Exception):
    """Base of the events package's errors."""


class BusConfigError(EventsError):
    pass


class BusUnavailable(EventsError):
    pass


class BadEvent(EventsError):
    pass


class Postpone(EventsError):
    """Raised by a handler that cannot apply its event now but will later (the data it writes belongs to the
    other side until a cutover): the consumer naks the event and the rest of its batch, logs one line without a
    traceback, and the bus delivers them again after a pause."""
