from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import Engine, select, update

from extracted.catalog.app import create_app
from extracted.catalog.db import make_engine
from extracted.catalog.migrate import upgrade_head
from extracted.catalog.models import products
from extracted.catalog.orders import OrderReferences
from tests.extracted.catalog.dataset import load, monolith_rows

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
    from starlette.testclient import TestClient

SECRET = "test-identity-secret-of-at-least-32-chars"
PRODUCTS = "/api/catalog/products/"
CATEGORIES = "/api/catalog/categories/"


def mint(user_id: int = 1, *, staff: bool = False, secret: str = SECRET, ttl: int = 60, **overrides: object) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "staff": staff, "iat": now, "exp": now + ttl, "iss": "strangler-router",
              "aud": "strangler-services", **overrides}
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.sqlite3'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def dataset(engine: Engine) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    cats, rows = monolith_rows()
    load(engine, cats, rows)
    return cats, rows


class FakeOrders:
    """The orders' owner as the service sees it: ``lines`` order lines per product id (none by default), every
    question kept (``asked``: path and headers); ``status`` other than 200 to play an owner that refuses."""

    def __init__(self) -> None:
        self.lines: dict[int, int] = {}
        self.status = 200
        self.asked: list[tuple[str, dict[str, str]]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked.append((request.url.path, dict(request.headers)))
        product = int(request.url.path.rstrip("/").rsplit("/", 1)[1])
        return httpx.Response(self.status, json={"product": product, "order_lines": self.lines.get(product, 0)})


@pytest.fixture
def orders() -> FakeOrders:
    return FakeOrders()


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch, orders: FakeOrders) -> Iterator[TestClient]:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    # The default list, plus a host the link tests use.
    monkeypatch.setenv("CATALOG_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver,shop.example")
    app = create_app(engine)
    app.state.catalog.orders = OrderReferences("http://orders.test", transport=httpx.MockTransport(orders.handle))
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


# A browser's CSRF cookie and header (a secret of 32 letters and digits, as Django makes them).
CSRF_SECRET = "CatalogTestsBrowserCsrfSecret012"
CSRF: dict[str, str] = {"Cookie": f"csrftoken={CSRF_SECRET}", "X-CSRFToken": CSRF_SECRET}


def browser(token: str) -> dict[str, str]:
    """A browser behind the router: its session resolved to the identity token ``token`` (no ``Authorization:
    Token``), its CSRF cookie and header passed on (a write by session is held to Django's CSRF check:
    test_csrf.py)."""
    return {"X-Identity-Token": token, **CSRF}


@pytest.fixture
def staff_headers() -> dict[str, str]:
    return browser(mint(1, staff=True))


@pytest.fixture
def customer_headers() -> dict[str, str]:
    return browser(mint(2, staff=False))


# --- stock: the internal endpoints' tests (test_stock, test_reservations) ------------------------------------------

SERVICE_TOKEN = "service-token-for-tests-0123456789"  # noqa: S105 - a test's own token


@pytest.fixture
def stock(engine: Engine) -> Callable[..., dict[int, int]]:
    """``stock(1, 2)`` -> {1: its stock, 2: its stock}, read now."""
    def read(*ids: int) -> dict[int, int]:
        with engine.connect() as conn:
            rows = conn.execute(select(products.c.id, products.c.stock).where(products.c.id.in_(ids)))
            return dict(rows.all())

    return read


def items(*pairs: tuple[int, int]) -> dict[str, Any]:
    return {"items": [{"product": p, "quantity": q} for p, q in pairs]}


def _set_stock(engine: Engine, **values: Any) -> None:
    with engine.begin() as conn:
        for pid, stock in values.items():
            conn.execute(update(products).where(products.c.id == int(pid.lstrip("p"))).values(stock=stock))


@pytest.fixture
def shop(engine: Engine, dataset: Any) -> dict[str, Any]:
    """Products 1 (stock 5), 2 (stock 3), 3 (stock 1), 5 (stock 4), 11 inactive (stock 9), from the shared dataset."""
    _set_stock(engine, p1=5, p2=3, p3=1, p5=4, p11=9)
    rows = {r["id"]: r for r in dataset[1]}
    assert not rows[11]["is_active"] and all(rows[i]["is_active"] for i in (1, 2, 3))
    return rows
