"""Each extracted service in process, as its own tests build it (Starlette's TestClient around ``create_app``, the
owners it asks played by the fakes of its tests), on a real SQLite file of its own, seeded with two customers'
objects: the owner :data:`A` and the intruder :data:`B` (and, where the service has them, staff's and an
anonymous visitor's).

A service's database is migrated and seeded once per worker (a template file), then copied for each test: every
test gets a database of its own in a millisecond.

Every string only the owner's data holds is one of the stage's :attr:`Stage.markers`: an answer to the intruder
that holds one has leaked the owner's data, whatever route gave it."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from sqlalchemy import Engine, insert, inspect, text
from starlette.routing import BaseRoute

from tests.extracted.accounts import test_service as accounts_tests
from tests.extracted.cart import conftest as cart_tests
from tests.extracted.catalog import conftest as catalog_tests
from tests.extracted.catalog.dataset import load as load_catalog
from tests.extracted.catalog.dataset import monolith_rows
from tests.security.tokens import PREVIOUS, SECRET, good

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
    from starlette.testclient import TestClient

SERVICES: Final = ("catalog", "cart", "orders", "shipping", "accounts")
STAFF, A, B = 1, 2, 3  # the accounts tests' STAFF, CUSTOMER and OTHER
BASE_URL: Final = "http://127.0.0.1"
Request = tuple[str, str, Mapping[str, str], Any]  # method, URL, headers, JSON body (None: none)
MISSING: Final = 999_999  # an id nobody's object has
MADE = datetime(2026, 12, 4, 10, 30, 0, 123456, tzinfo=UTC)
# The service tokens the services and the fakes of their tests agree on (the cart's fakes check theirs).
SERVICE_TOKENS: Final = {
    "CATALOG_SERVICE_TOKEN": cart_tests.CATALOG_TOKEN,
    "CART_SERVICE_TOKEN": cart_tests.SERVICE_TOKEN,
    "ORDERS_SERVICE_TOKEN": "security-tests-orders-service-token",
    "ACCOUNTS_SERVICE_TOKEN": "security-tests-accounts-service-token",
}
# Each customer's own API token (the accounts tests' keys; other services never look it up): a token caller is
# what the router passes on with the identity token, and it keeps a write out of the session's CSRF check.
API_KEYS: Final = {STAFF: "5" * 40, **accounts_tests.KEYS}
DERIVED: Final = ("products_search",)  # the catalog's full-text index and its queue: rebuilt from products
PASSWORDS: Final = {A: "owner-password-1", B: "intruder-password-1"}
PASSWORD_ITERATIONS: Final = 1000  # ACCOUNTS_PBKDF2_ITERATIONS: hashing is not what these tests are about


@dataclass
class Stage:
    """One service, ready: ``client`` (TestClient, entered), ``engine`` (its database), ``routes`` (its URL table),
    ``owned``/``others``: the ids of the owner's and the intruder's objects by kind, ``markers``: strings only
    the owner's objects hold, ``views``: where the owner reads an object of a kind (``{id}`` in the path)."""

    name: str
    client: TestClient
    app: Any
    engine: Engine
    routes: list[BaseRoute]
    owned: dict[str, list[int]]
    others: dict[str, list[int]]
    markers: tuple[str, ...]
    views: dict[str, str]
    rows_sql: list[str]          # the rows a user owns: queries taking :user
    sample_ids: dict[str, int] = field(default_factory=dict)  # a path's {id} where no kind names one

    def headers(self, user_id: int, *, staff: bool = False, token: str | None = None) -> dict[str, str]:
        """A caller the router resolved from their API token: its identity token and their own credential."""
        return {"X-Identity-Token": token or good(user_id, staff=staff),
                "Authorization": f"Token {API_KEYS.get(user_id, str(user_id) * 40)[:40]}"}

    def batch(self, requests: Sequence[Request]) -> list[httpx.Response]:
        """The answers to ``(method, url, headers, JSON body or None)`` in order: sent from within the running app's
        event loop (httpx's ASGI transport; the TestClient's thread hop per request would cost ten times more)."""
        async def send_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE_URL) as client:
                return [await client.request(method, url, headers=dict(headers), json=body)
                        for method, url, headers, body in requests]

        assert self.client.portal is not None
        return self.client.portal.call(send_all)

    def send(self, method: str, url: str, headers: Mapping[str, str] | None = None, body: Any = None
             ) -> httpx.Response:
        return self.batch([(method, url, headers or {}, body)])[0]

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, sorted: what a refused request must leave as it was (but the catalog's search
        index, which any read brings up to date: :data:`DERIVED`)."""
        with self.engine.connect() as conn:
            return {table: sorted((tuple(row) for row in conn.execute(text(f'SELECT * FROM "{table}"'))),  # noqa: S608
                                  key=repr)  # the tables' own names
                    for table in sorted(inspect(conn).get_table_names()) if not table.startswith(DERIVED)}

    def rows_of(self, user_id: int) -> list[list[tuple[Any, ...]]]:
        """The rows ``user_id`` owns in this service's database."""
        with self.engine.connect() as conn:
            return [sorted((tuple(r) for r in conn.execute(text(sql), {"user": user_id})), key=repr)
                    for sql in self.rows_sql]


