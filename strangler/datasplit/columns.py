"""Column kinds: what the engine knows about a column, whatever database declared it.

Every column is classified into one *kind* that decides how its values are moved and how they are normalised
for checksums: ``int``, ``decimal`` (with a scale), ``float``, ``bool``, ``datetime``, ``date``, ``time``,
``text`` and ``bytes``. Classification starts from SQLAlchemy's reflected type and falls back to SQLite's
affinity rules on the declared type text (SQLite accepts any declaration, Django writes e.g. ``decimal``,
``bool``, ``integer unsigned``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as sa_mysql

KINDS = ("int", "decimal", "float", "bool", "datetime", "date", "time", "text", "bytes")

# Kinds that may be moved into each other without losing meaning (source kind -> accepted target kinds).
COMPATIBLE: dict[str, set[str]] = {
    "int": {"int", "decimal", "bool"},
    "bool": {"bool", "int"},
    "decimal": {"decimal", "float"},
    "float": {"float", "decimal"},
    "datetime": {"datetime"},
    "date": {"date", "datetime"},
    "time": {"time"},
    "text": {"text"},
    "bytes": {"bytes"},
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    declared: str                   # the type as the database declares it (for messages)
    nullable: bool = True
    scale: int | None = None        # decimals only; None when the database does not say (SQLite)
    has_default: bool = False
    primary_key: bool = False
    tz_aware: bool = True           # datetimes: stored with a time zone (PostgreSQL timestamptz)

    def with_scale(self, scale: int | None) -> Column:
        return Column(self.name, self.kind, self.declared, self.nullable, scale, self.has_default,
                      self.primary_key, self.tz_aware)


def classify(type_: Any, declared: str) -> tuple[str, int | None, bool]:
    """(kind, scale, tz_aware) of a reflected SQLAlchemy type."""
    if isinstance(type_, sa_mysql.TINYINT) and getattr(type_, "display_width", None) == 1:
        return "bool", None, False
    if isinstance(type_, sa.Boolean):
        return "bool", None, False
    if isinstance(type_, sa.Integer):
        return "int", None, False
    if isinstance(type_, sa.Float):
        return "float", None, False
    if isinstance(type_, sa.Numeric):
        return "decimal", type_.scale, False
    if isinstance(type_, sa.DateTime):
        return "datetime", None, bool(getattr(type_, "timezone", False))
    if isinstance(type_, sa.Date):
        return "date", None, False
    if isinstance(type_, sa.Time):
        return "time", None, False
    if isinstance(type_, sa.LargeBinary | sa_mysql.VARBINARY | sa_mysql.BINARY):
        return "bytes", None, False
    if isinstance(type_, sa.String | sa.JSON | sa.Uuid | sa.Enum):
        return "text", None, False
    return affinity(declared), None, False


def affinity(declared: str) -> str:
    """SQLite-style classification of a declared type text (``integer unsigned``, ``decimal``, ``bool``...)."""
    d = declared.lower()
    if "bool" in d:
        return "bool"
    if "int" in d:
        return "int"
    if "datetime" in d or "timestamp" in d:
        return "datetime"
    if d.startswith("date"):
        return "date"
    if d.startswith("time"):
        return "time"
    if any(x in d for x in ("char", "clob", "text", "json", "uuid")):
        return "text"
    if "blob" in d or "binary" in d or "bytea" in d or not d:
        return "bytes" if d else "text"
    if any(x in d for x in ("real", "floa", "doub")):
        return "float"
    if "dec" in d or "num" in d:
        return "decimal"
    return "text"


def reflect_columns(sa_engine: sa.Engine, table: str) -> dict[str, Column] | None:
    """The table's columns in declaration order, or None when there is no such table."""
    inspector = sa.inspect(sa_engine)
    if not inspector.has_table(table):
        return None
    pk = set(inspector.get_pk_constraint(table).get("constrained_columns") or ())
    out: dict[str, Column] = {}
    for info in inspector.get_columns(table):
        type_ = info["type"]
        try:
            declared = str(type_.compile(dialect=sa_engine.dialect))
        except Exception:  # noqa: BLE001 - NullType and odd reflected types do not compile
            declared = str(getattr(type_, "__visit_name__", "")) or ""
        if sa_engine.dialect.name == "sqlite" and isinstance(type_, sa.types.NullType):
            declared = _sqlite_declared(sa_engine, table, info["name"])
        kind, scale, tz = classify(type_, declared)
        out[info["name"]] = Column(
            name=info["name"], kind=kind, declared=declared, nullable=bool(info.get("nullable", True)),
            scale=scale, has_default=info.get("default") is not None or bool(info.get("autoincrement") is True),
            primary_key=info["name"] in pk, tz_aware=tz,
        )
    return out


def _sqlite_declared(sa_engine: sa.Engine, table: str, column: str) -> str:
    with sa_engine.connect() as conn:
        for row in conn.exec_driver_sql(f'PRAGMA table_info("{table}")'):
            if row[1] == column:
                return str(row[2] or "")
    return ""
