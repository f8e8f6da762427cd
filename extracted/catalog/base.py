"""What every table of the service derives from (``models.py``): the declarative base, whose constraints and
indexes get the names the first revision gives them, and the column types of ids and timestamps, so rows copied
from the monolith keep their values exactly."""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase

NAMING: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit ids like Django's BigAutoField; SQLite only auto-increments an INTEGER PRIMARY KEY.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Timezone-aware (PostgreSQL timestamptz); SQLite and MariaDB keep UTC wall time with microseconds.
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
