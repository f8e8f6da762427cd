"""Errors of the data-split engine. Every one derives from :class:`DataSplitError`::

    DataSplitError                  anything the engine refuses or cannot do (CLI exit status 2)
    ├── PlanError                   the plan file is malformed or does not match the databases;
    │                               the message names the file, the field and the value
    ├── DatabaseError               a database is unreachable, unsupported, or a statement failed
    │   └── UnsupportedDatabase     a URL or Django ENGINE of a kind the engine has no class for
    ├── CaptureError                change capture is missing where it is needed (sync before capture)
    ├── StateError                  checkpoints / high-water mark contradict the request (e.g. sync before copy)
    └── OwnershipError              a write or a sync into the side that does not own (or owns) the data

``verify`` finding differences is not an exception: it returns a report whose ``ok`` is false (exit status 1).
"""

from __future__ import annotations


class DataSplitError(Exception):
    """Base class: the operation did not happen (or stopped at its last checkpoint)."""


class PlanError(DataSplitError):
    """``<file>: <field>: <what is wrong> (<what was expected>)``."""

    def __init__(self, file: str, field: str, message: str) -> None:
        self.file = file
        self.field = field
        self.message = message
        super().__init__(f"{file}: {field}: {message}" if field else f"{file}: {message}")


class DatabaseError(DataSplitError):
    """A database could not be reached or refused a statement; the message names which one."""


class UnsupportedDatabase(DatabaseError):
    """No engine class for this kind of database."""


class CaptureError(DataSplitError):
    """Change capture is not installed (or only partly) where the operation needs it."""


class StateError(DataSplitError):
    """The persisted checkpoints or high-water mark do not allow the operation."""


class OwnershipError(DataSplitError):
    """The ownership guard refuses: the named side owns the tables (or no guard is installed where needed)."""