# --- seeds ----------------------------------------------------------------------------------------------------------

def _seed_catalog(engine: Engine) -> None:
    from extracted.catalog.migrate import upgrade_head

    upgrade_head(engine)
    load_catalog(engine, *monolith_rows(12))


def _seed_cart(engine: Engine) -> None:
    from extracted.cart.migrate import upgrade_head
    from extracted.cart.models import cart_items, carts

    upgrade_head(engine)
    with engine.begin() as conn:
        conn.execute(insert(carts), [{"id": 1, "user_id": A, "created_at": MADE, "updated_at": MADE},
                                     {"id": 2, "user_id": B, "created_at": MADE, "updated_at": MADE},
                                     {"id": 3, "user_id": None, "created_at": MADE, "updated_at": MADE}])
        conn.execute(insert(cart_items), [
            {"id": 1, "cart_id": 1, "product_id": 1, "quantity": 2, "added_at": MADE},
            {"id": 2, "cart_id": 1, "product_id": 2, "quantity": 1, "added_at": MADE},
            {"id": 3, "cart_id": 2, "product_id": 3, "quantity": 1, "added_at": MADE},
            {"id": 4, "cart_id": 3, "product_id": 2, "quantity": 1, "added_at": MADE}])


def _order(order_id: int, user_id: int, name: str, city: str, status: str = "placed") -> dict[str, Any]:
    return {"id": order_id, "user_id": user_id, "status": status, "total": Decimal("25.00"), "ship_full_name": name,
            "ship_line1": f"{name}'s street 1", "ship_line2": "", "ship_city": city, "ship_postal_code": "211 22",
            "ship_country": "SE", "created_at": MADE, "updated_at": MADE}


def _seed_orders(engine: Engine) -> None:
    from extracted.orders.migrate import upgrade_head
    from extracted.orders.models import order_lines, order_shipments, orders

    upgrade_head(engine)
    with engine.begin() as conn:
        conn.execute(insert(orders), [_order(1, A, "Alice Owner", "Aliceville"),
                                      _order(2, B, "Bob Intruder", "Bobtown"),
                                      _order(3, A, "Alice Owner", "Aliceville", status="shipped")])
        conn.execute(insert(order_lines), [
            {"id": n, "order_id": n, "product_id": 7, "sku": f"SKU-{n}", "name": "Knife",
             "unit_price": Decimal("25.00"), "quantity": 1} for n in (1, 2, 3)])
        conn.execute(insert(order_shipments), [
            {"id": n, "order_id": n, "carrier": "dhl", "tracking_number": "", "status": "pending"} for n in (1, 2)])


