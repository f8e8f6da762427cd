"""The write ledger (scripts/ledger.py) through real processes: monolith (gunicorn) and router, the ledger's
writers going through the router while a write freeze refuses some of their writes. What the clients were
told holds against the data; one acknowledged stock change undone in the database behind the shop's back
is caught and named. In the PostgreSQL pass the monolith's database is PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from extracted.catalog.db import make_engine
from scripts.ledger import WriteLedger
from scripts.stack import Ports, Stack
from tests.e2e.plan_runs import staff_token
from tests.support.servers import scratch_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("ledger")
    with scratch_database(base / "mono") as monolith_url:
        running = Stack(base / "var", ports=Ports.free(), monolith_url=monolith_url)
        try:
            running.setup_monolith("--products", "50", "--users", "2", "--orders", "0")
            running.start_monolith()
            running.start_router()
            yield running
        finally:
            running.stop()




def freeze_writes(stack: Stack, seconds: float) -> None:
    """The catalog's writes answered 503 ``write_freeze`` for ``seconds``: a lease the router lets lapse by
    itself (routers before leases: the route's ``freeze``)."""
    admin = {"Authorization": f"Bearer {stack.secrets['ROUTER_ADMIN_TOKEN']}"}
    response = httpx.post(f"{stack.admin_url}/leases", headers=admin, timeout=10, json={
        "freeze": ["catalog-writes"], "seconds": seconds, "holder": "tests/e2e/test_ledger.py"})
    if response.status_code in (404, 405):
        response = httpx.patch(f"{stack.admin_url}/routes/catalog-writes", json={"freeze": seconds}, timeout=10,
                               headers=admin)
    assert response.status_code in (200, 201), response.text


def test_the_ledger_holds_the_data_to_what_clients_were_told(stack: Stack) -> None:
    ledger = WriteLedger(stack.router_url, staff_token(stack), workers=3, products=6, prefix="e2e")
    ledger.start()
    try:
        time.sleep(1.5)
        freeze_writes(stack, 1.5)  # answered 503 write_freeze meanwhile: refused, and must not appear
        time.sleep(1.5)
        # Enough acknowledged writes to mean something, however slow the machine is today.
        deadline = time.monotonic() + 30
        while ledger.counts["acknowledged"] <= 100 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        ledger.stop()

    counts = ledger.counts
    assert counts["acknowledged"] > 100, counts
    assert counts["refused"] > 0, counts
    report = ledger.check(stack.router_url)
    print(f"ledger: {report.counts} by kind {report.by_kind}; not acknowledged: {report.answers}")
    assert report.ok, report.problems[:10]
    assert report.checked == counts["acknowledged"]
    assert set(report.by_kind) == {"stock", "edit", "create", "delete"}, report.by_kind
    assert {answer.split()[2] for answer in report.answers} == {"write_freeze"}, report.answers
    assert ledger.check(stack.monolith_http).ok  # the backend itself, not only through the router
    # Shoppers never see the ledger's products (inactive): their listings are not disturbed by it.
    hidden = httpx.get(f"{stack.router_url}/api/catalog/products/{ledger.record.tracked[0].id}/", timeout=10)
    assert hidden.status_code == 404

    # One acknowledged stock change undone in the database, as a lost update would: caught, and named.
    victim = next(t for t in ledger.record.tracked
                  if any(w.kind == "stock" and w.product == t.id and w.outcome == "acknowledged"
                         for w in ledger.record.writes))
    engine = make_engine(stack.monolith_url, env_var="MONOLITH_DATABASE_URL")
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE catalog_product SET stock = stock - 1 WHERE id = :id"), {"id": victim.id})
    finally:
        engine.dispose()
    broken = ledger.check(stack.router_url)
    assert not broken.ok
    assert len(broken.problems) == 1, broken.problems
    assert broken.problems[0].startswith(f"product {victim.id} ({victim.sku}): stock ")
    assert "(-1)" in broken.problems[0] and "an acknowledged stock change was lost" in broken.problems[0]
