"""Loads a monolith-shaped catalog straight into the service's tables (what the data-split engine will do).

``monolith_rows()`` builds deterministic rows shaped like ``catalog_category`` / ``catalog_product`` (the same
column names, Django's kinds of values: Decimal prices, aware UTC datetimes with and without microseconds,
booleans, a category tree); ``load(engine, categories, products)`` inserts them as they are.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, text

from extracted.catalog.models import categories as categories_table
from extracted.catalog.models import products as products_table

TREE = [
    (1, "Kitchen", "kitchen", None),
    (2, "Knives", "kitchen-knives", 1),
    (3, "Chef knives", "kitchen-knives-chef", 2),
    (4, "Cookware", "kitchen-cookware", 1),
    (5, "Garden", "garden", None),
]
WORDS = ["Santoku", "Bread", "Paring", "Über", "Crème", "Cast-iron", "Steel", "Cork", "100%", "snake_case"]


def monolith_rows(products: int = 60, *, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    cats = [{"id": i, "name": n, "slug": s, "parent_id": p} for i, n, s, p in TREE]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(1, products + 1):
        created = start + timedelta(hours=n * 7, microseconds=0 if n % 3 else n * 1001)
        rows.append({
            "id": n,
            "sku": f"SKU-{n:07d}",
            "name": f"{rng.choice(WORDS)} {rng.choice(WORDS).lower()} {n}",
            "description": "" if n % 4 == 0 else f"Item {n} ✨ {rng.choice(WORDS)}",
            "price": Decimal(rng.randrange(0, 200_000)) / 100 if n != 5 else Decimal("10.00"),
            "stock": 0 if n % 5 == 0 else rng.randrange(1, 500),
            "is_active": n % 11 != 0,
            "category_id": rng.choice(TREE)[0],
            "created_at": created,
            "updated_at": created + timedelta(days=1),
        })
    return cats, rows


def load(engine: Engine, categories: list[dict[str, Any]], products: list[dict[str, Any]]) -> None:
    """Inserts the rows as given (ids included), parents before children."""
    with engine.begin() as conn:
        if categories:
            for row in sorted(categories, key=lambda r: (r["parent_id"] is not None, r["id"])):
                conn.execute(insert(categories_table).values(**row))
        if products:
            conn.execute(insert(products_table), products)
        if conn.dialect.name == "postgresql":  # ids were given: move the identity sequences past them
            for table in ("categories", "products"):
                sql = (f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
                       f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")
                conn.execute(text(sql))
