"""The rows role of an engine: selecting, reading, writing and deleting a table's rows, its key counter, and
the tab-separated "copy text" that PostgreSQL's COPY and MariaDB's LOAD DATA both read.

Rows are selected by key (:class:`KeyRange`: the copy's batches, the verify's chunks) or by the changelog
(:class:`Changed`: the sync's slices). A new engine implements the key counter (:meth:`Rows.next_key`,
:meth:`Rows.reset_sequence`); it overrides :meth:`Rows.adapter` where its driver stores a value differently,
and :meth:`Rows.load_copy_text` where it can load copy text (a target of the staged transfer).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..bindings import Binding
from ..columns import Column
from .schema import Schema

COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class KeyRange:
    """Rows with ``lo < key <= hi`` (None: unbounded)."""

    lo: Any = None
    hi: Any = None


@dataclass(frozen=True)
class Changed:
    """Rows whose keys the changelog lists with ``lo_id < id <= hi_id`` for the table."""

    changelog: str
    lo_id: int
    hi_id: int


Selection = KeyRange | Changed


class Rows(Schema):
    # -- reading -----------------------------------------------------------------------------------------
    def where(self, b: Binding, sel: Selection, prefix: str = "") -> tuple[str, list[Any]]:
        k, p = self.q(b.key), self.param
        if isinstance(sel, KeyRange):
            parts, params = [], []
            if sel.lo is not None:
                parts.append(f"{k} > {p}")
                params.append(sel.lo)
            if sel.hi is not None:
                parts.append(f"{k} <= {p}")
                params.append(sel.hi)
            return (" AND ".join(parts) or "1=1"), params
        key = self.cast_key(b, "row_key")
        return (f"{k} IN (SELECT {key} FROM {prefix}{self.q(sel.changelog)} WHERE id > {p} AND id <= {p} "
                f"AND table_name = {p})"), [sel.lo_id, sel.hi_id, b.table]

    def next_bound(self, conn: Any, b: Binding, after: Any, n: int) -> Any:
        """The key ``n`` rows after ``after`` (or the last key when fewer remain; None when none remain)."""
        k, t, p = self.q(b.key), self.q(b.table), self.param
        cond, params = (f"WHERE {k} > {p}", [after]) if after is not None else ("", [])
        cur = conn.cursor()
        cur.execute(f"SELECT {k} FROM {t} {cond} ORDER BY {k} LIMIT 1 OFFSET {n - 1}", params)
        row = cur.fetchone()
        if row is None:
            cur.execute(f"SELECT MAX({k}) FROM {t} {cond}", params)
            row = cur.fetchone()
        return row[0] if row else None

    def fetch_rows(self, conn: Any, b: Binding, sel: Selection) -> list[tuple[Any, ...]]:
        cond, params = self.where(b, sel)
        cur = conn.cursor()
        cur.execute(f"SELECT {self.names(b.names)} FROM {self.q(b.table)} WHERE {cond} ORDER BY {self.q(b.key)}",
                    params)
        return list(cur.fetchall())

    def count(self, conn: Any, table: str) -> int:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {self.q(table)}")
        return int(cur.fetchone()[0])

    def count_upto(self, conn: Any, b: Binding, key: Any) -> int:
        """Rows with a key up to ``key`` (how far a copy resumed after ``key`` already is)."""
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {self.q(b.table)} WHERE {self.q(b.key)} <= {self.param}", [key])
        return int(cur.fetchone()[0])

    def max_key(self, conn: Any, b: Binding) -> Any:
        cur = conn.cursor()
        cur.execute(f"SELECT MAX({self.q(b.key)}) FROM {self.q(b.table)}")
        return cur.fetchone()[0]

    # -- writing -----------------------------------------------------------------------------------------
    def adapter(self, col: Column) -> Callable[[Any], Any] | None:
        """Converts a value read from any engine into what this engine's driver stores for the column."""
        return None

    def upsert_sql(self, b: Binding) -> str:
        marks = ", ".join([self.param] * len(b.names))
        return (f"INSERT INTO {self.q(b.table)} ({self.names(b.names)}) VALUES ({marks}) "
                f"{self.upsert_clause([b.key], b.names)}")

    def upsert_rows(self, conn: Any, b: Binding, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            conn.cursor().executemany(self.upsert_sql(b), rows)

    def upsert_from(self, b: Binding, source: str) -> str:
        """Upsert every row of ``source`` (a staging table with the binding's columns) into the table."""
        cols = self.names(b.names)
        return (f"INSERT INTO {self.q(b.table)} ({cols}) SELECT {cols} FROM {source} "
                f"{self.upsert_clause([b.key], b.names)}")

    def delete_keys(self, conn: Any, b: Binding, keys: Sequence[Any]) -> None:
        cur = conn.cursor()
        for i in range(0, len(keys), 500):
            part = list(keys[i:i + 500])
            marks = ", ".join([self.param] * len(part))
            cur.execute(f"DELETE FROM {self.q(b.table)} WHERE {self.q(b.key)} IN ({marks})", part)

    # -- the key counter ---------------------------------------------------------------------------------
    # Abstract: an engine that forgot its counter would let the side taking over hand out an id again.
    @abstractmethod
    def next_key(self, conn: Any, b: Binding) -> int | None:
        """The key the table's own counter hands out next (None: the key has no counter). Never below a key
        the counter has handed out, even when that row has since been deleted."""

    @abstractmethod
    def reset_sequence(self, conn: Any, b: Binding, at_least: int = 0) -> None:
        """Set the key's sequence / identity / auto-increment counter past the largest key and to at least
        ``at_least``; never back. The sync passes the source's :meth:`next_key`: an id the owner handed out
        (for a row deleted since, too) is never handed out again by the other side once it takes over."""

    # -- copy text (PostgreSQL COPY text format == MariaDB LOAD DATA default format) --------------------
    def copy_text(self, conn: Any, src: Binding, tgt: Binding, sel: Selection) -> tuple[str, int]:
        """The selected rows as tab-separated lines (``\\N`` NULL, backslash escapes), and their count."""
        rows = self.fetch_rows(conn, src, sel)
        fmts = [copy_formatter(c.kind, t.scale) for c, t in zip(src.columns, tgt.columns, strict=True)]
        lines = ["\t".join([f(v) for f, v in zip(fmts, row, strict=True)]) for row in rows]
        return ("\n".join(lines) + "\n" if lines else ""), len(lines)

    def load_copy_text(self, conn: Any, b: Binding, text: str) -> None:
        raise NotImplementedError(f"{self.kind} does not load copy text")


def copy_formatter(kind: str, scale: int | None) -> Callable[[Any], str]:
    """Python formatting of one driver value into copy text (the slow, generic path)."""
    from datetime import datetime, timezone
    from decimal import Decimal

    def fmt(v: Any) -> str:
        if v is None:
            return "\\N"
        if isinstance(v, str):
            return v.translate(COPY_ESCAPES)
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, datetime):
            stamp: datetime = v if v.tzinfo is None else v.astimezone(timezone.utc).replace(tzinfo=None)
            return stamp.isoformat(" ")
        if isinstance(v, Decimal):
            return format(v, "f")
        if isinstance(v, float) and scale is not None:
            return f"{v:.{scale}f}"
        if isinstance(v, bytes | bytearray | memoryview):
            return "\\\\x" + bytes(v).hex()
        if hasattr(v, "isoformat"):
            return str(v.isoformat())
        return str(v)

    return fmt
