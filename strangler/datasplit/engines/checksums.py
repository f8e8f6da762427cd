"""The verify role of an engine: a table cut into key ranges, and checksums of the rows in each range.

Both sides of a split compute the same *canonical text* for every row, whatever the engine: each value in
one agreed spelling (decimals at the column's scale, floats at 6 places, datetimes as naive UTC with
microseconds, bytes as lower-case hex...), fields joined by :data:`FS` and prefixed ``~`` (NULL: ``!``), rows
joined by :data:`RS` in key order. Equal digests mean equal rows, across SQLite, PostgreSQL and MariaDB.

A new engine gives :attr:`Checksums.canonical_sql` (its SQL for each kind's canonical text) and implements
:meth:`Checksums.chunk_digest` (count and MD5 of a range, aggregated in key order by the server where it can).
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from ..bindings import Binding
from ..columns import Column
from .rows import KeyRange, Rows

# Canonical text separators for checksums: unit separator between fields, record separator between rows.
FS, RS = "\x1f", "\x1e"
# Floats are compared as decimals with this many places, on every engine alike: the servers' own float-to-text
# conversions do not agree on the last digits.
FLOAT_PLACES = 6
# A boolean's canonical text where the dialect has true booleans (or numbers taken as them); NULL stays NULL.
BOOL_SQL = "CASE WHEN {c} THEN '1' WHEN NOT {c} THEN '0' END"


class Checksums(Rows):
    # The server's MD5 function, for the digests of single rows ("": none, the digest is made here).
    md5: ClassVar[str] = ""

    @property
    @abstractmethod
    def canonical_sql(self) -> Mapping[str, str]:
        """Column kind -> SQL for its canonical text, with ``{c}`` the quoted column and ``{scale}`` its
        decimal places; "text" also stands for any kind not listed, "decimal" for floats, :data:`BOOL_SQL` for
        booleans where it has none. NULL must stay NULL."""

    def canonical(self, col: Column, scale: int | None) -> str:
        """SQL for the column's canonical text (NULL stays NULL)."""
        sql = self.canonical_sql
        if col.kind == "float":
            return sql["decimal"].format(c=self.q(col.name), scale=FLOAT_PLACES)
        default = BOOL_SQL if col.kind == "bool" else sql["text"]
        return sql.get(col.kind, default).format(c=self.q(col.name), scale=scale or 0)

    def concat(self, parts: Iterable[str]) -> str:
        return " || ".join(parts)

    def row_expr(self, b: Binding, scales: Sequence[int | None]) -> str:
        parts = []
        for i, (col, scale) in enumerate(zip(b.columns, scales, strict=True)):
            if i:
                parts.append(f"'{FS}'")
            value = self.concat(["'~'", self.canonical(col, scale)])
            parts.append(f"COALESCE({value}, '!')")
        return self.concat(parts)

    # -- key ranges --------------------------------------------------------------------------------------
    def chunk_bounds(self, conn: Any, b: Binding, size: int) -> list[Any]:
        """Every ``size``-th key in key order: the upper bounds of the verify's chunks."""
        k = self.q(b.key)
        cur = conn.cursor()
        cur.execute(f"SELECT k FROM (SELECT {k} AS k, ROW_NUMBER() OVER (ORDER BY {k}) AS rn FROM {self.q(b.table)}) "
                    f"x WHERE MOD(rn, {size}) = 0 ORDER BY k")
        return [r[0] for r in cur.fetchall()]

    # -- digests -----------------------------------------------------------------------------------------
    @abstractmethod
    def chunk_digest(self, conn: Any, b: Binding, scales: Sequence[int | None], rng: KeyRange) -> tuple[int, str]:
        """(rows in the range, MD5 hex of their canonical texts joined by :data:`RS` in key order)."""

    def row_digests(self, conn: Any, b: Binding, scales: Sequence[int | None], rng: KeyRange) -> dict[str, str]:
        """Canonical key text -> MD5 of the row's canonical text, for the rows in the range."""
        cond, params = self.where(b, rng)
        row = self.row_expr(b, scales)
        cur = conn.cursor()
        cur.execute(f"SELECT {self.canonical(b.key_column, None)}, {f'{self.md5}({row})' if self.md5 else row} "
                    f"FROM {self.q(b.table)} WHERE {cond}", params)
        if self.md5:
            return {str(k): str(d) for k, d in cur.fetchall()}
        return {str(k): hashlib.md5(_bytes(r)).hexdigest() for k, r in cur.fetchall()}  # noqa: S324


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")
