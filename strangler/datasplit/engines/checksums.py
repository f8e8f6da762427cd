"""The verify role of an engine: a table cut into key ranges, and checksums of the rows in each range.

Both sides of a split compute the same *canonical text* for every row, whatever the engine: each value in
one agreed spelling (decimals at the column's scale, floats at 6 places, datetimes as naive UTC with
microseconds, bytes as lower-case hex...), fields joined by :data:`FS` and prefixed ``~`` (NULL: ``!``), rows
joined by :data:`RS` in key order. Equal digests mean equal rows, across SQLite, PostgreSQL and MariaDB.

A new engine adds its spelling of each kind to :data:`CANONICAL_SQL` and implements
:meth:`Checksums.chunk_digest` (count and MD5 of a range, aggregated in key order by the server where it can).
"""

from __future__ import annotations

import hashlib
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from ..bindings import KEY_FS, Binding
from ..columns import Column
from .rows import KeyRange, Rows

# Canonical text separators for checksums: unit separator between fields, record separator between rows.
FS, RS = "\x1f", "\x1e"
# Floats are compared as decimals with this many places, on every engine alike: the servers' own float-to-text
# conversions do not agree on the last digits.
FLOAT_PLACES = 6
# A boolean's canonical text where the dialect has true booleans (or numbers taken as them); NULL stays NULL.
BOOL_SQL = "CASE WHEN {c} THEN '1' WHEN NOT {c} THEN '0' END"
# Each kind's canonical text, spelled in every dialect side by side: digests are compared across engines, so a
# kind's spellings must give one text for one value. ``{c}`` is the quoted column, ``{scale}`` its decimal
# places; "text" also stands for any kind not listed, "decimal" for floats (at FLOAT_PLACES), BOOL_SQL for
# booleans where a dialect has no spelling of its own. NULL stays NULL everywhere. A new engine adds its
# spelling to each kind.
CANONICAL_SQL: Mapping[str, Mapping[str, str]] = {
    "text": {"sqlite": "CAST({c} AS TEXT)", "postgresql": "{c}::text", "mysql": "CAST({c} AS CHAR)"},
    "decimal": {
        "sqlite": "CASE WHEN {c} IS NULL THEN NULL ELSE printf('%.{scale}f', {c}) END",  # printf(NULL) is 0
        "postgresql": "round({c}::numeric, {scale})::text",
        "mysql": "CAST(CAST({c} AS DECIMAL(65, {scale})) AS CHAR)",
    },
    "bool": {"sqlite": "CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN '1' ELSE '0' END"},
    "datetime": {
        # SQLite: Django and SQLAlchemy store naive UTC text, with or without microseconds, ' ' or 'T'.
        "sqlite": ("CASE WHEN length({c}) = 26 AND substr({c}, 11, 1) = ' ' THEN {c} "
                   "WHEN {c} IS NULL THEN NULL ELSE substr(replace({c}, 'T', ' '), 1, 19) || '.' || "
                   "CASE WHEN substr({c}, 20, 1) = '.' THEN substr(substr({c}, 21, 6) || '000000', 1, 6) "
                   "ELSE '000000' END END"),
        "postgresql": "to_char({c}, 'YYYY-MM-DD HH24:MI:SS.US')",
        "mysql": "DATE_FORMAT({c}, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')",
    },
    "date": {"sqlite": "substr({c}, 1, 10)", "postgresql": "to_char({c}, 'YYYY-MM-DD')",
             "mysql": "DATE_FORMAT({c}, '%%Y-%%m-%%d')"},
    "time": {
        "sqlite": ("CASE WHEN {c} IS NULL THEN NULL ELSE substr({c}, 1, 8) || '.' || CASE WHEN "
                   "substr({c}, 9, 1) = '.' THEN substr(substr({c}, 10, 6) || '000000', 1, 6) "
                   "ELSE '000000' END END"),
        "postgresql": "to_char({c}, 'HH24:MI:SS.US')",
        "mysql": "TIME_FORMAT({c}, '%%H:%%i:%%s.%%f')",
    },
    "bytes": {"sqlite": "lower(hex({c}))", "postgresql": "encode({c}, 'hex')", "mysql": "LOWER(HEX({c}))"},
}


class Checksums(Rows):
    # The server's MD5 function, for the digests of single rows ("": none, the digest is made here).
    md5: ClassVar[str] = ""

    @property
    def canonical_sql(self) -> Mapping[str, str]:
        """Column kind -> this dialect's SQL for its canonical text (:data:`CANONICAL_SQL`)."""
        return {name: spelled[self.kind] for name, spelled in CANONICAL_SQL.items() if self.kind in spelled}

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
    def key_aliases(self, b: Binding) -> tuple[str, str]:
        """(the key's columns named k0, k1, ... for a select list; those names, for an ORDER BY)."""
        names = [f"k{i}" for i in range(len(b.keys))]
        return ", ".join(f"{self.q(k)} AS {n}" for k, n in zip(b.keys, names, strict=True)), ", ".join(names)

    def mod(self, value: str, size: int) -> str:
        return f"MOD({value}, {size})"

    def chunk_bounds(self, conn: Any, b: Binding, size: int) -> list[Any]:
        """Every ``size``-th key in key order: the upper bounds of the verify's chunks (tuples for a composite
        key)."""
        select, order = self.key_aliases(b)
        cur = conn.cursor()
        cur.execute(f"SELECT {order} FROM (SELECT {select}, ROW_NUMBER() OVER (ORDER BY {self.key_names(b)}) AS rn "
                    f"FROM {self.q(b.table)}) x WHERE {self.mod('rn', size)} = 0 ORDER BY {order}")
        return [b.key_of(r) for r in cur.fetchall()]

    def key_canonical(self, b: Binding) -> str:
        """SQL of a row's canonical key text: the key column's canonical text, or a composite key's columns'
        joined by :data:`~strangler.datasplit.bindings.KEY_FS` (read back by ``Binding.key_from_canonical``)."""
        parts = [self.canonical(col, None) for col in b.key_columns]
        return parts[0] if len(parts) == 1 else self.concat(self._joined(parts, f"'{KEY_FS}'"))

    @staticmethod
    def _joined(parts: list[str], separator: str) -> list[str]:
        out: list[str] = []
        for i, part in enumerate(parts):
            out += [separator, part] if i else [part]
        return out

    # -- digests -----------------------------------------------------------------------------------------
    @abstractmethod
    def chunk_digest(self, conn: Any, b: Binding, scales: Sequence[int | None], rng: KeyRange) -> tuple[int, str]:
        """(rows in the range, MD5 hex of their canonical texts joined by :data:`RS` in key order)."""

    def row_digests(self, conn: Any, b: Binding, scales: Sequence[int | None], rng: KeyRange) -> dict[str, str]:
        """Canonical key text (:meth:`key_canonical`) -> MD5 of the row's canonical text, for the rows in the
        range."""
        cond, params = self.where(b, rng)
        row = self.row_expr(b, scales)
        cur = conn.cursor()
        cur.execute(f"SELECT {self.key_canonical(b)}, {f'{self.md5}({row})' if self.md5 else row} "
                    f"FROM {self.q(b.table)} WHERE {cond}", params)
        if self.md5:
            return {str(k): str(d) for k, d in cur.fetchall()}
        return {str(k): hashlib.md5(_bytes(r)).hexdigest() for k, r in cur.fetchall()}  # noqa: S324


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")
