"""The one interface every database kind implements (like httpx transports: one class per kind).

An :class:`Engine` wraps one database URL. It opens raw DB-API connections (the data plane never goes through
an ORM) and knows its dialect's SQL for each of its roles, one abstract base class a module:

- :class:`~.schema.Schema` (``schema.py``): connections, the database's lifecycle, tables, trigger sets, and
  the dialect's words (quoting, placeholders, upserts) every other role writes its SQL with;
- :class:`~.capture.Capture` (``capture.py``): the changelog, its capture triggers, barrier, lag and pruning;
- :class:`~.rows.Rows` (``rows.py``): reading key-ordered batches, upserting and deleting, the key counter,
  and the tab-separated "copy text" that PostgreSQL's COPY and MariaDB's LOAD DATA both read;
- :class:`~.checksums.Checksums` (``checksums.py``): key ranges and canonical-text checksums of their rows;
- :class:`~.guard.Guard` (``guard.py``): the ownership guard's table and triggers;
- :class:`~.checkpoints.Checkpoints` (``checkpoints.py``): the checkpoint table.

What is the same everywhere lives in the roles; an engine (``sqlite.py``, ``postgresql.py``, ``mysql.py``)
implements their abstract methods (Python refuses to make an engine that misses one) and overrides what its
dialect does differently.
"""

from __future__ import annotations

from .capture import Capture
from .checkpoints import Checkpoints
from .checksums import Checksums
from .guard import Guard
from .rows import Rows


# Checksums builds on Rows (it reads key ranges of rows), so it comes first for a consistent method order.
class Engine(Capture, Checksums, Rows, Guard, Checkpoints):
    """A database of a split, in every role (each role builds on :class:`~.schema.Schema`)."""
