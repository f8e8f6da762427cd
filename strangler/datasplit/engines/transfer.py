"""How rows move from one engine to another: one class per engine pair with a fast path, one generic.

All transfers share one interface: :meth:`Transfer.open` the two connections, then per batch
:meth:`begin`, :meth:`move` (any number of tables / selections), write the checkpoint on :attr:`tgt`
and :meth:`commit` — the rows and the checkpoint land in one target transaction.
"""

from __future__ import annotations

from typing import Any

from ..bindings import TablePair
from .base import Engine
from .rows import Selection


class Transfer:
    name = "generic"

    def __init__(self, source: Engine, target: Engine) -> None:
        self.source = source
        self.target = target
        self.src: Any = None      # source connection (autocommit reads)
        self.tgt: Any = None      # target connection (explicit transactions)

    def open(self) -> Transfer:
        self.src = self.source.connect(autocommit=True)
        self.tgt = self.target.connect(autocommit=False)
        self.target.prepare_writer(self.tgt)
        return self

    def close(self) -> None:
        for conn in (self.src, self.tgt):
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001,S110 - closing after a failure must not hide the failure
                    pass
        self.src = self.tgt = None

    def __enter__(self) -> Transfer:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None and self.tgt is not None:
            try:
                self.tgt.rollback()
            except Exception:  # noqa: BLE001,S110
                pass
        self.close()

    def begin(self) -> None:
        self.target.begin(self.tgt)

    def commit(self) -> None:
        self.tgt.commit()

    def move(self, pair: TablePair, sel: Selection) -> int:
        """Upsert the selected source rows into the target (inside the open transaction); rows moved."""
        raise NotImplementedError

    def carry_counter(self, pair: TablePair) -> None:
        """The target's key counter past its largest key and past the source's own counter: once the target
        takes writes it never hands out an id the source gave a row that was deleted since (a client told
        "product 312 deleted" must not find another product 312 after the switch). A key without a counter
        (most composite keys) has nothing to carry; the source's counter is carried only into the same
        (mapped) column's counter on the target."""
        at_least = 0
        counted = self.source.counter_column(self.src, pair.source)
        if counted is not None:
            column = pair.target.names[pair.source.names.index(counted)]
            if self.target.counter_column(self.tgt, pair.target) == column:
                at_least = self.source.next_key(self.src, pair.source) or 0
        self.target.reset_sequence(self.tgt, pair.target, at_least)


class GenericTransfer(Transfer):
    """Rows through Python: fetch a batch, adapt each value for the target's driver, executemany an upsert."""

    def move(self, pair: TablePair, sel: Selection) -> int:
        rows = self.source.fetch_rows(self.src, pair.source, sel)
        adapters = [self.target.adapter(c) for c in pair.target.columns]
        if any(adapters):
            fns = [(i, a) for i, a in enumerate(adapters) if a is not None]
            converted = []
            for row in rows:
                values = list(row)
                for i, fn in fns:
                    if values[i] is not None:
                        values[i] = fn(values[i])
                converted.append(values)
            rows = converted  # type: ignore[assignment]
        self.target.upsert_rows(self.tgt, pair.target, rows)
        return len(rows)


class AttachTransfer(Transfer):
    """SQLite to SQLite: the source file ATTACHed to the target connection, INSERT ... SELECT ... ON CONFLICT."""

    name = "sqlite-attach"
    schema = "strangler_src"

    def open(self) -> Transfer:
        super().open()
        self.tgt.execute(f"ATTACH DATABASE ? AS {self.schema}", [str(self.source.path)])  # type: ignore[attr-defined]
        return self

    def begin(self) -> None:
        self.tgt.execute("BEGIN")   # deferred: only the target gets a write lock, the monolith keeps writing

    def move(self, pair: TablePair, sel: Selection) -> int:
        e = self.target
        cond, params = self.source.where(pair.source, sel, prefix=f"{self.schema}.")
        upsert = e.upsert_clause(pair.target.conflict_keys, pair.target.names)
        cur = self.tgt.execute(
            f"INSERT INTO main.{e.q(pair.target.table)} ({e.names(pair.target.names)}) SELECT "
            f"{e.names(pair.source.names)} FROM {self.schema}.{e.q(pair.source.table)} WHERE {cond} "
            f"ORDER BY {e.key_names(pair.source)} {upsert}", params)
        return max(int(cur.rowcount), 0)


class StagedTransfer(Transfer):
    """Into PostgreSQL (COPY) or MariaDB (LOAD DATA LOCAL INFILE): the batch as tab-separated text into a
    temporary staging table, then one INSERT ... SELECT upsert. SQLite sources build the text in SQL."""

    name = "staged"

    def move(self, pair: TablePair, sel: Selection) -> int:
        text, n = self.source.copy_text(self.src, pair.source, pair.target, sel)
        if n:
            self.target.load_copy_text(self.tgt, pair.target, text)
        return n


def transfer_for(source: Engine, target: Engine, pairs: list[TablePair] | None = None, *,
                 generic: bool = False) -> Transfer:
    """The fastest transfer the pair of engines has (``generic=True``: always the generic one)."""
    if generic:
        return GenericTransfer(source, target)
    if source.kind == target.kind == "sqlite":
        return AttachTransfer(source, target)
    if target.kind == "postgresql":
        t = StagedTransfer(source, target)
        t.name = "postgresql-copy"
        return t
    if target.kind == "mysql" and not any(c.kind == "bytes" for p in pairs or () for c in p.target.columns):
        t = StagedTransfer(source, target)
        t.name = "mysql-load-data"
        return t
    return GenericTransfer(source, target)