def _seed_shipping(engine: Engine) -> None:
    from extracted.shipping.migrate import upgrade_head
    from extracted.shipping.models import Shipment, ShipmentEvent

    upgrade_head(engine)
    with engine.begin() as conn:
        conn.execute(insert(Shipment.__table__), [  # type: ignore[arg-type]
            {"id": 1, "order_id": 1, "user_id": A, "carrier": "dhl", "tracking_number": "", "status": "pending",
             "created_at": MADE, "updated_at": MADE},
            {"id": 2, "order_id": 2, "user_id": B, "carrier": "ups", "tracking_number": "TRK-BOB-2",
             "status": "shipped", "created_at": MADE, "updated_at": MADE},
            {"id": 3, "order_id": 3, "user_id": A, "carrier": "postal", "tracking_number": "TRK-ALICE-3",
             "status": "shipped", "created_at": MADE, "updated_at": MADE}])
        conn.execute(insert(ShipmentEvent.__table__), [  # type: ignore[arg-type]
            {"id": 1, "shipment_id": 1, "status": "pending", "note": "for Alice", "created_at": MADE},
            {"id": 2, "shipment_id": 2, "status": "shipped", "note": "for Bob", "created_at": MADE},
            {"id": 3, "shipment_id": 3, "status": "shipped", "note": "for Alice", "created_at": MADE}])


def _seed_accounts(engine: Engine) -> None:
    from extracted.accounts.passwords import hash_password

    accounts_tests.load(engine)  # users 1 (staff) to 5; addresses 1, 2 of user 2 (A), 3 of user 3 (B); tokens
    with engine.begin() as conn:  # passwords that can be checked (cheap ones: PASSWORD_ITERATIONS)
        for user_id, password in PASSWORDS.items():
            conn.execute(text("UPDATE users SET password = :hash WHERE id = :user"),
                         {"hash": hash_password(password, iterations=PASSWORD_ITERATIONS), "user": user_id})


SEEDS: Final[dict[str, Callable[[Engine], None]]] = {
    "catalog": _seed_catalog, "cart": _seed_cart, "orders": _seed_orders, "shipping": _seed_shipping,
    "accounts": _seed_accounts}


# --- the stages -----------------------------------------------------------------------------------------------------

def _make_engine(service: str, path: Path) -> Engine:
    module = __import__(f"extracted.{service}.db", fromlist=["make_engine"])
    engine: Engine = module.make_engine(f"sqlite:///{path}")
    return engine


def seed_template(service: str, path: Path) -> Path:
    """Migrates and seeds ``service``'s database at ``path`` (a template the tests copy)."""
    engine = _make_engine(service, path)
    try:
        SEEDS[service](engine)
    finally:
        engine.dispose()
    return path


def _app(service: str, engine: Engine) -> Any:
    if service == "catalog":
        from extracted.catalog.app import create_app as catalog_app
        from extracted.catalog.orders import OrderReferences

        app = catalog_app(engine)
        app.state.catalog.orders = OrderReferences(
            "http://orders.test", transport=httpx.MockTransport(catalog_tests.FakeOrders().handle))
        return app
    if service == "cart":
        from extracted.cart.app import create_app as cart_app
        from extracted.cart.catalog import Catalog
        from extracted.cart.sessions import Sessions

        catalog = cart_tests.FakeCatalog()
        for product in (1, 2, 3):
            catalog.add(product)
        return cart_app(engine, catalog=Catalog("http://router.test", transport=httpx.MockTransport(catalog.handle)),
                        sessions=Sessions("http://monolith.test",
                                          transport=httpx.MockTransport(cart_tests.FakeSessions().handle)))
    if service == "orders":
        from extracted.orders.app import create_app as orders_app

        return orders_app(engine)   # without its sagas: checkout and cancel answer 503 not_yet past their checks
    if service == "shipping":
        from extracted.shipping.app import create_app as shipping_app

        return shipping_app(engine)
    from extracted.accounts.app import create_app as accounts_app

    return accounts_app(engine)


