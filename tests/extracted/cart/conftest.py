"""The cart service in process (Starlette's TestClient) on a SQLite file of its own, with the two owners it asks
played by fakes behind httpx's MockTransport: the catalog's batch read of products, and the monolith's session
API (which hands out session cookies as Django does)."""

from __future__ import annotations

import json
import secrets
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import Engine

from extracted.cart.app import create_app
from extracted.cart.catalog import Catalog
from extracted.cart.db import make_engine
from extracted.cart.migrate import upgrade_head
from extracted.cart.sessions import Sessions

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx vs httpx2
    from starlette.testclient import TestClient

SECRET = "test-identity-secret-of-at-least-32-chars"
SERVICE_TOKEN = "cart-service-token-for-tests-0123456789"  # noqa: S105 - a test's own token
CATALOG_TOKEN = "catalog-service-token-for-tests-012345"  # noqa: S105 - a test's own token
CART = "/api/cart/"
ITEMS = "/api/cart/items/"
MERGE = "/api/cart/internal/merge/"


def mint(user_id: int, *, secret: str = SECRET, ttl: int = 60) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "staff": False, "iat": now, "exp": now + ttl, "iss": "strangler-router",
                       "aud": "strangler-services"}, secret, algorithm="HS256")


class FakeCatalog:
    """The catalog's owner: ``products`` by id (``{"sku", "name", "price", "stock", "is_active"}``); ``down``
    makes it refuse connections; every question is kept in ``asked``."""

    def __init__(self) -> None:
        self.products: dict[int, dict[str, Any]] = {}
        self.down = False
        self.asked: list[httpx.Request] = []

    def add(self, pk: int, *, price: str = "10.00", stock: int = 10, active: bool = True) -> None:
        self.products[pk] = {"id": pk, "sku": f"SKU-{pk:07d}", "name": f"Product {pk}", "price": price,
                             "stock": stock, "is_active": active}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused")
        if request.headers.get("x-service-token") != CATALOG_TOKEN:
            return httpx.Response(401, json={"detail": "Invalid service token.", "code": "not_authenticated"})
        ids = [int(i) for i in request.url.params["ids"].split(",") if i]
        return httpx.Response(200, json={"items": [self.products[i] for i in sorted(set(ids)) if i in self.products]})


class FakeSessions:
    """The monolith's session API: sessions by key, a new key (and its cookie) for a PUT without a session."""

    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, Any]] = {}
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused")
        if request.headers.get("x-service-token") != SERVICE_TOKEN:
            return httpx.Response(401, json={"detail": "Invalid service token.", "code": "not_authenticated"})
        cookie_header = request.headers.get("cookie", "")
        cookies = dict(part.strip().split("=", 1) for part in cookie_header.split(";") if "=" in part)
        key = cookies.get("sessionid")
        session = self.sessions.get(key or "")
        if request.method == "GET":
            headers = [] if session is not None or key is None else [
                ("set-cookie", 'sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax')]
            return httpx.Response(200, json={"cart_id": (session or {}).get("cart_id")}, headers=headers)
        cart_id = json.loads(request.content)["cart_id"]
        if session is None:
            key = secrets.token_hex(16)
            session = self.sessions[key] = {}
        session["cart_id"] = cart_id
        return httpx.Response(200, json={"cart_id": cart_id}, headers=[
            ("set-cookie", f"sessionid={key}; expires=Fri, 18 Dec 2026 22:10:02 GMT; HttpOnly; Max-Age=1209600; "
                           "Path=/; SameSite=Lax")])


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'cart.sqlite3'}")
    upgrade_head(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def catalog() -> FakeCatalog:
    fake = FakeCatalog()
    fake.add(1, price="12.50", stock=5)
    fake.add(2, price="0.10", stock=1000)
    fake.add(3, stock=2)
    fake.add(4, active=False)
    return fake


@pytest.fixture
def sessions() -> FakeSessions:
    return FakeSessions()


@pytest.fixture
def client(engine: Engine, catalog: FakeCatalog, sessions: FakeSessions, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[TestClient]:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    monkeypatch.setenv("CART_SERVICE_TOKEN", SERVICE_TOKEN)
    monkeypatch.setenv("CATALOG_SERVICE_TOKEN", CATALOG_TOKEN)
    app = create_app(engine, catalog=Catalog("http://router.test", transport=httpx.MockTransport(catalog.handle)),
                     sessions=Sessions("http://monolith.test", transport=httpx.MockTransport(sessions.handle)))
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


def user(user_id: int) -> dict[str, str]:
    return {"X-Identity-Token": mint(user_id), "Authorization": "Token abc"}
