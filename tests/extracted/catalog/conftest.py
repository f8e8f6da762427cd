from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from sqlalchemy import Engine

from extracted.catalog.app import create_app
from extracted.catalog.db import make_engine
from extracted.catalog.migrate import upgrade_head
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


@pytest.fixture
def client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ROUTER_IDENTITY_SECRET", SECRET)
    # The default list, plus a host the link tests use.
    monkeypatch.setenv("CATALOG_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver,shop.example")
    with TestClient(create_app(engine), base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def staff_headers() -> dict[str, str]:
    return {"X-Identity-Token": mint(1, staff=True)}


@pytest.fixture
def customer_headers() -> dict[str, str]:
    return {"X-Identity-Token": mint(2, staff=False)}