def _described(service: str, client: TestClient, app: Any, engine: Engine) -> Stage:
    routes: list[BaseRoute] = list(__import__(f"extracted.{service}.urls", fromlist=["ROUTES"]).ROUTES)
    if service == "catalog":
        return Stage(service, client, app, engine, routes, owned={}, others={}, markers=(), views={}, rows_sql=[],
                     sample_ids={"/api/catalog/categories/{id:catalog_id}/": 2,
                                 "/api/catalog/products/{id:catalog_id}/": 1,
                                 "/api/catalog/products/{id:catalog_id}/stock/": 1})
    if service == "cart":
        # The owner's lines hold products 1 and 2 (the catalog's SKU-0000001, SKU-0000002), the intruder's product 3.
        return Stage(service, client, app, engine, routes, owned={"cart": [1], "cart_item": [1, 2]},
                     others={"cart": [2], "cart_item": [3]}, markers=("SKU-0000001", "SKU-0000002"),
                     views={"cart": "/api/cart/", "cart_item": "/api/cart/"},
                     rows_sql=["SELECT * FROM carts WHERE user_id = :user",
                               "SELECT i.* FROM cart_items i JOIN carts c ON c.id = i.cart_id WHERE c.user_id = :user"])
    if service == "orders":
        return Stage(service, client, app, engine, routes, owned={"order": [1, 3]}, others={"order": [2]},
                     markers=("Alice", "Aliceville", "ORD-00000001", "ORD-00000003"),
                     views={"order": "/api/orders/{id}/"},
                     rows_sql=["SELECT * FROM orders WHERE user_id = :user",
                               "SELECT l.* FROM order_lines l JOIN orders o ON o.id = l.order_id "
                               "WHERE o.user_id = :user",
                               "SELECT s.* FROM order_shipments s JOIN orders o ON o.id = s.order_id "
                               "WHERE o.user_id = :user", "SELECT * FROM checkouts WHERE user_id = :user"],
                     sample_ids={"/api/orders/product-references/{id:orders_id}/": 7})
    if service == "shipping":
        return Stage(service, client, app, engine, routes, owned={"shipment": [1, 3], "order": [1, 3]},
                     others={"shipment": [2], "order": [2]}, markers=("TRK-ALICE", "for Alice"),
                     views={"shipment": "/api/shipping/shipments/{id}/"},
                     rows_sql=["SELECT * FROM shipments WHERE user_id = :user",
                               "SELECT e.* FROM shipment_events e JOIN shipments s ON s.id = e.shipment_id "
                               "WHERE s.user_id = :user"])
    # accounts: the owner is Greta Jönsson (customer1@example.com), addresses "User 2" in Helsinki and Turku.
    return Stage(service, client, app, engine, routes, owned={"address": [1, 2], "user": [A]},
                 others={"address": [3], "user": [B]}, markers=("customer1@example.com", "Greta", "Helsinki", "Turku"),
                 views={"address": "/api/accounts/addresses/{id}/", "user": "/api/accounts/me/"},
                 rows_sql=["SELECT * FROM users WHERE id = :user", "SELECT * FROM addresses WHERE user_id = :user",
                           "SELECT * FROM tokens WHERE user_id = :user"])


@contextmanager
def running(service: str, template: Path, folder: Path) -> Iterator[Stage]:
    """The service on a copy of its seeded database, with the identity keys (current and previous) and every
    service token set in the environment for as long as it runs."""
    path = folder / f"{service}.sqlite3"
    shutil.copyfile(template, path)
    engine = _make_engine(service, path)
    with ExitStack() as stack, pytest.MonkeyPatch.context() as env:
        stack.callback(engine.dispose)
        env.setenv("ROUTER_IDENTITY_SECRET", SECRET)
        env.setenv("ROUTER_IDENTITY_SECRET_PREVIOUS", PREVIOUS)
        env.setenv("ACCOUNTS_PBKDF2_ITERATIONS", str(PASSWORD_ITERATIONS))
        for name, value in SERVICE_TOKENS.items():
            env.setenv(name, value)
        app = _app(service, engine)
        client = stack.enter_context(TestClient(app, base_url=BASE_URL, raise_server_exceptions=False))
        yield _described(service, client, app, engine)
