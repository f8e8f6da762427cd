"""A plan's tables as each database sees them: the mapped columns of one table (:class:`Binding`), and a
table's two sides side by side (:class:`TablePair`).

Apart from :mod:`strangler.datasplit.mapping`, which makes them: the engines read and write rows through
bindings, and the mapping resolves a plan through the engines' schema role, so the bindings sit below both.

A table's key is one column or several (a composite key). A key *value* is the column's value for a one-column
key and a tuple of the columns' values for a composite one; as text (a copy's checkpoint) a one-column key is
the value as it always was (``312``, ``abc``), a composite one a JSON array (``[7, 2]``, ``["eu", 3]``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .columns import Column

# The separator of a composite key's columns in verify's canonical key text (the checksums' own field separator).
KEY_FS = "\x1f"


@dataclass(frozen=True)
class Binding:
    """One table as one database sees it: the mapped columns in mapping order (aligned with the other side)."""

    table: str
    keys: tuple[str, ...]            # the key's columns, in key order (one, or several: a composite key)
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def composite(self) -> bool:
        return len(self.keys) > 1

    @property
    def conflict_keys(self) -> tuple[str, ...]:
        """The columns an upsert matches rows on: the key, or the table's own primary key where it is part of
        the key (a legacy table keyed ``(site, id)`` whose primary key is ``id``: unique on its own, so the same
        rows match, and SQLite matches no upsert to an index over its rowid column)."""
        primary = tuple(c.name for c in self.columns if c.primary_key)
        return primary if primary and set(primary) < set(self.keys) else self.keys

    @property
    def key_columns(self) -> tuple[Column, ...]:
        by_name = {c.name: c for c in self.columns}
        return tuple(by_name[k] for k in self.keys)

    # -- key values ----------------------------------------------------------------------------------------
    def key_part(self, col: Column, value: Any) -> Any:
        """One column's value of a key read back from text (integers as integers, anything else as text)."""
        if value is None:
            return None
        if col.kind == "int" and not isinstance(value, bool):
            return int(value)
        return value if isinstance(value, str | int | float) else str(value)

    def key_text(self, key: Any) -> str:
        """A key value as text (a checkpoint): a one-column key as it always was, a composite one a JSON array."""
        if not self.composite:
            return str(key)
        return json.dumps([v if isinstance(v, str | int | float) or v is None else str(v) for v in key])

    def key_from_text(self, text: str | None) -> Any:
        """The key value :meth:`key_text` wrote (None: none)."""
        if text is None:
            return None
        if not self.composite:
            return int(text) if self.key_columns[0].kind == "int" else text
        values = json.loads(text)
        if not isinstance(values, list) or len(values) != len(self.keys):
            raise ValueError(f"{text!r} is not a key of {self.table} ({', '.join(self.keys)})")
        return tuple(self.key_part(c, v) for c, v in zip(self.key_columns, values, strict=True))

    def key_from_canonical(self, text: str) -> Any:
        """A key value from verify's canonical key text (the columns' canonical texts joined by :data:`KEY_FS`)."""
        if not self.composite:
            return self.key_from_text(text)
        parts = text.split(KEY_FS)
        return tuple(self.key_part(c, v) for c, v in zip(self.key_columns, parts, strict=True))

    def key_of(self, row: Sequence[Any]) -> Any:
        """The key value of a row read as ``SELECT <key columns>``."""
        return tuple(row) if self.composite else row[0]


@dataclass(frozen=True)
class TablePair:
    index: int
    source: Binding
    target: Binding
    scales: tuple[int | None, ...]   # decimal places per mapped column (None: not a decimal)
