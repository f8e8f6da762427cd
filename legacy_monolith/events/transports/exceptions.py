"""Errors of the events package.

Tree::

    EventsError             base of everything raised on purpose
    ├── BusConfigError      EVENTS_URL cannot be used (names the variable and the value)
    ├── BusUnavailable      the bus did not answer (the relay retries; the outbox keeps the events meanwhile)
    └── BadEvent            a message that is not an event envelope (acknowledged and logged: it never will be)
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
