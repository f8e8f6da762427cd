"""Followed shipments: the newest ``shipping.shipment.changed`` version the service applied to each shipment's
order (events may arrive out of order; an older one is skipped). Not part of the data split: the service always
owns it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "followed_shipments",
        sa.Column("shipment_id", ID, nullable=False, autoincrement=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("version", ID, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("shipment_id", name="pk_followed_shipments"),
        mysql_charset="utf8mb4",
    )


def downgrade() -> None:
    op.drop_table("followed_shipments")
