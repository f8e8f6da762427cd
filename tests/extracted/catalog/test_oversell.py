"""The saga's first step under a real race: 50 clients reserve the last 10 units of a product at once, from
the catalog service as a real process (2 uvicorn workers; PostgreSQL in the PostgreSQL pass). Exactly 10
are given a reservation, the 40 others the monolith's 409 ``out_of_stock`` naming what is short; the stock
ends at 0 with 10 held reservations of one unit each, and their events say the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from extracted.catalog.db import make_engine
from extracted.catalog.models import outbox, products, reservation_items, reservations
from strangler.processes import ManagedProcess, free_port
from tests.extracted.catalog.conftest import SECRET, SERVICE_TOKEN
from tests.extracted.catalog.dataset import load, monolith_rows
from tests.support.servers import scratch_database

REPO = Path(__file__).resolve().parents[3]
CLIENTS, UNITS = 50, 10


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    with scratch_database(tmp_path / "db") as url:
        yield url


@pytest.mark.slow
def test_fifty_clients_racing_for_the_last_ten_units_reserve_exactly_ten(db_url: str, tmp_path: Path) -> None:
    env = {"CATALOG_DATABASE_URL": db_url, "ROUTER_IDENTITY_SECRET": SECRET, "CATALOG_SERVICE_TOKEN": SERVICE_TOKEN}
    migrated = subprocess.run([sys.executable, "-m", "extracted.catalog", "migrate"], cwd=REPO,  # noqa: S603
                              env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    engine = make_engine(db_url)
    try:
        load(engine, *monolith_rows(20))
        product = 1
        with engine.begin() as conn:
            conn.execute(update(products).where(products.c.id == product).values(stock=UNITS, is_active=True))
        port = free_port()
        process = ManagedProcess("catalog", [sys.executable, "-m", "extracted.catalog", "--port", str(port),
                                             "--workers", "2"], log_path=tmp_path / "catalog.log", env=env, cwd=REPO)
        with process:
            base = f"http://127.0.0.1:{port}"
            process.wait_healthy(f"{base}/healthz")
            barrier = threading.Barrier(CLIENTS)
            answers: list[httpx.Response | BaseException] = [RuntimeError("not run")] * CLIENTS

            def buyer(i: int) -> None:
                with httpx.Client(base_url=base, timeout=30) as client:
                    barrier.wait(timeout=30)
                    try:
                        answers[i] = client.post("/api/catalog/reservations/", headers={
                            "X-Service-Token": SERVICE_TOKEN, "Idempotency-Key": f"checkout-{i}"},
                            json={"items": [{"product": product, "quantity": 1}], "ttl_seconds": 600})
                    except httpx.HTTPError as exc:
                        answers[i] = exc

            threads = [threading.Thread(target=buyer, args=(i,)) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
        statuses = Counter(a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers)
        assert statuses == {201: UNITS, 409: CLIENTS - UNITS}, statuses
        for refused in (a for a in answers if isinstance(a, httpx.Response) and a.status_code == 409):
            body = refused.json()
            assert body["code"] == "out_of_stock" and body["items"][0]["product"] == product, body
            assert body["items"][0]["available"] == 0 and body["items"][0]["requested"] == 1, body
        with engine.connect() as conn:
            assert conn.execute(select(products.c.stock).where(products.c.id == product)).scalar_one() == 0
            held = conn.execute(select(func.count()).select_from(reservations)
                                .where(reservations.c.state == "held")).scalar_one()
            units = conn.execute(select(func.sum(reservation_items.c.quantity))).scalar_one()
            stocks = [json.loads(p)["data"]["stock"] for p in conn.execute(select(outbox.c.payload)
                                                                             .order_by(outbox.c.id)).scalars()]
        assert (held, units) == (UNITS, UNITS)
        assert sorted(stocks, reverse=True) == list(range(UNITS - 1, -1, -1))   # 9, 8, ... 0: each unit once
    finally:
        engine.dispose()
