"""A product's PATCH racing stock changes on it, through real HTTP against gunicorn (several workers): neither
is lost. The PATCH used to save the whole row and so wrote back the stock it had read before a concurrent
change committed (seen: the same millisecond, the stock one short).

In the PostgreSQL pass the shop runs on PostgreSQL (tests/support/servers.py follows MONOLITH_DATABASE_URL).
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.legacy_monolith.catalog.races import assert_nothing_lost, edits_racing_stock
from tests.support.servers import running_shop

pytestmark = pytest.mark.slow

INITIAL_STOCK = 10_000


def test_a_patch_racing_stock_changes_loses_neither(tmp_path):
    with running_shop(tmp_path, workers=3, seed_args=("--products", "3", "--users", "1", "--orders", "0")) as shop:
        with httpx.Client(base_url=shop.url, timeout=30) as http:
            login = http.post("/api/accounts/login/", json={
                "email": "staff@example.com", "password": os.environ.get("SEED_PASSWORD", "shop-demo-password")})
            assert login.status_code == 200, login.text
            staff = {"Authorization": f"Token {login.json()['token']}"}
            category = http.get("/api/catalog/categories/").json()[0]["id"]
            created = http.post("/api/catalog/products/", headers=staff, json={
                "sku": "RACE-1", "name": "Raced", "price": "10.00", "stock": INITIAL_STOCK, "category": category})
            assert created.status_code == 201, created.text
            product = created.json()["id"]

            result = edits_racing_stock(shop.url, product, staff, initial_stock=INITIAL_STOCK)

            final = http.get(f"/api/catalog/products/{product}/", headers=staff).json()
    print(result.summary())
    assert_nothing_lost(result, final)
