"""End to end: the cart through the router, with the catalog already moved to the catalog service.

Real processes: the monolith (gunicorn), the catalog service and the cart service on their own databases (split
from the monolith's with their plans), and the router in front, its identity bridge asking the monolith. The
cart routes and the catalog's go to the services; the cart service reads products through the router
(``CART_CATALOG_URL``), which sends them to the catalog service, and anonymous sessions from the monolith. So a
price or a stock changed in the catalog service alone is what the cart shows and checks against; a user is
known by the identity token the router mints from the API token or from the session cookie (whose writes need
their CSRF token); an anonymous visitor gets the monolith's session cookie; the internal merge answers only the
cart's service token; a catalog owner that stops answering is a 503 with a code.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from strangler.processes import ManagedProcess, free_port
from tests.support.servers import ROOT, ShopServer, running_router, running_shop, scratch_database

pytestmark = pytest.mark.slow

SECRET = "cart-e2e-identity-secret-0123456789abcdef"
CART_TOKEN = "cart-e2e-service-token-0123456789"  # noqa: S105 - the test's own token
CATALOG_TOKEN = "cart-e2e-catalog-token-0123456789"  # noqa: S105 - the test's own token


@dataclass
class Stack:
    shop: ShopServer
    router: str
    catalog: ManagedProcess


def _split(env: dict[str, str], plan: str) -> None:
    for operation in ("provision", "copy"):
        done = subprocess.run([sys.executable, "manage.py", "strangler", "split", operation,  # noqa: S603
                               f"migration_plans/{plan}.yaml"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"{plan} {operation}: {done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("cart-e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CART_SERVICE_TOKEN", CART_TOKEN)
        mp.setenv("CATALOG_SERVICE_TOKEN", CATALOG_TOKEN)
        mp.setenv("ROUTER_IDENTITY_SECRET", SECRET)
        with running_shop(base, seed_args=("--products", "20", "--users", "3", "--orders", "0")) as shop, \
                scratch_database(base / "catalog") as catalog_db, scratch_database(base / "cart") as cart_db:
            catalog_port, cart_port = free_port(), free_port()
            env = {**shop.env, "CATALOG_DATABASE_URL": catalog_db, "CART_DATABASE_URL": cart_db,
                   "CART_MONOLITH_URL": shop.url, "CATALOG_MONOLITH_URL": shop.url}
            _split(env, "catalog")
            _split(env, "cart")
            catalog = ManagedProcess("catalog", [sys.executable, "-m", "extracted.catalog", "--port",
                                                 str(catalog_port)], log_path=base / "catalog.log", env=env, cwd=ROOT)
            routes = textwrap.dedent(f"""\
                version: 1
                listen: "{{listen}}"
                admin: {{listen: "{{admin_listen}}"}}
                default: monolith
                backends:
                  monolith: {{targets: ["{shop.url}"], health: {{interval: 0}}}}
                  catalog: {{targets: ["http://127.0.0.1:{catalog_port}"], health: {{interval: 0}}}}
                  cart: {{targets: ["http://127.0.0.1:{cart_port}"], health: {{interval: 0}}}}
                routes:
                  catalog-reads: {{path: /api/catalog/, methods: [GET, HEAD, OPTIONS], backend: catalog}}
                  catalog-writes: {{path: /api/catalog/, methods: [POST, PUT, PATCH, DELETE], backend: catalog}}
                  api-cart-reads: {{path: /api/cart/, methods: [GET, HEAD, OPTIONS], backend: cart}}
                  api-cart-writes: {{path: /api/cart/, methods: [POST, PUT, PATCH, DELETE], backend: cart}}
                identity:
                  resolve_url: "{shop.url}/api/accounts/me/"
                  cache_seconds: 5
                  token_ttl: 60
                """)
            with catalog, running_router(base, routes, env={**os.environ}) as (url, _process, _config):
                catalog.wait_healthy(f"http://127.0.0.1:{catalog_port}/healthz")
                # The cart service reads the catalog through the router (its default: the router's usual port).
                cart = ManagedProcess("cart", [sys.executable, "-m", "extracted.cart", "--port", str(cart_port)],
                                      log_path=base / "cart.log", env={**env, "CART_CATALOG_URL": url}, cwd=ROOT)
                with cart:
                    cart.wait_healthy(f"http://127.0.0.1:{cart_port}/healthz")
                    yield Stack(shop, url, catalog)


def _login(base_url: str, email: str) -> httpx.Client:
    """A client logged in through the monolith's API: its token in ``Authorization`` is kept apart, in
    ``client.headers["x-test-token"]``; its cookies (session, CSRF) in the client's jar."""
    client = httpx.Client(base_url=base_url, timeout=30)
    response = client.post("/api/accounts/login/", json={"email": email, "password": "shop-demo-password"})
    assert response.status_code == 200, response.text
    client.headers["x-test-token"] = response.json()["token"]
    return client


