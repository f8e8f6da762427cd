"""Stock reservations: stock taken for a checkout that is not finished yet, returned by itself if it never is.

``stock_reservations``: one a reserve call (its id, the caller's idempotency key and a hash of what it asked,
``held`` / ``committed`` / ``released`` / ``expired``, when it expires); ``stock_reservation_items``: what it
holds, per product (a product held by an open reservation cannot be deleted).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "stock_reservations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stock_reservations"),
        sa.UniqueConstraint("idempotency_key", name="uq_stock_reservations_idempotency_key"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_stock_reservations_state_expires_at", "stock_reservations", ["state", "expires_at"])
    op.create_table(
        "stock_reservation_items",
        sa.Column("reservation_id", sa.String(36), nullable=False),
        sa.Column("product_id", ID, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("reservation_id", "product_id", name="pk_stock_reservation_items"),
        sa.ForeignKeyConstraint(["reservation_id"], ["stock_reservations.id"],
                                name="fk_stock_reservation_items_reservation_id_stock_reservations",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name="fk_stock_reservation_items_product_id_products", ondelete="RESTRICT"),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_reservation_items_quantity_positive")),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_stock_reservation_items_product_id", "stock_reservation_items", ["product_id"])


def downgrade() -> None:
    op.drop_table("stock_reservation_items")
    op.drop_table("stock_reservations")
