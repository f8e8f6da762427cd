"""The checkout benchmark's two stages, every process on a free port with databases of its own (SQLite files in
one temporary folder), both up for the whole run so the sides can be measured in turn:

- **monolith**: the shop (gunicorn, 2 sync workers, as ``scripts/stack.py`` runs it; its gateways local: the
  checkout is one database transaction) behind a router whose checkout route goes to the monolith;
- **saga**: a second copy of the same shop (it still answers the router's identity look-ups and owns shipping),
  the catalog service (stock reservations), the cart service and the orders service (the DBOS saga), each one
  uvicorn worker, behind a router whose checkout route goes to the orders service.

The two routers run the same routes file but for that route's backend; the identity bridge is on in both (a
route still on the monolith, the default backend, costs no look-up: that is the router's own rule, so what the
saga side pays for it is part of its cost).

Data, written straight into the owners' databases as ``tests/extracted/orders/checkout/conftest.py`` does (the
benchmarks import nothing from ``tests/``): ``seed_shop`` once, the file copied for the second shop; every
customer gets an API token, every product a stock no run can exhaust, and every customer one cart of two lines.
The saga side's catalog and cart services get the same products (same ids, prices) and the same carts.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import textwrap
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from benchmarks.catalog_service import GUNICORN, PYTHON, ROOT, Processes, manage
from strangler.processes import free_port

STOCK = 10_000_000
SECRET = "checkout-benchmark-identity-secret-" + uuid.uuid4().hex
TOKENS = {"CATALOG_SERVICE_TOKEN": "bench-catalog-" + uuid.uuid4().hex,
          "CART_SERVICE_TOKEN": "bench-cart-" + uuid.uuid4().hex,
          "ORDERS_SERVICE_TOKEN": "bench-orders-" + uuid.uuid4().hex}
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def cart_lines(index: int, product_ids: list[int]) -> dict[int, int]:
    """Customer ``index``'s cart: two products, 1 and 2 of them."""
    first = product_ids[index % len(product_ids)]
    second = product_ids[(index + 7) % len(product_ids)]
    return {first: 1, second: 2} if first != second else {first: 3}


@dataclass
class Side:
    name: str
    router: str = ""          # base URL
    database: Path = Path()   # the monolith's SQLite file (orders, shipments)
    orders_db: Path | None = None
    tokens: list[str] = field(default_factory=list)   # one customer a line, each with a full cart
    used: int = 0             # customers whose cart a run has had (or may have had: in flight at its end)
    created: int = 0          # 201s, warm-ups included
    processes: tuple[str, ...] = ()   # the side's process names (for their CPU time)


def shop_env(work: Path, name: str, database: Path) -> dict[str, str]:
    env = {**os.environ, **TOKENS, "MONOLITH_DATABASE_URL": f"sqlite:///{database}",
           "SHOP_VAR_DIR": str(work / f"var-{name}"), "ROUTER_IDENTITY_SECRET": SECRET,
           "DJANGO_SECRET_KEY": "checkout-benchmark-only-" + uuid.uuid4().hex}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DJANGO_DEBUG", None)
    return env


def seed(work: Path, customers: int, products: int) -> tuple[Path, list[str], list[int]]:
    """One seeded shop (customers with tokens and carts, products with stock); its file, the tokens, product ids."""
    database = work / "shop-monolith.sqlite3"
    env = shop_env(work, "seed", database)
    manage(env, "migrate", "-v0")
    manage(env, "seed_shop", "-v0", "--products", str(products), "--users", str(customers), "--orders", "0",
           "--reset")
    db = sqlite3.connect(database)
    try:
        with db:
            db.execute("UPDATE catalog_product SET stock = ?, is_active = 1", (STOCK,))
            product_ids = [row[0] for row in db.execute("SELECT id FROM catalog_product ORDER BY id")]
            users = [row[0] for row in db.execute("SELECT id FROM auth_user WHERE NOT is_staff ORDER BY id")]
            tokens = [secrets.token_hex(20) for _ in users]
            stamp = NOW.isoformat(sep=" ")
            db.executemany("INSERT INTO authtoken_token (key, user_id, created) VALUES (?, ?, ?)",
                           [(t, u, stamp) for t, u in zip(tokens, users, strict=True)])
            db.executemany("INSERT INTO cart_cart (user_id, created_at, updated_at) VALUES (?, ?, ?)",
                           [(u, stamp, stamp) for u in users])
            cart_of = dict(db.execute("SELECT user_id, id FROM cart_cart WHERE user_id IS NOT NULL"))
            db.executemany("INSERT INTO cart_cartitem (cart_id, product_id, quantity, added_at) VALUES (?, ?, ?, ?)",
                           [(cart_of[u], p, n, stamp) for i, u in enumerate(users)
                            for p, n in cart_lines(i, product_ids).items()])
    finally:
        db.close()
    (work / "users.txt").write_text("\n".join(map(str, users)))
    return database, tokens, product_ids