@pytest.mark.parametrize("path", ["/api/internal/session/cart/", "/api/catalog/internal/products/?ids=1"])
def test_the_internal_apis_refuse_a_caller_without_the_token(stack: Stack, path: str) -> None:
    """The router sends them on (the session API to the monolith, like everything unrouted; the batch read to the
    catalog service): the service token is what protects them."""
    for headers in ({}, {"X-Service-Token": "guess"}):
        response = httpx.get(stack.router + path, headers={"Cookie": "sessionid=whatever0123", **headers})
        assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_the_cart_through_the_router(stack: Stack) -> None:
    router = stack.router
    staff = _login(router, "staff@example.com")
    staff_auth = {"Authorization": f"Token {staff.headers['x-test-token']}"}
    # A price and a stock changed in the catalog service, which owns the catalog now (nothing feeds it back).
    changed = staff.patch("/api/catalog/products/1/", headers=staff_auth, json={"price": "77.77", "stock": 4})
    assert changed.status_code == 200, changed.text
    assert httpx.get(f"{stack.shop.url}/api/catalog/products/1/").json()["price"] != "77.77"
    for product in (2, 3):
        assert staff.patch(f"/api/catalog/products/{product}/", headers=staff_auth,
                           json={"stock": 10, "is_active": True}).status_code == 200

    alice = _login(router, "customer1@example.com")
    auth = {"Authorization": f"Token {alice.headers['x-test-token']}"}
    with httpx.Client(base_url=router, timeout=30) as api:
        added = api.post("/api/cart/items/", headers=auth, json={"product": 1, "quantity": 2})
        assert added.status_code == 201, added.text
        assert added.json()["items"][0]["product"]["price"] == "77.77"
        assert added.json()["total"] == "155.54"
        short = api.post("/api/cart/items/", headers=auth, json={"product": 1, "quantity": 3})
        assert (short.status_code, short.json()["items"][0]["available"]) == (409, 4)

    # An anonymous visitor: the monolith's session cookie, through the cart service and the router.
    with httpx.Client(base_url=router, timeout=30) as visitor:
        first = visitor.post("/api/cart/items/", json={"product": 2, "quantity": 1})
        assert first.status_code == 201
        assert first.headers["set-cookie"].startswith("sessionid=")
        anonymous_cart = first.json()["id"]
        assert visitor.get("/api/cart/").json()["id"] == anonymous_cart
        session = httpx.get(f"{stack.shop.url}/api/internal/session/cart/", headers={
            "X-Service-Token": CART_TOKEN, "Cookie": f"sessionid={visitor.cookies['sessionid']}"})
        assert session.json() == {"cart_id": anonymous_cart}

    # A browser logged in by session: the router knows it by its cookie; its writes need the CSRF token.
    browser = _login(router, "customer2@example.com")
    assert browser.post("/api/cart/items/", json={"product": 3}).json() == {
        "detail": "CSRF Failed: CSRF token missing."}
    written = browser.post("/api/cart/items/", json={"product": 3},
                           headers={"X-CSRFToken": browser.cookies["csrftoken"]})
    assert written.status_code == 201 and "set-cookie" not in written.headers
    assert browser.get("/api/cart/").json()["items"][0]["product"]["id"] == 3

    # The login merge (the monolith's gateway will call it): only with the cart's service token.
    alice_id = alice.get("/api/accounts/me/", headers=auth).json()["id"]
    merge = {"cart": anonymous_cart, "user": alice_id}
    assert httpx.post(f"{router}/api/cart/internal/merge/", json=merge).status_code == 401
    merged = httpx.post(f"{router}/api/cart/internal/merge/", json=merge, headers={"X-Service-Token": CART_TOKEN})
    assert merged.json() == {"cart": added.json()["id"], "merged": True, "lines": 1}
    assert [i["product"]["id"] for i in alice.get("/api/cart/", headers=auth).json()["items"]] == [1, 2]

    # The catalog's owner stops answering: the cart says so, with a code.
    stack.catalog.stop()
    down = alice.get("/api/cart/", headers=auth)
    assert (down.status_code, down.json()["code"]) == (503, "catalog_unavailable")
    for client in (staff, alice, browser):
        client.close()
