"""Fixtures for every monolith test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update

from extracted.catalog.models import categories as categories_table
from extracted.catalog.models import products as products_table
from legacy_monolith import switches
from legacy_monolith.catalog.models import Category, Product
from strangler.processes import ManagedProcess, free_port


@pytest.fixture(autouse=True)
def _fresh_switches() -> Iterator[None]:
    """Runtime switches are cached per process for a second; a test's rows are gone after it, so is the cache."""
    switches.clear_cache()
    yield
    switches.clear_cache()


# --- the catalog service as a real process, for the catalog gateway's remote mode ------------------------------

SERVICE_TOKEN = "monolith-to-catalog-token-for-tests"  # noqa: S105 - a test value
REPO = Path(__file__).resolve().parents[2]


@dataclass
class CatalogService:
    """A running ``python -m extracted.catalog`` on its own migrated SQLite file, and a handle on its tables."""

    url: str
    engine: Engine
    process: ManagedProcess

    def reset(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(products_table))
            conn.execute(update(categories_table).values(parent_id=None))
            conn.execute(delete(categories_table))

    def mirror(self, *products: Product, **overrides: Any) -> None:
        """Copies the monolith's categories and the given products into the service (same ids), as the
        migration's copy step would; ``overrides`` change columns on the service's side only."""
        self.reset()
        with self.engine.begin() as conn:
            cats = list(Category.objects.order_by("parent_id", "pk").values("id", "name", "slug", "parent_id"))
            for row in sorted(cats, key=lambda r: (r["parent_id"] is not None, r["id"])):
                conn.execute(insert(categories_table).values(**row))
            for product in products:
                product.refresh_from_db()
                row = {name: getattr(product, name) for name in (
                    "id", "sku", "name", "description", "price", "stock", "is_active", "category_id",
                    "created_at", "updated_at")}
                conn.execute(insert(products_table).values(**{**row, **overrides}))

    def stock(self, product: Product | int) -> int:
        pk = product if isinstance(product, int) else product.pk
        with self.engine.connect() as conn:
            value = conn.execute(select(products_table.c.stock).where(products_table.c.id == pk)).scalar()
        assert value is not None, f"product {pk} is not in the catalog service"
        return int(value)

    def set(self, product: Product, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(products_table).where(products_table.c.id == product.pk).values(**values))


@pytest.fixture(scope="session")
def _catalog_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogService]:
    from extracted.catalog.db import make_engine
    from extracted.catalog.migrate import upgrade_head

    folder = tmp_path_factory.mktemp("catalog-service")
    url = f"sqlite:///{folder / 'catalog.sqlite3'}"
    engine = make_engine(url)
    upgrade_head(engine)
    port = free_port()
    process = ManagedProcess("catalog", [sys.executable, "-m", "extracted.catalog", "--port", str(port)],
                             log_path=folder / "catalog.log", cwd=REPO,
                             env={"CATALOG_DATABASE_URL": url, "CATALOG_SERVICE_TOKEN": SERVICE_TOKEN})
    with process:
        process.wait_healthy(f"http://127.0.0.1:{port}/healthz")
        yield CatalogService(url=f"http://127.0.0.1:{port}", engine=engine, process=process)
    engine.dispose()


@pytest.fixture
def catalog_service(_catalog_process: CatalogService, settings) -> Iterator[CatalogService]:
    """The running catalog service, emptied, with the monolith's settings pointing at it."""
    settings.CATALOG_SERVICE_URL = _catalog_process.url
    settings.CATALOG_SERVICE_TOKEN = SERVICE_TOKEN
    _catalog_process.reset()
    yield _catalog_process
    _catalog_process.reset()
