"""The two tables a service keeps for events, added to its own metadata (and so to its Alembic history):
``event_outbox`` (what it published or will) and ``event_inbox`` (the ids of the events it has applied)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects import mysql

Id = BigInteger().with_variant(Integer(), "sqlite")
Timestamp = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
Payload = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "event_outbox", metadata,
        Column("id", Id, primary_key=True, autoincrement=True),  # publishing order
        Column("event_id", String(36), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("payload", Payload, nullable=False),  # the whole envelope, as published
        Column("created_at", Timestamp, nullable=False),
        Column("published_at", Timestamp, nullable=True),
        Index("ix_event_outbox_published_at_id", "published_at", "id"),
        mysql_charset="utf8mb4", sqlite_autoincrement=True,
    )


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "event_inbox", metadata,
        Column("consumer", String(100), primary_key=True),  # two consumers in one service apply an event each
        Column("event_id", String(36), primary_key=True),
        Column("subject", String(200), nullable=False),
        Column("applied_at", Timestamp, nullable=False),
        mysql_charset="utf8mb4",
    )
