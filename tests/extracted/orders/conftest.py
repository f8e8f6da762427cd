"""The checkout saga's stage: every owner it talks to as a real process on a free port, each with its own
database (SQLite files here): the monolith (gunicorn: shipping and the address book), the catalog service (the
stock and its reservations), the cart service (the carts), and the orders service itself, which a test starts,
kills (SIGKILL at a named crash point) and starts again on the same port and the same files.

Customers are named by the identity token the router would mint (the orders service verifies it); their carts
and the products are written straight into the owners' databases, as the data split would have left them.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import Engine, create_engine, delete, func, insert, select, text

from extracted.cart.models import cart_items, carts
from extracted.catalog.models import categories, products, reservations
from extracted.orders.models import checkouts, order_lines, orders, outbox
from strangler.processes import ManagedProcess, free_port
from tests.support.servers import ShopServer, running_shop, scratch_database

REPO = Path(__file__).resolve().parents[3]
SECRET = "checkout-saga-tests-identity-secret-0123456789"  # noqa: S105 - a test value
TOKENS = {"CATALOG_SERVICE_TOKEN": "saga-catalog-token", "CART_SERVICE_TOKEN": "saga-cart-token",
          "ORDERS_SERVICE_TOKEN": "saga-orders-token"}
SHIP_TO = {"full_name": "Åsa Öberg", "line1": "Storgatan 1", "city": "Malmö", "postal_code": "211 22",
           "country": "se"}
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
# The shoppers here are browsers logged in by session (the router's identity token alone says who they are): their
# writes carry the CSRF cookie and header DRF's SessionAuthentication wants (a secret of 32 letters and digits).
CSRF_SECRET = "SagaTestsBrowserCsrfSecret012345"
CSRF = {"Cookie": f"csrftoken={CSRF_SECRET}", "X-CSRFToken": CSRF_SECRET}


def mint(user_id: int, *, staff: bool = False) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "staff": staff, "iat": now, "exp": now + 600, "iss": "strangler-router",
                       "aud": "strangler-services"}, SECRET, algorithm="HS256")


def _service(name: str, module: str, url: str, folder: Path, env: dict[str, str]
             ) -> tuple[ManagedProcess, str, Engine]:
    migrate = __import__(f"extracted.{module}.migrate", fromlist=["upgrade_head"])
    make = __import__(f"extracted.{module}.db", fromlist=["make_engine"])
    engine = make.make_engine(url)
    migrate.upgrade_head(engine)
    port = free_port()
    process = ManagedProcess(name, [sys.executable, "-m", f"extracted.{module}", "--port", str(port)],
                             log_path=folder / f"{name}.log", cwd=REPO,
                             env={**TOKENS, f"{module.upper()}_DATABASE_URL": url, **env})
    return process, f"http://127.0.0.1:{port}", engine


@dataclass
class Stage:
    shop: ShopServer
    catalog_url: str
    catalog: Engine
    cart: Engine
    orders: Engine
    orders_url: str
    orders_port: int
    orders_env: dict[str, str]
    folder: Path
    shop_db: Engine
    dbos_url: str = ""
    catalog_process: ManagedProcess | None = None
    process: ManagedProcess | None = None
    users: list[int] = field(default_factory=list)

    # --- the orders service, started and killed at will -------------------------------------------------------

    def start_orders(self, **env: str) -> ManagedProcess:
        self.stop_orders()
        self.process = ManagedProcess(
            "orders", [sys.executable, "-m", "extracted.orders", "--port", str(self.orders_port)],
            log_path=self.folder / "orders.log", cwd=REPO, env={**self.orders_env, **env}).start()
        self.process.wait_healthy(f"{self.orders_url}/healthz", timeout=60)
        return self.process

    def stop_orders(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def wait_killed(self, timeout: float = 30.0) -> None:
        assert self.process is not None and self.process.proc is not None
        self.process.proc.wait(timeout=timeout)
        assert self.process.proc.returncode == -9, self.process.log_tail()
        self.process = None

    def checkout(self, user_id: int, body: dict[str, Any] | None = None, *, key: str | None = None,
                 timeout: float = 60.0) -> httpx.Response:
        headers = {"X-Identity-Token": mint(user_id), "Host": "localhost", **CSRF}
        if key is not None:
            headers["Idempotency-Key"] = key
        sent = {"shipping_address": SHIP_TO} if body is None else body
        return httpx.post(f"{self.orders_url}/api/orders/checkout/", json=sent, headers=headers, timeout=timeout)

    # --- the owners' data ---------------------------------------------------------------------------------------

    def new_user(self) -> int:
        user_id = 1000 + len(self.users) + int(uuid.uuid4().int % 100000) * 10
        self.users.append(user_id)
        return user_id

    def product(self, stock: int, price: str = "12.50") -> int:
        with self.catalog.begin() as conn:
            category = conn.execute(select(categories.c.id).limit(1)).scalar()
            if category is None:
                category = conn.execute(insert(categories).values(name="Kitchen", slug="kitchen")
                                        ).inserted_primary_key[0]  # type: ignore[index]
            sku = f"SKU-{uuid.uuid4().hex[:8]}"
            return int(conn.execute(insert(products).values(
                sku=sku, name=f"Knife {sku}", description="", price=Decimal(price), stock=stock, is_active=True,
                category_id=category, created_at=NOW, updated_at=NOW)).inserted_primary_key[0])  # type: ignore[index]

    def fill_cart(self, user_id: int, lines: dict[int, int]) -> None:
        with self.cart.begin() as conn:
            cart_id = conn.execute(select(carts.c.id).where(carts.c.user_id == user_id)).scalar()
            if cart_id is None:
                cart_id = conn.execute(insert(carts).values(user_id=user_id, created_at=NOW, updated_at=NOW)
                                       ).inserted_primary_key[0]  # type: ignore[index]
            for product_id, quantity in lines.items():
                conn.execute(insert(cart_items).values(cart_id=cart_id, product_id=product_id, quantity=quantity,
                                                       added_at=NOW))

    def cart_of(self, user_id: int) -> dict[int, int]:
        with self.cart.connect() as conn:
            rows = conn.execute(select(cart_items.c.product_id, cart_items.c.quantity).join(
                carts, carts.c.id == cart_items.c.cart_id).where(carts.c.user_id == user_id))
            return {row.product_id: row.quantity for row in rows}

    def stock(self, product_id: int) -> int:
        with self.catalog.connect() as conn:
            return int(conn.execute(select(products.c.stock).where(products.c.id == product_id)).scalar_one())

    def reservations_of(self, key_prefix: str) -> list[tuple[str, str]]:
        with self.catalog.connect() as conn:
            return [(r.idempotency_key, r.state) for r in conn.execute(
                select(reservations.c.idempotency_key, reservations.c.state).where(
                    reservations.c.idempotency_key.like(f"{key_prefix}%")))]

    def orders_of(self, user_id: int) -> list[dict[str, Any]]:
        with self.orders.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(orders).where(orders.c.user_id == user_id))]

    def lines_of(self, order_id: int) -> dict[int, int]:
        with self.orders.connect() as conn:
            return {r.product_id: r.quantity for r in conn.execute(
                select(order_lines.c.product_id, order_lines.c.quantity).where(order_lines.c.order_id == order_id))}

    def workflow_of(self, user_id: int) -> list[str]:
        with self.orders.connect() as conn:
            return list(conn.execute(select(checkouts.c.workflow_id).where(checkouts.c.user_id == user_id)).scalars())

    def events(self, subject: str) -> list[str]:
        with self.orders.connect() as conn:
            return list(conn.execute(select(outbox.c.payload).where(outbox.c.subject == subject)).scalars())

    def shipments_of(self, order_id: int) -> list[tuple[int, str]]:
        with self.shop_db.connect() as conn:
            return [(r.id, r.status) for r in conn.execute(
                text("SELECT id, status FROM shipping_shipment WHERE order_id = :o"), {"o": order_id})]

    def pending_workflows(self) -> int:
        """Workflows DBOS has not finished (its system database: SQLite, or PostgreSQL's ``dbos`` schema)."""
        engine = create_engine(self.dbos_url)
        table = "workflow_status" if engine.dialect.name == "sqlite" else "dbos.workflow_status"
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(f"SELECT COUNT(*) FROM {table} "  # noqa: S608 - a constant
                                             "WHERE status IN ('PENDING', 'ENQUEUED')")).scalar_one())
        finally:
            engine.dispose()

    def count(self, engine: Engine, table: Any) -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def clear(self) -> None:
        with self.orders.begin() as conn:
            for table in (order_lines, orders, checkouts, outbox):
                conn.execute(delete(table))


