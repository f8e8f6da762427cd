"""What an order shows of its shipment: ``order_shipments``, a read-only snapshot of the monolith's
``shipping_shipment`` (id, order id, carrier, tracking number, status), filled by the plan's data split.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "order_shipments",
        sa.Column("id", ID, nullable=False, autoincrement=False),
        sa.Column("order_id", ID, nullable=False),
        sa.Column("carrier", sa.String(20), nullable=False),
        sa.Column("tracking_number", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_shipments"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_order_shipments_order_id", "order_shipments", ["order_id"])


def downgrade() -> None:
    op.drop_table("order_shipments")
