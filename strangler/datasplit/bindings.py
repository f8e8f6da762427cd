"""A plan's tables as each database sees them: the mapped columns of one table (:class:`Binding`), and a
table's two sides side by side (:class:`TablePair`).

Apart from :mod:`strangler.datasplit.mapping`, which makes them: the engines read and write rows through
bindings, and the mapping resolves a plan through the engines' schema role, so the bindings sit below both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .columns import Column


@dataclass(frozen=True)
class Binding:
    """One table as one database sees it: the mapped columns in mapping order (aligned with the other side)."""

    table: str
    key: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def key_index(self) -> int:
        return self.names.index(self.key)

    @property
    def key_column(self) -> Column:
        return self.columns[self.key_index]

    def key_from_text(self, text: str | None) -> Any:
        if text is None:
            return None
        return int(text) if self.key_column.kind == "int" else text


@dataclass(frozen=True)
class TablePair:
    index: int
    source: Binding
    target: Binding
    scales: tuple[int | None, ...]   # decimal places per mapped column (None: not a decimal)
