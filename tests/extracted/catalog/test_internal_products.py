"""The internal batch read ``GET /api/catalog/internal/products/?ids=1,2,3`` answered alike by its two owners.

The cart service reads the products its lines reference (name, current price, stock, whether on sale) through
the router, which sends it to whoever owns the catalog: the monolith (``legacy_monolith/catalog/apis.py``)
before the catalog's cutover, the catalog service after. The same products are put in both (Django's test
database, and the service's own tables with the same rows), the same requests sent to both in process: status,
body (bytes), and the headers a client acts on must be equal.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from sqlalchemy import Engine, insert

from extracted.catalog.app import create_app
from extracted.catalog.models import categories, products
from legacy_monolith.catalog.models import Category, Product

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

URL = "/api/catalog/internal/products/"
TOKEN = "internal-products-token-0123456789"  # noqa: S105 - a test's own token
HEADERS = ("content-type", "allow", "www-authenticate", "vary")

pytestmark = pytest.mark.django_db


@pytest.fixture
def both(engine: Engine, settings: Any, monkeypatch: pytest.MonkeyPatch, make_product: Any
         ) -> Iterator[tuple[Client, TestClient]]:
    """Products 1-6 in the monolith (one inactive, one out of stock, an odd price), copied into the service."""
    settings.CATALOG_SERVICE_TOKEN = TOKEN
    monkeypatch.setenv("CATALOG_SERVICE_TOKEN", TOKEN)
    made = [make_product(), make_product(stock=0), make_product(is_active=False, name="Withdrawn"),
            make_product(price=Decimal("0.10"), name="Crème ✨"), make_product(price=Decimal("99999999.99")),
            make_product(stock=2_147_483_647)]
    assert [p.pk for p in made] == list(range(made[0].pk, made[0].pk + 6))
    with engine.begin() as conn:
        for category in sorted(Category.objects.all(), key=lambda c: (c.parent_id is not None, c.pk)):
            conn.execute(insert(categories).values(id=category.pk, name=category.name, slug=category.slug,
                                                   parent_id=category.parent_id))
        conn.execute(insert(products), [
            {"id": p.pk, "sku": p.sku, "name": p.name, "description": p.description, "price": p.price,
             "stock": p.stock, "is_active": p.is_active, "category_id": p.category_id, "created_at": p.created_at,
             "updated_at": p.updated_at} for p in Product.objects.all()])
    with TestClient(create_app(engine), base_url="http://testserver", raise_server_exceptions=False) as service:
        yield Client(), service


def exchange(both: tuple[Client, TestClient], method: str, path: str, headers: dict[str, str] | None = None
             ) -> tuple[int, bytes]:
    monolith, service = both
    sent = headers or {}
    mono = monolith.generic(method, path, headers=sent)
    svc = service.request(method, path, headers=sent)
    mine = (mono.status_code, mono.content, {h: mono.headers.get(h) for h in HEADERS})
    theirs = (svc.status_code, svc.content, {h: svc.headers.get(h) for h in HEADERS})
    assert mine == theirs, f"{method} {path}:\n monolith {mine}\n service  {theirs}"
    return mono.status_code, mono.content


AUTH = {"X-Service-Token": TOKEN}


def test_the_products_that_exist_in_id_order(both: tuple[Client, TestClient]) -> None:
    first = Product.objects.order_by("id").first()
    assert first is not None
    ids = [first.pk + n for n in (5, 2, 0, 3, 999, 1, 4, 2)]
    status, body = exchange(both, "GET", URL + "?ids=" + ",".join(map(str, ids)), AUTH)
    assert status == 200
    items = json.loads(body)["items"]
    assert [i["id"] for i in items] == sorted({first.pk + n for n in range(6)})
    assert items[0] == {"id": first.pk, "sku": first.sku, "name": first.name, "price": "10.00", "stock": 10,
                        "is_active": True}
    assert [i["is_active"] for i in items].count(False) == 1  # inactive products are read too
    assert items[4]["price"] == "99999999.99"


@pytest.mark.parametrize("query", [
    "?ids=", "?ids=999999", "?ids=1", "?ids=1,1,1", "?ids=1&ids=2", "?ids=2&ids=", "?ids=99999999999999999999",
    "", "?id=1", "?ids=1,x", "?ids=1,,2", "?ids=,", "?ids=-1", "?ids=1.5", "?ids=%201",
    "?ids=" + ",".join(["1"] * 1001), "?ids=" + ",".join(["1"] * 1000), "?ids=" + "9" * 60,
    "?ids=1&format=xml", "?ids=1;2",
])
def test_queries_are_answered_alike(both: tuple[Client, TestClient], query: str) -> None:
    exchange(both, "GET", URL + query, AUTH)
    exchange(both, "HEAD", URL + query, AUTH)


@pytest.mark.parametrize("headers", [
    {}, {"X-Service-Token": ""}, {"X-Service-Token": TOKEN + "x"}, {"X-Service-Token": TOKEN[:-1]},
    {"Authorization": "Token abc"}, {"X-Identity-Token": "a.b.c"},
])
def test_refused_without_the_token_as_the_catalog_s_internal_api(both: tuple[Client, TestClient],
                                                                  headers: dict[str, str]) -> None:
    status, body = exchange(both, "GET", URL + "?ids=1", headers)
    assert status == 401
    detail = "Invalid service token." if headers.get("X-Service-Token") else \
        "Service token not provided (X-Service-Token)."
    assert json.loads(body) == {"detail": detail, "code": "not_authenticated"}
    exchange(both, "POST", URL, headers)  # the token first, before the method


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_only_get(both: tuple[Client, TestClient], method: str) -> None:
    status, _ = exchange(both, method, URL + "?ids=1", AUTH)
    assert status == 405


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json; indent=4"])
def test_json_whatever_the_caller_accepts(both: tuple[Client, TestClient], accept: str) -> None:
    status, _ = exchange(both, "GET", URL + "?ids=1", {**AUTH, "Accept": accept})
    assert status == 200


def test_disabled_while_the_token_is_not_set(both: tuple[Client, TestClient], settings: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    settings.CATALOG_SERVICE_TOKEN = ""
    monkeypatch.delenv("CATALOG_SERVICE_TOKEN")
    status, body = exchange(both, "GET", URL + "?ids=1", AUTH)
    assert status == 503
    assert b'"code":"not_configured"' in body and b"CATALOG_SERVICE_TOKEN" in body
