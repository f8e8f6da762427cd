"""Checkouts: one row per checkout the service has taken on (the client's ``Idempotency-Key`` for one user, the
hash of what it asked, the durable workflow that runs it and the order that workflow made, once made).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "checkouts",
        sa.Column("workflow_id", sa.String(100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", name="pk_checkouts"),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_checkouts_user_id_idempotency_key"),
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("checkouts")