def fill_services(work: Path, shop: Path, users: list[int], product_ids: list[int]) -> dict[str, str]:
    """The catalog and cart services' databases (at their heads) with the shop's products and carts; their URLs."""
    from extracted.cart.db import make_engine as cart_engine
    from extracted.cart.migrate import upgrade_head as cart_head
    from extracted.cart.models import cart_items, carts
    from extracted.catalog.db import make_engine as catalog_engine
    from extracted.catalog.migrate import upgrade_head as catalog_head
    from extracted.catalog.models import categories, products

    urls = {name: f"sqlite:///{work / f'{name}.sqlite3'}" for name in ("catalog", "cart", "orders")}
    db = sqlite3.connect(shop)
    try:
        rows = db.execute("SELECT id, sku, name, price FROM catalog_product ORDER BY id").fetchall()
    finally:
        db.close()
    engine = catalog_engine(urls["catalog"])
    catalog_head(engine)
    with engine.begin() as conn:
        made = conn.execute(insert(categories).values(name="Kitchen", slug="kitchen")).inserted_primary_key
        assert made is not None
        category = made[0]
        conn.execute(insert(products), [
            {"id": pid, "sku": sku, "name": name, "description": "", "price": Decimal(str(price)), "stock": STOCK,
             "is_active": True, "category_id": category, "created_at": NOW, "updated_at": NOW}
            for pid, sku, name, price in rows])
    engine.dispose()
    engine = cart_engine(urls["cart"])
    cart_head(engine)
    with engine.begin() as conn:
        conn.execute(insert(carts), [{"id": i + 1, "user_id": u, "created_at": NOW, "updated_at": NOW}
                                     for i, u in enumerate(users)])
        conn.execute(insert(cart_items), [
            {"cart_id": i + 1, "product_id": p, "quantity": n, "added_at": NOW}
            for i in range(len(users)) for p, n in cart_lines(i, product_ids).items()])
    engine.dispose()
    from extracted.orders.db import make_engine as orders_engine
    from extracted.orders.migrate import upgrade_head as orders_head

    engine = orders_engine(urls["orders"])
    orders_head(engine)
    engine.dispose()
    return urls


ROUTES = textwrap.dedent("""\
    version: 1
    listen: "{listen}"
    admin: {{listen: "{admin}"}}
    default: monolith
    backends:
      monolith: {{targets: ["{monolith}"], health: {{interval: 0}}}}
      orders: {{targets: ["{orders}"], health: {{interval: 0}}}}
    routes:
      checkout: {{path: /api/orders/checkout/, methods: [POST], backend: {backend}}}
    identity:
      resolve_url: "{monolith}/api/accounts/me/"
      cache_seconds: 5
      token_ttl: 60
    """)


def start_router(procs: Processes, work: Path, side: str, env: dict[str, str], monolith: str, orders: str) -> str:
    port, admin = free_port(), free_port()
    config = work / f"routes-{side}.yaml"
    config.write_text(ROUTES.format(listen=f"127.0.0.1:{port}", admin=f"127.0.0.1:{admin}", monolith=monolith,
                                    orders=orders, backend="orders" if side == "saga" else "monolith"))
    procs.start(f"router-{side}", [PYTHON, "-m", "router", "serve", "--config", str(config), "--workers", "1"],
                env, f"http://127.0.0.1:{port}/__router/health")
    return f"http://127.0.0.1:{port}"


def start_shop(procs: Processes, work: Path, side: str, database: Path, workers: int) -> tuple[str, dict[str, str]]:
    env = shop_env(work, side, database)
    port = free_port()
    procs.start(f"shop-{side}", [GUNICORN, "legacy_monolith.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
                                 str(workers), "--graceful-timeout", "5"], env, f"http://127.0.0.1:{port}/healthz")
    return f"http://127.0.0.1:{port}", env