@pytest.fixture(scope="session")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    folder = tmp_path_factory.mktemp("checkout-saga")
    saved = {name: os.environ.get(name) for name in TOKENS}
    port = free_port()
    os.environ.update(TOKENS)   # the monolith started below reads ORDERS_SERVICE_TOKEN from its environment
    saved["ORDERS_SERVICE_URL"] = os.environ.get("ORDERS_SERVICE_URL")
    os.environ["ORDERS_SERVICE_URL"] = f"http://127.0.0.1:{port}"   # its orders gateway, once remote
    try:
        with ExitStack() as stack:
            shop = stack.enter_context(running_shop(folder / "shop", workers=2,
                                                    seed_args=("--products", "5", "--users", "8", "--orders", "0")))
            # Every database of the suite's kind (scratch_database: SQLite files, or PostgreSQL databases of
            # their own in the PostgreSQL pass), DBOS's system database too.
            urls = {name: stack.enter_context(scratch_database(folder / name))
                    for name in ("catalog", "cart", "orders", "dbos")}
            catalog_process, catalog_url, catalog = _service("catalog", "catalog", urls["catalog"], folder, {})
            cart_process, cart_url, cart = _service("cart", "cart", urls["cart"], folder, {
                "CART_CATALOG_URL": catalog_url, "CART_MONOLITH_URL": shop.url})
            stack.enter_context(catalog_process)
            stack.enter_context(cart_process)
            catalog_process.wait_healthy(f"{catalog_url}/healthz")
            cart_process.wait_healthy(f"{cart_url}/healthz")
            shop.env["EVENTS_URL"] = f"sqlite:///{folder / 'events.sqlite3'}"   # the bus both sides open
            orders_url_db = urls["orders"]
            from extracted.orders.db import make_engine
            from extracted.orders.migrate import upgrade_head

            orders_engine = make_engine(orders_url_db)
            upgrade_head(orders_engine)
            stage = Stage(
                shop=shop, catalog_url=catalog_url, catalog=catalog, cart=cart, orders=orders_engine,
                orders_url=f"http://127.0.0.1:{port}", orders_port=port, folder=folder,
                shop_db=create_engine(shop.database_url), catalog_process=catalog_process,
                dbos_url=urls["dbos"],
                orders_env={**TOKENS, "ORDERS_DATABASE_URL": orders_url_db, "ORDERS_VAR_DIR": str(folder / "var"),
                            "ORDERS_DBOS_DATABASE_URL": urls["dbos"],
                            "ROUTER_IDENTITY_SECRET": SECRET, "ORDERS_CATALOG_URL": catalog_url,
                            "ORDERS_CART_URL": cart_url, "ORDERS_ACCOUNTS_URL": shop.url,
                            "ORDERS_SHIPPING_URL": shop.url,
                            "EVENTS_URL": shop.env["EVENTS_URL"]})
            try:
                yield stage
            finally:
                stage.stop_orders()
                for engine in (catalog, cart, orders_engine, stage.shop_db):
                    engine.dispose()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def running(stage: Stage) -> Iterator[Stage]:
    """The orders service started afresh for the test (no crash point), stopped after it."""
    stage.start_orders()
    yield stage
    stage.stop_orders()
