"""The rows role of an engine: selecting, reading, writing and deleting a table's rows, its key counter, and
the tab-separated "copy text" that PostgreSQL's COPY and MariaDB's LOAD DATA both read.

Rows are selected by key (:class:`KeyRange`: the copy's batches, the verify's chunks) or by the changelog
(:class:`Changed`: the sync's slices), in key order: every column of a composite key. A new engine implements
the key counter (:meth:`Rows.counter_column`, :meth:`Rows.next_key`, :meth:`Rows.reset_sequence`); it overrides
:meth:`Rows.adapter` where its driver stores a value differently, and :meth:`Rows.load_copy_text` where it can
load copy text (a target of the staged transfer).
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
    """Rows with ``lo < key <= hi`` in key order (None: unbounded; a composite key's bounds are tuples)."""

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
        p = self.param
        if isinstance(sel, KeyRange):
            parts, params = [], []
            for op, bound in ((">", sel.lo), ("<=", sel.hi)):
                if bound is not None:
                    cond, values = self.key_compare(b, op, bound)
                    parts.append(cond)
                    params += values
            return (" AND ".join(parts) or "1=1"), params
        keys = ", ".join(self.changelog_key(b, "row_key"))
        lhs = self.key_names(b)
        return (f"{f'({lhs})' if b.composite else lhs} IN (SELECT {keys} FROM {prefix}{self.q(sel.changelog)} "
                f"WHERE id > {p} AND id <= {p} AND table_name = {p})"), [sel.lo_id, sel.hi_id, b.table]

    def next_bound(self, conn: Any, b: Binding, after: Any, n: int) -> Any:
        """The key ``n`` rows after ``after`` (or the last key when fewer remain; None when none remain)."""
        t, ks = self.q(b.table), self.key_names(b)
        cond, params = self.key_compare(b, ">", after) if after is not None else ("", [])
        where = f"WHERE {cond}" if cond else ""
        cur = conn.cursor()
        cur.execute(f"SELECT {ks} FROM {t} {where} ORDER BY {ks} LIMIT 1 OFFSET {n - 1}", params)
        row = cur.fetchone()
        if row is None:
            if b.composite:
                cur.execute(f"SELECT {ks} FROM {t} {where} ORDER BY {self.key_names(b, order=' DESC')} LIMIT 1",
                            params)
            else:
                cur.execute(f"SELECT MAX({ks}) FROM {t} {where}", params)
            row = cur.fetchone()
            if row is not None and row[0] is None:
                row = None
        return b.key_of(row) if row else None

    def fetch_rows(self, conn: Any, b: Binding, sel: Selection) -> list[tuple[Any, ...]]:
        cond, params = self.where(b, sel)
        cur = conn.cursor()
        cur.execute(f"SELECT {self.names(b.names)} FROM {self.q(b.table)} WHERE {cond} ORDER BY {self.key_names(b)}",
                    params)
        return list(cur.fetchall())

    def count(self, conn: Any, table: str) -> int:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {self.q(table)}")
        return int(cur.fetchone()[0])

    def count_upto(self, conn: Any, b: Binding, key: Any) -> int:
        """Rows with a key up to ``key`` (how far a copy resumed after ``key`` already is)."""
        cond, params = self.key_compare(b, "<=", key)
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {self.q(b.table)} WHERE {cond}", params)
        return int(cur.fetchone()[0])

    def max_key(self, conn: Any, b: Binding) -> Any:
        """The largest key (None: no rows)."""
        cur = conn.cursor()
        cur.execute(f"SELECT {self.key_names(b)} FROM {self.q(b.table)} ORDER BY {self.key_names(b, order=' DESC')} "
                    "LIMIT 1")
        row = cur.fetchone()
        return b.key_of(row) if row else None

    # -- writing -----------------------------------------------------------------------------------------
    def adapter(self, col: Column) -> Callable[[Any], Any] | None:
        """Converts a value read from any engine into what this engine's driver stores for the column."""
        return None

    def upsert_sql(self, b: Binding) -> str:
        marks = ", ".join([self.param] * len(b.names))
        return (f"INSERT INTO {self.q(b.table)} ({self.names(b.names)}) VALUES ({marks}) "
                f"{self.upsert_clause(b.conflict_keys, b.names)}")

    def upsert_rows(self, conn: Any, b: Binding, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            conn.cursor().executemany(self.upsert_sql(b), rows)

    def upsert_from(self, b: Binding, source: str) -> str:
        """Upsert every row of ``source`` (a staging table with the binding's columns) into the table."""
        cols = self.names(b.names)
        return (f"INSERT INTO {self.q(b.table)} ({cols}) SELECT {cols} FROM {source} "
                f"{self.upsert_clause(b.conflict_keys, b.names)}")

    def delete_keys(self, conn: Any, b: Binding, keys: Sequence[Any]) -> None:
        """Delete the rows of these key values (tuples for a composite key)."""
        cur = conn.cursor()
        if b.composite:
            match = " AND ".join(f"{self.q(k)} = {self.param}" for k in b.keys)
            if keys:
                cur.executemany(f"DELETE FROM {self.q(b.table)} WHERE {match}", [list(k) for k in keys])
            return
        for i in range(0, len(keys), 500):
            part = list(keys[i:i + 500])
            marks = ", ".join([self.param] * len(part))
            cur.execute(f"DELETE FROM {self.q(b.table)} WHERE {self.q(b.keys[0])} IN ({marks})", part)

    # -- the key counter ---------------------------------------------------------------------------------
    # Abstract: an engine that forgot its counter would let the side taking over hand out an id again.
    # A one-column key has a counter when it is the table's auto-increment (sequence, identity) column; a
    # composite key when one of its columns is (a composite key usually has none: then nothing to carry).
    @abstractmethod
    def counter_column(self, conn: Any, b: Binding) -> str | None:
        """The key's column that the table's own counter fills (None: the key has no counter)."""

    @abstractmethod
    def next_key(self, conn: Any, b: Binding) -> int | None:
        """The value the key's counter (:meth:`counter_column`) hands out next (None: no counter). Never below
        a value the counter has handed out, even when that row has since been deleted."""

    @abstractmethod
    def reset_sequence(self, conn: Any, b: Binding, at_least: int = 0) -> None:
        """Set the key's sequence / identity / auto-increment counter past its column's largest value and to
        at least ``at_least``; never back; nothing where the key has no counter. The sync passes the source's
        :meth:`next_key`: an id the owner handed out (for a row deleted since, too) is never handed out again by
        the other side once it takes over."""

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
