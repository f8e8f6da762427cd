"""The catalog plan end to end, as real processes under concurrent traffic: monolith (gunicorn), router,
catalog service, sync follower, and `manage.py strangler run|rollback` driving them.

Holds the plan to its promises: no failed request apart from the bounded write-freeze 503s; the catalog
verified equal after cutover; an order placed after cutover takes its stock from the catalog service; a
rollback from after cutover brings everything back to the monolith, writes made on the service included.
In the PostgreSQL pass the catalog's own database is on PostgreSQL too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.stack import Ports, Stack
from scripts.traffic import ADDRESS, Traffic
from tests.support.servers import scratch_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("migration")
    with scratch_database(base / "mono") as monolith_url, scratch_database(base / "catalog") as catalog_url:
        running = Stack(base / "var", ports=Ports.free(), monolith_url=monolith_url, catalog_url=catalog_url)
        try:
            running.setup_monolith("--products", "300", "--users", "12", "--orders", "10")
            running.start_monolith()
            running.start_router()
            yield running
        finally:
            running.stop()


def run(stack: Stack, *args: str) -> dict:
    done = stack.manage("strangler", *args, "--json", check=False)
    assert done.returncode == 0, f"strangler {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result: dict = json.loads(done.stdout)
    return result


def login(base: str, email: str) -> dict[str, str]:
    with httpx.Client(base_url=base, timeout=30) as http:
        response = http.post("/api/accounts/login/", json={"email": email, "password": "shop-demo-password"})
        response.raise_for_status()
        return {"Authorization": f"Token {response.json()['token']}"}


def product(base: str, product_id: int, headers: dict[str, str] | None = None) -> dict:
    response = httpx.get(f"{base}/api/catalog/products/{product_id}/", headers=headers or {}, timeout=30)
    assert response.status_code == 200, response.text
    result: dict = response.json()
    return result


def test_the_catalog_moves_under_traffic_and_comes_back(stack: Stack) -> None:
    plan = str(stack.plan_path)
    run(stack, "run", plan, "--to", "verify", "--yes")
    stack.start_service()
    stack.start_follower()
    traffic = Traffic(stack.router_url, workers=4)
    traffic.start()
    try:
        for step in ("shadow", "canary-10", "canary-50", "cutover"):
            traffic.step = step
            outcome = run(stack, "run", plan, "--to", step, "--yes")
            assert outcome["ok"] and outcome["at"] == step, outcome
        traffic.step = "after-cutover"
        status = run(stack, "status", plan)
        assert status["at"] == "cutover"
        verify = status["figures"]["cutover"]["verify"]
        assert verify["ok"] and {t["target"] for t in verify["tables"]} == {"categories", "products"}
        routes = status["live"]["routes"]
        assert routes["catalog-reads"]["backend"] == routes["catalog-writes"]["backend"] == "catalog"

        # An order placed after cutover takes its stock at the catalog service, which now owns it.
        customer = login(stack.router_url, "customer11@example.com")
        item = next(p for p in traffic.products if product(stack.service_http, p)["stock"] >= 2)
        before = product(stack.service_http, item)["stock"]
        with httpx.Client(base_url=stack.router_url, headers=customer, timeout=30) as http:
            assert http.post("/api/cart/items/", json={"product": item, "quantity": 2}).status_code == 201
            order = http.post("/api/orders/checkout/", json={"shipping_address": ADDRESS})
            assert order.status_code == 201, order.text
        after = product(stack.service_http, item)["stock"]
        # Background shoppers may buy the same product meanwhile: at least our two units went.
        assert after <= before - 2

        # A write made on the service after cutover...
        staff = login(stack.router_url, "staff@example.com")
        edited = traffic.products[0]
        response = httpx.patch(f"{stack.router_url}/api/catalog/products/{edited}/", headers=staff,
                               json={"price": "4242.42", "name": "Made on the service"}, timeout=30)
        assert response.status_code == 200, response.text
        assert product(stack.service_http, edited)["price"] == "4242.42"
    finally:
        traffic.stop()

    assert traffic.tally.total("failed") == 0, traffic.tally.failures[:10]
    assert traffic.tally.total("ok") > 200
    assert traffic.tally.by_step.get("cutover", {}).get("frozen", 0) <= traffic.tally.total("frozen")

    # ...is in the monolith after a rollback, and everything is served by the monolith again.
    outcome = run(stack, "rollback", plan, "--to", "verify")
    assert outcome["ok"] and outcome["at"] == "verify", outcome
    status = run(stack, "status", plan)
    routes = status["live"]["routes"]
    assert routes["catalog-reads"]["backend"] == routes["catalog-writes"]["backend"] == "monolith"
    assert routes["catalog-reads"]["shadow"] is None and routes["catalog-reads"]["canary"] is None
    monolith_view = product(stack.monolith_http, edited)
    assert (monolith_view["price"], monolith_view["name"]) == ("4242.42", "Made on the service")
    assert product(stack.router_url, edited)["name"] == "Made on the service"
    # The monolith's checkout takes stock locally again (the plan's after_rollback hook).
    assert json.loads(stack.manage("catalog_gateway", "status", "--json").stdout)["mode"] == "local"


def test_a_second_executor_on_the_same_plan_is_refused(stack: Stack) -> None:
    from strangler.plans.state import StateStore

    store = StateStore(Path(stack.env()["STRANGLER_STATE_DB"]))
    with store.locked("catalog"):
        # This process holds the lock (alive); the CLI in another process must refuse.
        done = stack.manage("strangler", "run", str(stack.plan_path), "--to", "verify", "--yes", check=False)
    assert done.returncode == 1
    assert "is being run by another executor" in (done.stdout + done.stderr)
