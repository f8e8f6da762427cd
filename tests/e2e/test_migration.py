"""The catalog plan end to end, as real processes under concurrent traffic: monolith (gunicorn), router,
catalog service, sync follower, and `manage.py strangler run|rollback` driving them.

Holds the plan to its promises: no failed request apart from the bounded write-freeze 503s; the catalog
verified equal after cutover; refused credentials get the monolith's answers through the router after cutover
(every moved endpoint and method); an order placed after cutover takes its stock from the catalog service; a
rollback from after cutover brings everything back to the monolith, writes made on the service included.
In the PostgreSQL pass the catalog's own database is on PostgreSQL too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from scripts.stack import Ports, Stack
from scripts.traffic import ADDRESS, Traffic
from tests.e2e import refusals
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


MAKE_TOKENS = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
User = get_user_model()
keys = []
for name, active in (("revoked-e2e", False), ("deleted-e2e", True)):
    user = User.objects.create_user(username=name + "@example.com", email=name + "@example.com", password="x")
    keys.append(Token.objects.create(user=user).key)
    user.is_active = active
    user.save()
print("tokens:", " ".join(keys))
"""


def refused_credentials_get_the_monolith_s_answers(stack: Stack) -> None:
    """After cutover, through the router: a token that never existed, a token of a deactivated user, and a token
    deleted after the router cached its user (once ``cache_seconds`` have passed) get exactly the monolith's
    answers on every moved endpoint and method, in the monolith's order (400/404/406 before 401, 401 before
    405 and the object's 404)."""
    printed = stack.manage("shell", "-c", MAKE_TOKENS).stdout
    inactive, deleted = next(line for line in printed.splitlines() if line.startswith("tokens: ")).split()[1:]
    cached_at = time.monotonic()
    seen = httpx.get(f"{stack.router_url}/api/catalog/products/", headers={"Authorization": f"Token {deleted}"},
                     timeout=30)
    assert seen.status_code == 200  # the router now holds this token's user for cache_seconds
    stack.manage("shell", "-c", f"from rest_framework.authtoken.models import Token; "
                                f"Token.objects.filter(key={deleted!r}).delete()")
    ids = {"products": str(product_ids(stack.monolith_http)[0]), "categories": str(category_id(stack.monolith_http))}
    cases = refusals.probes(stack.monolith_http, "/api/catalog/", ids)
    compared, found = refusals.differences(stack.router_url, stack.monolith_http,
                                           [refusals.bad_token(), f"Token {inactive}"], cases)
    cache_seconds = yaml.safe_load(stack.routes_path.read_text())["identity"]["cache_seconds"]
    time.sleep(max(0.0, cached_at + cache_seconds + 0.5 - time.monotonic()))
    more, also = refusals.differences(stack.router_url, stack.monolith_http, [f"Token {deleted}"], cases)
    assert found + also == [], "\n".join((found + also)[:20])
    assert compared + more == 3 * len(cases) and len(cases) >= 80  # 8 paths x (7 methods + 4 variants) + 1


def product_ids(base: str) -> list[int]:
    response = httpx.get(f"{base}/api/catalog/products/", timeout=30)
    return [row["id"] for row in response.json()["results"]]


def category_id(base: str) -> int:
    return int(httpx.get(f"{base}/api/catalog/categories/", timeout=30).json()[0]["id"])


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
        refused_credentials_get_the_monolith_s_answers(stack)

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
