"""The catalog service does not copy the monolith's lost update: a PATCH writes only the columns it was sent,
stock changes are increments, so an edit racing stock changes on the same product loses neither. Real
processes and HTTP; two worker processes, so requests really run side by side. In the PostgreSQL pass the
service's database is on PostgreSQL (scratch_database follows MONOLITH_DATABASE_URL's kind).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from strangler.processes import ManagedProcess, free_port
from tests.extracted.catalog.conftest import SECRET, browser, mint
from tests.legacy_monolith.catalog.races import assert_nothing_lost, edits_racing_stock
from tests.support.servers import scratch_database

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
INITIAL_STOCK = 10_000


@contextmanager
def running_service(tmp_path: Path) -> Iterator[httpx.Client]:
    """The catalog service with two workers on a scratch database, and a staff client to it."""
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
            staff = browser(mint(1, staff=True, ttl=900))
            with httpx.Client(base_url=base, headers=staff, timeout=30) as http:
                yield http


def test_a_patch_racing_stock_changes_loses_neither(tmp_path):
    with running_service(tmp_path) as http:
        base, staff = str(http.base_url).rstrip("/"), dict(http.headers)
        category = http.post("/api/catalog/categories/", json={"name": "Races", "slug": "races"})
        assert category.status_code == 201, category.text
        created = http.post("/api/catalog/products/", json={
            "sku": "RACE-1", "name": "Raced", "price": "10.00", "stock": INITIAL_STOCK,
            "category": category.json()["id"]})
        assert created.status_code == 201, created.text
        product = created.json()["id"]

        result = edits_racing_stock(base, product, browser(staff["x-identity-token"]),
                                    initial_stock=INITIAL_STOCK)

        final = http.get(f"/api/catalog/products/{product}/").json()
    print(result.summary())
    assert_nothing_lost(result, final)


def test_two_moves_at_once_never_make_a_loop(tmp_path):
    """A under B and B under A, sent at the same moment (two workers): each checked against the tree as it was,
    both would pass and the categories would hang from each other. Moves are serialised: one is refused."""
    with running_service(tmp_path) as http:
        base, token = str(http.base_url).rstrip("/"), http.headers["x-identity-token"]
        outcomes = []
        for round_ in range(15):
            a, b = (http.post("/api/catalog/categories/", json={"name": f"{n}{round_}", "slug": f"{n}-{round_}"})
                    .json()["id"] for n in ("a", "b"))
            barrier = threading.Barrier(2)

            def move(child: int, parent: int, barrier: threading.Barrier = barrier) -> int:
                with httpx.Client(base_url=base, headers=browser(token), timeout=30) as client:
                    barrier.wait()
                    return client.patch(f"/api/catalog/categories/{child}/", json={"parent": parent}).status_code

            with ThreadPoolExecutor(2) as pool:
                statuses = sorted(pool.map(move, (a, b), (b, a)))
            outcomes.append(statuses)
            parents = {c: http.get(f"/api/catalog/categories/{c}/").json()["parent"] for c in (a, b)}
            assert not (parents[a] == b and parents[b] == a), f"round {round_}: a loop ({statuses})"
            assert statuses == [200, 400], f"round {round_}: {statuses}"
    print(outcomes)