def build(procs: Processes, work: Path, customers: int, products: int, shop_workers: int,
          orders_prefix: list[str] | None = None, dbos_url: str = "", orders_workers: int = 1) -> dict[str, Side]:
    """Both stages seeded and running; the sides by name. ``orders_prefix``: what the orders service runs under
    (a profiler, ``py-spy record ... --``); ``dbos_url``: the saga's system database (default: SQLite, in the
    orders service's var directory); ``orders_workers``: its uvicorn worker processes (each DBOS executor takes a slot
    of its own)."""
    shop, tokens, product_ids = seed(work, customers, products)
    users = [int(u) for u in (work / "users.txt").read_text().split()]
    saga_shop = work / "shop-saga.sqlite3"
    shutil.copyfile(shop, saga_shop)
    urls = fill_services(work, saga_shop, users, product_ids)

    mono_url, mono_env = start_shop(procs, work, "monolith", shop, shop_workers)
    monolith = Side("monolith", database=shop, tokens=tokens, processes=("shop-monolith", "router-monolith"))
    monolith.router = start_router(procs, work, "monolith", mono_env, mono_url, mono_url)

    saga_url, saga_env = start_shop(procs, work, "saga", saga_shop, shop_workers)
    ports = {name: free_port() for name in ("catalog", "cart", "orders")}
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    service_env = {**saga_env, "CATALOG_DATABASE_URL": urls["catalog"], "CATALOG_MONOLITH_URL": saga_url,
                   "CART_DATABASE_URL": urls["cart"], "CART_CATALOG_URL": base["catalog"],
                   "CART_MONOLITH_URL": saga_url,
                   "ORDERS_DATABASE_URL": urls["orders"], "ORDERS_VAR_DIR": str(work / "var-orders"),
                   "ORDERS_CATALOG_URL": base["catalog"], "ORDERS_CART_URL": base["cart"],
                   "ORDERS_ACCOUNTS_URL": saga_url, "ORDERS_SHIPPING_URL": saga_url,
                   **({"ORDERS_DBOS_DATABASE_URL": dbos_url} if dbos_url else {})}
    for name in ("catalog", "cart", "orders"):
        prefix = (orders_prefix or []) if name == "orders" else []
        workers = ["--workers", str(orders_workers)] if name == "orders" and orders_workers > 1 else []
        procs.start(name, [*prefix, PYTHON, "-m", f"extracted.{name}", "--port", str(ports[name]), *workers,
                           "--log-level", "warning"], service_env, base[name] + "/healthz")
    saga = Side("saga", database=saga_shop, orders_db=work / "orders.sqlite3", tokens=list(tokens),
                processes=("shop-saga", "catalog", "cart", "orders", "router-saga"))
    saga.router = start_router(procs, work, "saga", saga_env, saga_url, base["orders"])
    return {"monolith": monolith, "saga": saga}


def orders_made(side: Side) -> dict[str, int]:
    """Orders by status in the side's orders database, and the shipments (the monolith's)."""
    found: dict[str, int] = {}
    if side.orders_db is not None:
        db = sqlite3.connect(side.orders_db)
        try:
            found.update({f"orders {s}": n for s, n in db.execute("SELECT status, count(*) FROM orders GROUP BY 1")})
        finally:
            db.close()
    db = sqlite3.connect(side.database)
    try:
        if side.orders_db is None:
            found.update({f"orders {s}": n for s, n in db.execute(
                "SELECT status, count(*) FROM orders_order GROUP BY 1")})
        found["shipments"] = db.execute("SELECT count(*) FROM shipping_shipment").fetchone()[0]
    finally:
        db.close()
    return found


STEPS_SQL = """
WITH o AS (SELECT function_id, function_name, started_at_epoch_ms AS s, completed_at_epoch_ms AS c,
                  lag(completed_at_epoch_ms) OVER (PARTITION BY workflow_uuid ORDER BY function_id) AS prev
           FROM operation_outputs)
SELECT function_name, count(*), avg(c - s), avg(s - prev) FROM o GROUP BY function_name
ORDER BY min(function_id)"""


def saga_steps(work: Path) -> list[tuple[str, int, float, float]]:
    """From DBOS's own records (SQLite system database only): each step's count, mean duration and the mean time
    between the previous step's end and its start (DBOS recording the previous step, checking this one's record,
    thread hand-offs), in ms."""
    path = work / "var-orders" / "orders_dbos.sqlite3"
    if not path.exists():
        return []
    db = sqlite3.connect(path)
    try:
        rows = db.execute(STEPS_SQL).fetchall()
    finally:
        db.close()
    return [(name.rsplit(".", 1)[-1], n, step or 0.0, gap or 0.0) for name, n, step, gap in rows]


__all__ = ["ROOT", "Side", "build", "orders_made", "saga_steps"]
