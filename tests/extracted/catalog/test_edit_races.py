"""The catalog service does not copy the monolith's lost update: a PATCH writes only the columns it was sent,
stock changes are increments, so an edit racing stock changes on the same product loses neither. Real
processes and HTTP; two worker processes, so requests really run side by side. In the PostgreSQL pass the
service's database is on PostgreSQL (scratch_database follows MONOLITH_DATABASE_URL's kind).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from strangler.processes import ManagedProcess, free_port
from tests.extracted.catalog.conftest import SECRET, mint
from tests.legacy_monolith.catalog.races import assert_nothing_lost, edits_racing_stock
from tests.support.servers import scratch_database

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
INITIAL_STOCK = 10_000


def test_a_patch_racing_stock_changes_loses_neither(tmp_path):
    with scratch_database(tmp_path / "db") as url:
        env = {**os.environ, "CATALOG_DATABASE_URL": url, "ROUTER_IDENTITY_SECRET": SECRET}
        migrated = subprocess.run([sys.executable, "-m", "extracted.catalog", "migrate"], cwd=REPO, env=env,  # noqa: S603
                                  capture_output=True, text=True, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        port = free_port()
        process = ManagedProcess("catalog", [sys.executable, "-m", "extracted.catalog", "--port", str(port),
                                             "--workers", "2"], log_path=tmp_path / "catalog.log", env=env, cwd=REPO)
        with process:
            base = f"http://127.0.0.1:{port}"
            process.wait_healthy(f"{base}/healthz")
            staff = {"X-Identity-Token": mint(1, staff=True, ttl=900)}
            with httpx.Client(base_url=base, headers=staff, timeout=30) as http:
                category = http.post("/api/catalog/categories/", json={"name": "Races", "slug": "races"})
                assert category.status_code == 201, category.text
                created = http.post("/api/catalog/products/", json={
                    "sku": "RACE-1", "name": "Raced", "price": "10.00", "stock": INITIAL_STOCK,
                    "category": category.json()["id"]})
                assert created.status_code == 201, created.text
                product = created.json()["id"]

                result = edits_racing_stock(base, product, staff, initial_stock=INITIAL_STOCK)

                final = http.get(f"/api/catalog/products/{product}/").json()
    print(result.summary())
    assert_nothing_lost(result, final)
