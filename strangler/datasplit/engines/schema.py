"""The schema role of an engine: one database URL, its connections, its lifecycle, and its dialect's words.

Every other role (:mod:`.capture`, :mod:`.rows`, :mod:`.checksums`, :mod:`.guard`, :mod:`.checkpoints`) builds
on this one: they write SQL with :meth:`Schema.q`, :attr:`Schema.param` and :meth:`Schema.upsert_clause`, and
run it on connections from :meth:`Schema.connect`. It is also all that resolving a plan needs of a database
(:func:`strangler.datasplit.mapping.resolve`: the columns of a table and how to name the database).

A new engine implements the abstract methods here (connect, exists, create, drop, table_exists, and the two
trigger-set methods the capture and the guard share) and overrides the class attributes its dialect spells
differently.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa

from ..bindings import Binding
from ..columns import Column, reflect_columns
from ..exceptions import DatabaseError

# The row events a set of triggers covers, one trigger each where the dialect's trigger takes one event only.
ROW_EVENTS = (("_i", "INSERT"), ("_u", "UPDATE"), ("_d", "DELETE"))

# How a trigger set names its members: a suffix ("_i", "_fn"...) to a trigger (or trigger function) name.
Namer = Callable[[str], str]


def bounded_name(full: str, short: str, key: str, suffix: str) -> str:
    """A trigger's (or function's) name: ``full`` where it has at most 60 characters, else ``short``, 16 hex
    digits of the SHA-1 of ``key`` and ``suffix``; the same on every run (MariaDB takes 64 characters,
    PostgreSQL 63)."""
    if len(full) <= 60:
        return full
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]  # noqa: S324 - a name, not security
    return f"{short}{digest}{suffix}"


class Schema(ABC):
    kind: ClassVar[str] = ""
    param: ClassVar[str] = "%s"            # the driver's placeholder
    int_cast: ClassVar[str] = ""           # SQL type to CAST changelog keys to for integer keys
    float_type: ClassVar[str] = "DOUBLE PRECISION"   # seconds since the epoch in the bookkeeping tables
    table_options: ClassVar[str] = ""      # after CREATE TABLE (...) of the bookkeeping tables (transactional ones)

    def __init__(self, url: sa.URL, label: str) -> None:
        self.url = url
        self.label = label                 # "source" / "target" (messages)
        self._sa: sa.Engine | None = None
        self.django_scale: Callable[[str, str], int | None] | None = None

    # -- connections -------------------------------------------------------------------------------------
    @property
    def display(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @abstractmethod
    def connect(self, *, autocommit: bool = True) -> Any:
        """A raw DB-API connection (the data plane never goes through an ORM); ``autocommit=False``: one for
        explicit transactions (see :meth:`begin`)."""

    def sa_engine(self) -> sa.Engine:
        if self._sa is None:
            self._sa = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        return self._sa

    def dispose(self) -> None:
        if self._sa is not None:
            self._sa.dispose()
            self._sa = None

    # Not abstract: a driver that opens the transaction itself on the first statement (psycopg) needs no begin,
    # and a writer needs no session settings where rows can be written as they are.
    def begin(self, conn: Any) -> None:  # noqa: B027 - a no-op by default, see above
        """Start a write transaction on a connection opened with ``autocommit=False``."""

    def prepare_writer(self, conn: Any) -> None:  # noqa: B027 - a no-op by default, see above
        """Session settings for a connection that writes copied rows (FK checks off where allowed...)."""

    # -- database lifecycle ------------------------------------------------------------------------------
    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def create(self) -> bool:
        """Create the database when missing; True when it was created."""

    @abstractmethod
    def drop(self) -> None: ...

    # -- tables ------------------------------------------------------------------------------------------
    @abstractmethod
    def table_exists(self, conn: Any, table: str) -> bool:
        """Whether ``table`` exists as ``conn`` sees it (inside its transaction: a table it just made counts)."""

    def columns(self, table: str) -> dict[str, Column] | None:
        try:
            return reflect_columns(self.sa_engine(), table)
        except sa.exc.DBAPIError as exc:
            raise DatabaseError(f"{self.label} database {self.display}: {exc.orig}") from exc

    # -- triggers (the capture's and the guard's: a set named by a naming rule, on one table) -------------
    @abstractmethod
    def drop_triggers(self, conn: Any, table: str, name: Namer) -> None:
        """Drop the trigger set ``name`` names on ``table`` (and its trigger functions), where it exists."""

    @abstractmethod
    def triggers_exist(self, conn: Any, table: str, name: Namer) -> bool:
        """Whether the whole trigger set ``name`` names is on ``table``."""

    # -- the dialect's words -----------------------------------------------------------------------------
    def q(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def names(self, columns: Sequence[str]) -> str:
        return ", ".join(self.q(c) for c in columns)

    def literal(self, text: str) -> str:
        """``text`` as an SQL string literal (where the statement takes no parameter: trigger bodies)."""
        return "'" + text.replace("'", "''") + "'"

    # -- keys (one column or several: see :mod:`strangler.datasplit.bindings`) ---------------------------
    def key_names(self, b: Binding, prefix: str = "", order: str = "") -> str:
        """The key's columns, quoted (``prefix``: a table alias and a dot; ``order``: " DESC" after each)."""
        return ", ".join(f"{prefix}{self.q(k)}{order}" for k in b.keys)

    def key_compare(self, b: Binding, op: str, key: Any, prefix: str = "") -> tuple[str, list[Any]]:
        """SQL (and its parameters) of "the row's key ``op`` ``key``" in key order (``op``: <, <=, >, >=): the
        column itself for a one-column key, a row value ``(a, b) > (?, ?)`` for a composite one (which
        PostgreSQL and SQLite answer from the key's index)."""
        if not b.composite:
            return f"{prefix}{self.q(b.keys[0])} {op} {self.param}", [key]
        marks = ", ".join([self.param] * len(b.keys))
        return f"({self.key_names(b, prefix)}) {op} ({marks})", list(key)

    def expanded_compare(self, b: Binding, op: str, key: Any, prefix: str = "") -> tuple[str, list[Any]]:
        """:meth:`key_compare` of a composite key spelt without row values: ``a >= ? AND (a > ? OR (a = ? AND
        b > ?))`` (the first column's bound alone first, so that a range on the key's index serves it)."""
        cols = [f"{prefix}{self.q(k)}" for k in b.keys]
        values, p, strict = list(key), self.param, op[0]
        terms, params = [], []
        for i, col in enumerate(cols):
            last = i == len(cols) - 1
            equal = [f"{c} = {p}" for c in cols[:i]]
            terms.append("(" + " AND ".join([*equal, f"{col} {op if last else strict} {p}"]) + ")")
            params += [*values[:i], values[i]]
        return (f"({cols[0]} {strict}= {p} AND ({' OR '.join(terms)}))", [values[0], *params])

    def cast_key(self, b: Binding, column: str) -> str:
        """A text column (a changelog's ``row_key``) as a one-column key's type, to compare with its key."""
        return f"CAST({column} AS {self.int_cast})" if b.key_columns[0].kind == "int" else column

    def json_item(self, column: str, i: int) -> str:
        """Item ``i`` of the JSON array text in ``column``, unquoted (a composite key in a changelog)."""
        return f"json_extract({column}, '$[{i}]')"

    def cast_key_part(self, col: Column, expr: str) -> str:
        """A composite key's column read from a changelog (:meth:`json_item`) as the column's type."""
        return f"CAST({expr} AS {self.int_cast})" if col.kind == "int" else expr

    def changelog_key(self, b: Binding, column: str) -> list[str]:
        """The key's columns as SQL read from a changelog's ``row_key`` (``column``), one expression a column."""
        if not b.composite:
            return [self.cast_key(b, column)]
        return [self.cast_key_part(col, self.json_item(column, i)) for i, col in enumerate(b.key_columns)]

    def key_json(self, b: Binding, row: str) -> str:
        """A capture trigger's ``row_key`` of the row ``row`` (NEW or OLD): the column itself for a one-column
        key (the encoding every changelog has always had), a JSON array of the columns for a composite one."""
        if not b.composite:
            return f"{row}.{self.q(b.keys[0])}"
        return f"json_array({', '.join(f'{row}.{self.q(k)}' for k in b.keys)})"

    def key_changed(self, b: Binding) -> str:
        """In an update trigger: the row's key is not what it was (NULL-safe, any number of columns)."""
        return " OR ".join(f"OLD.{self.q(k)} IS NOT NEW.{self.q(k)}" for k in b.keys)

    def upsert_clause(self, keys: Sequence[str], columns: Sequence[str]) -> str:
        """What follows an INSERT so that a row whose ``keys`` exist replaces the other ``columns`` instead."""
        rest = [c for c in columns if c not in keys]
        action = ("DO UPDATE SET " + ", ".join(f"{self.q(c)} = excluded.{self.q(c)}" for c in rest)
                  if rest else "DO NOTHING")
        return f"ON CONFLICT ({self.names(keys)}) {action}"

    # -- bookkeeping tables (changelog identities, guard, checkpoints) ----------------------------------
    def rows_of(self, conn: Any, table: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """The rows ``sql`` selects from ``table``; none where the table does not exist (nothing recorded
        there yet: a database the plan has not written to reads as empty, not as an error)."""
        if not self.table_exists(conn, table):
            return []
        cur = conn.cursor()
        cur.execute(sql, params)
        return list(cur.fetchall())

    def write_if_table(self, conn: Any, table: str, sql: str, params: Sequence[Any]) -> None:
        """Run ``sql`` (a DELETE or UPDATE of ``table``) where the table exists: nothing to change otherwise."""
        if self.table_exists(conn, table):
            conn.cursor().execute(sql, params)
