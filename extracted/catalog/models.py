"""The catalog's tables: ``categories`` and ``products``, the monolith's columns under the same names.

Types are chosen so rows copied from the monolith keep their values exactly: ``price`` NUMERIC(10,2),
timestamps timezone-aware (PostgreSQL ``timestamptz``; SQLite and MariaDB keep UTC wall time with
microseconds), booleans, unique ``sku`` and ``slug``, and foreign keys inside the service.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from extracted.catalog.base import ID, TIMESTAMP
from extracted.catalog.base import Base as Base  # migrations/env.py's metadata, tables included
from extracted.catalog.events.tables import outbox_table

MAX_STOCK = 2_147_483_647
# The search index (0002: SQLite's FTS5 and its shadow tables) is SQL of its own, not part of the models: Alembic's
# autogenerate leaves its tables alone (migrations/env.py).
Base.metadata.info["not_modelled"] = ("products_search",)


class Category(Base):
    __tablename__ = "categories"
    __table_args__ = {"mysql_charset": "utf8mb4", "sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(140), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ID, ForeignKey("categories.id", ondelete="RESTRICT"), index=True)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        Index("ix_products_price", "price"),
        Index("ix_products_name", "name"),
        Index("ix_products_created_at", "created_at"),
        {"mysql_charset": "utf8mb4", "sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    stock: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    category_id: Mapped[int] = mapped_column(ID, ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMP)


class StockReservation(Base):
    """Stock taken for a checkout not finished yet (see ``reservations``): held until committed, released or
    expired."""

    __tablename__ = "stock_reservations"
    __table_args__ = (Index("ix_stock_reservations_state_expires_at", "state", "expires_at"),
                      {"mysql_charset": "utf8mb4"})

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10))
    expires_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMP)


class StockReservationItem(Base):
    __tablename__ = "stock_reservation_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"), {"mysql_charset": "utf8mb4"})

    reservation_id: Mapped[str] = mapped_column(String(36), ForeignKey("stock_reservations.id", ondelete="CASCADE"),
                                                primary_key=True)
    product_id: Mapped[int] = mapped_column(ID, ForeignKey("products.id", ondelete="RESTRICT"), primary_key=True,
                                            index=True)
    quantity: Mapped[int] = mapped_column(Integer)


categories = cast(Table, Category.__table__)
products = cast(Table, Product.__table__)
reservations = cast(Table, StockReservation.__table__)
reservation_items = cast(Table, StockReservationItem.__table__)
# What the catalog tells other services (catalog.stock.changed), written with the change (events/outbox.py).
outbox = outbox_table(Base.metadata)
