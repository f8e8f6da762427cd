"""The cart gateway (``legacy_monolith/cart/gateway.py``): its switch (``manage.py cart_gateway``), LocalCart and
RemoteCart against the real cart service process (uvicorn on a free port, its own migrated SQLite file), which
reads products from the real catalog service process (the suite's ``catalog_service``).

The same shopper's visit (anonymous adds, refusals, the cart page, quantities, login with its merge, the header's
count, checkout) is played once on the monolith's own tables and once through the cart service: the pages and the
order are the same, and the remote visit leaves the monolith's cart tables as they were.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from sqlalchemy import Engine, delete, select

from extracted.cart.models import cart_items, cart_requests, carts
from legacy_monolith import switches
from legacy_monolith.cart import gateway
from legacy_monolith.cart.gateway import LocalCart, Owner, RemoteCart
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import CartUnavailable
from legacy_monolith.orders.models import Order
from strangler.processes import ManagedProcess, free_port
from tests.conftest import PASSWORD
from tests.legacy_monolith.conftest import SERVICE_TOKEN as CATALOG_TOKEN
from tests.legacy_monolith.conftest import CatalogService

REPO = Path(__file__).resolve().parents[3]
CART_TOKEN = "monolith-to-cart-token-for-tests-0123456789"  # noqa: S105 - a test value
SHIP_FORM = {"full_name": "Alice Liddell", "line1": "1 Rabbit Hole", "line2": "", "city": "Oxford",
             "postal_code": "OX1", "country": "gb"}


@dataclass
class CartService:
    url: str
    engine: Engine
    process: ManagedProcess

    def reset(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(cart_items))
            conn.execute(delete(carts))
            conn.execute(delete(cart_requests))

    def lines(self, user_id: int) -> list[tuple[int, int]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(cart_items.c.product_id, cart_items.c.quantity)
                                .join(carts, carts.c.id == cart_items.c.cart_id)
                                .where(carts.c.user_id == user_id).order_by(cart_items.c.id))
            return [(int(p), int(q)) for p, q in rows]


@pytest.fixture(scope="session")
def _cart_process(tmp_path_factory: pytest.TempPathFactory, _catalog_process: CatalogService
                  ) -> Iterator[CartService]:
    from extracted.cart.db import make_engine
    from extracted.cart.migrate import upgrade_head

    folder = tmp_path_factory.mktemp("cart-service")
    url = f"sqlite:///{folder / 'cart.sqlite3'}"
    engine = make_engine(url)
    upgrade_head(engine)
    port = free_port()
    process = ManagedProcess("cart", [sys.executable, "-m", "extracted.cart", "--port", str(port)],
                             log_path=folder / "cart.log", cwd=REPO,
                             env={"CART_DATABASE_URL": url, "CART_SERVICE_TOKEN": CART_TOKEN,
                                  "CATALOG_SERVICE_TOKEN": CATALOG_TOKEN, "CART_CATALOG_URL": _catalog_process.url,
                                  "CART_MONOLITH_URL": "http://127.0.0.1:9"})
    with process:
        process.wait_healthy(f"http://127.0.0.1:{port}/healthz")
        yield CartService(url=f"http://127.0.0.1:{port}", engine=engine, process=process)
    engine.dispose()


@pytest.fixture
def cart_service(_cart_process: CartService, catalog_service: CatalogService, settings) -> Iterator[CartService]:
    """The running cart service, emptied, with the monolith's settings pointing at it."""
    settings.CART_SERVICE_URL = _cart_process.url
    settings.CART_SERVICE_TOKEN = CART_TOKEN
    _cart_process.reset()
    yield _cart_process
    _cart_process.reset()


def run(*args: str) -> str:
    out = StringIO()
    call_command("cart_gateway", *args, stdout=out)
    return out.getvalue()


def remote(on: bool) -> None:
    switches.set_switch(gateway.SWITCH, on)


# --- the switch ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_status_is_local_by_default(settings):
    settings.CART_SERVICE_TOKEN = ""
    text = run("status")
    assert text.startswith("cart gateway: local\n")
    assert "never set" in text and "remote not possible: CART_SERVICE_TOKEN is not set" in text
    assert json.loads(run("status", "--json"))["switch"] == "cart_gateway.remote"
    assert isinstance(gateway.cart_gateway(), LocalCart)
    with pytest.raises(CommandError, match="CART_SERVICE_TOKEN is not set"):
        run("remote", "--no-wait")


@pytest.mark.django_db
def test_remote_then_local(cart_service, settings):
    assert "cart gateway: remote (switched)" in run("remote", "--no-wait")
    assert isinstance(gateway.cart_gateway(), RemoteCart)
    data = json.loads(run("status", "--json"))
    assert data == {**data, "mode": "remote", "service_url": cart_service.url, "token_configured": True,
                    "remote_ready": True, "problems": []}
    assert "cart gateway: local (switched)" in run("local", "--no-wait")
    assert isinstance(gateway.cart_gateway(), LocalCart)
    # The probe refuses a service that does not answer, or does not take the token.
    settings.CART_SERVICE_TOKEN = "not-the-token"
    with pytest.raises(CommandError, match="answered HTTP 401"):
        run("remote", "--no-wait")
    settings.CART_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="does not answer"):
        run("remote", "--no-wait")
    assert not gateway.remote_enabled()


# --- the same visit, local and remote ------------------------------------------------------------------------


def _normalised(html: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value="-"', html)
    html = re.sub(r"/cart/items/\d+/", "/cart/items/N/", html)
    html = re.sub(r"/orders/\d+/", "/orders/N/", html)
    html = re.sub(r"\bORD-\d+", "ORD-N", html)
    return re.sub(r"Order [A-Z0-9-]+", "Order X", html)


def _line_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'action="/cart/items/(\d+)/"', html)]


def visit(customer, products: list[Product]) -> list[tuple[int, str, str]]:
    """A shopper's visit through the pages; what each step answered (status, final path, page), ids normalised."""
    first, second, scarce = products
    client = Client()
    seen: list[tuple[int, str, str]] = []

    def step(method: str, path: str, data: dict | None = None) -> str:
        response = client.post(path, data or {}, follow=True) if method == "POST" else client.get(path, follow=True)
        html = response.content.decode()
        seen.append((response.status_code, _normalised(response.request["PATH_INFO"]), _normalised(html)))
        return html

    # The user has a cart already (another device): it is merged into at login.
    gateway.cart_gateway().add(Owner(user_id=customer.pk), second, 2)
    step("GET", "/")
    step("POST", "/cart/add/", {"product": first.pk, "quantity": 2})
    step("POST", "/cart/add/", {"product": scarce.pk, "quantity": 5})  # 2 in stock: refused
    step("POST", "/cart/add/", {"product": second.pk, "quantity": 1})
    page = step("GET", "/cart/")
    first_line = _line_ids(page)[0]
    step("POST", f"/cart/items/{first_line}/", {"quantity": 3})
    step("POST", f"/cart/items/{first_line}/", {"quantity": 50})  # beyond stock: refused
    step("POST", "/cart/items/999999/", {"quantity": 1})  # nobody's line
    step("POST", "/accounts/login/", {"username": customer.email, "password": PASSWORD})  # merges
    page = step("GET", "/cart/")
    assert "Cart (6)" in page  # 3 + (2 + 1)
    step("POST", "/cart/add/", {"product": scarce.pk, "quantity": 1})
    page = step("GET", "/cart/")
    step("POST", f"/cart/items/{_line_ids(page)[-1]}/", {"quantity": 0})  # removed
    step("POST", "/checkout/", SHIP_FORM)
    step("GET", "/cart/")
    return seen


@pytest.mark.django_db
def test_the_same_visit_gives_the_same_pages_local_and_remote(cart_service, catalog_service, customer, make_product):
    products = [make_product(name="Santoku knife", price=Decimal("45.00"), stock=10),
                make_product(name="Cutting board", price=Decimal("19.90"), stock=10),
                make_product(name="Whetstone", price=Decimal("30.00"), stock=2)]
    stock = {p.pk: p.stock for p in products}

    local = visit(customer, products)
    local_order = Order.objects.get(user=customer)
    assert {(line.product_id, line.quantity) for line in local_order.lines.all()} == {
        (products[0].pk, 3), (products[1].pk, 3)}

    # The same starting point for the service's turn: the stock as it was, the catalog service a copy of it.
    for pk, units in stock.items():
        Product.objects.filter(pk=pk).update(stock=units)
    catalog_service.mirror(*products)
    local_cart_rows = sorted(CartItem.objects.values_list("id", "cart_id", "product_id", "quantity"))
    local_carts = sorted(Cart.objects.values_list("id", "user_id"))
    remote(True)

    served = visit(customer, products)
    assert len(served) == len(local)
    for number, (mine, theirs) in enumerate(zip(local, served, strict=True)):
        if mine != theirs:
            import difflib
            diff = "\n".join(difflib.unified_diff(mine[2].splitlines(), theirs[2].splitlines(), lineterm=""))
            raise AssertionError(f"step {number}: local {mine[:2]} vs remote {theirs[:2]}\n{diff}")
    remote_order = Order.objects.exclude(pk=local_order.pk).get(user=customer)
    assert {(line.product_id, line.quantity, line.unit_price) for line in remote_order.lines.all()} == {
        (line.product_id, line.quantity, line.unit_price) for line in local_order.lines.all()}
    # Nothing of the remote visit went to the monolith's cart tables; the service holds the user's empty cart.
    assert sorted(CartItem.objects.values_list("id", "cart_id", "product_id", "quantity")) == local_cart_rows
    assert sorted(Cart.objects.values_list("id", "user_id")) == local_carts
    assert cart_service.lines(customer.pk) == []
    with cart_service.engine.connect() as conn:
        assert conn.execute(select(carts.c.id).where(carts.c.user_id == customer.pk)).scalar() is not None


# --- the service down, or answering nonsense -----------------------------------------------------------------


@pytest.mark.django_db
def test_remote_with_the_service_down_is_a_503_saying_so(settings, customer, make_product, client_for):
    settings.CART_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    settings.CART_SERVICE_TOKEN = CART_TOKEN
    product = make_product(stock=5)
    remote(True)
    web = Client()
    home = web.get("/")
    assert home.status_code == 200 and "Cart (?)" in home.content.decode()  # one capability down, not the shop
    page = web.get("/cart/")
    assert page.status_code == 503 and page["Retry-After"] == "1"
    assert "The cart service is unavailable; please try again in a moment." in page.content.decode()
    added = web.post("/cart/add/", {"product": product.pk, "quantity": 1})
    assert added.status_code == 302  # refused with the message the next page shows
    assert "cart_id" not in web.session
    checkout = client_for(customer).post("/api/orders/checkout/", {"shipping_address": SHIP_FORM}, format="json")
    assert checkout.status_code == 503
    assert checkout.json() == {"detail": "The cart service is unavailable; please try again in a moment.",
                               "code": "cart_unavailable"}
    # Login with an anonymous cart: the login succeeds, the merge waits (the session still names the cart).
    session_web = Client()
    session = session_web.session
    session["cart_id"] = 4242
    session.save()
    login = session_web.post("/accounts/login/", {"username": customer.email, "password": PASSWORD})
    assert login.status_code == 302
    assert session_web.session.get(gateway.PENDING_MERGE) == 4242 and "cart_id" not in session_web.session
    assert session_web.get("/cart/").status_code == 503
    assert session_web.session.get(gateway.PENDING_MERGE) == 4242
    assert not Order.objects.exists() and not CartItem.objects.exists()
    assert Product.objects.get(pk=product.pk).stock == 5


@pytest.mark.django_db
def test_answers_it_does_not_understand_are_503_never_500(cart_service, catalog_service, settings, customer):
    owner = Owner(user_id=customer.pk)
    with pytest.raises(CartUnavailable, match="refused the shop's service token"):
        RemoteCart(token="wrong").read(owner)
    with pytest.raises(CartUnavailable, match="CART_SERVICE_TOKEN is not configured"):
        RemoteCart(token="").read(owner)
    # Something that is not the cart service (the catalog service answers 404 JSON for these paths).
    with pytest.raises(CartUnavailable, match="The cart service is unavailable"):
        RemoteCart(base_url=catalog_service.url).read(owner)
    remote(True)
    settings.CART_SERVICE_URL = catalog_service.url
    web = Client()
    web.force_login(customer)
    page = web.get("/cart/")
    assert page.status_code == 503 and "The cart service is unavailable" in page.content.decode()


# --- checkout with the cart at the service -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_checkout_whose_clear_answer_is_lost_puts_the_cart_back(cart_service, catalog_service, customer,
                                                                  make_product, monkeypatch):
    """The service cleared the cart but its answer never arrived (the saga's worst moment: the order will not
    commit): checkout asks the clear again under its key, learns what it took, and restores exactly that."""
    from legacy_monolith.orders import services as order_services

    products = [make_product(stock=10), make_product(stock=10)]
    catalog_service.mirror(*products)
    remote(True)
    owner = Owner(user_id=customer.pk)
    real = RemoteCart()
    for product in products:
        real.add(owner, product, 2)
    before = real.read(owner)
    assert before is not None
    lines = [(item.pk, item.product.pk, item.quantity) for item in before.items]
    cleared_keys: list[str] = []

    class AnswerLost(RemoteCart):
        def clear(self, owner_, *, idempotency_key):
            done = super().clear(owner_, idempotency_key=idempotency_key)
            if not cleared_keys:
                cleared_keys.append(idempotency_key)
                assert done and real.read(owner) is None or not real.read(owner).items  # really cleared
                raise CartUnavailable("The cart service is unavailable; please try again in a moment.")
            return done

    monkeypatch.setattr(order_services, "cart_gateway", AnswerLost)
    with pytest.raises(CartUnavailable):
        order_services.checkout(user=customer, owner=owner, shipping={**SHIP_FORM, "country": "GB"})
    after = real.read(owner)
    assert after is not None
    assert [(item.pk, item.product.pk, item.quantity) for item in after.items] == lines  # same lines, same ids
    assert not Order.objects.exists()
    assert [Product.objects.get(pk=p.pk).stock for p in products] == [10, 10]  # the local stock rolled back
    with cart_service.engine.connect() as conn:  # the clear once, its restore once
        keys = sorted(conn.execute(select(cart_requests.c.key)).scalars())
    assert keys == [cleared_keys[0], f"{cleared_keys[0]}:restore"]

    monkeypatch.undo()
    order = order_services.checkout(user=customer, owner=owner, shipping={**SHIP_FORM, "country": "GB"})
    assert {(line.product_id, line.quantity) for line in order.lines.all()} == {(p.pk, 2) for p in products}
    assert cart_service.lines(customer.pk) == []
    assert [Product.objects.get(pk=p.pk).stock for p in products] == [8, 8]


@pytest.mark.django_db
def test_a_login_merge_the_service_missed_is_done_on_the_next_request(cart_service, catalog_service, settings,
                                                                      customer, make_product):
    product = make_product(stock=10)
    catalog_service.mirror(product)
    remote(True)
    anonymous = RemoteCart().add(Owner(user_id=None), product, 2)
    web = Client()
    session = web.session
    session["cart_id"] = anonymous
    session.save()
    live = settings.CART_SERVICE_URL
    settings.CART_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # the service is down at the login
    assert web.post("/accounts/login/", {"username": customer.email, "password": PASSWORD}).status_code == 302
    assert web.session.get(gateway.PENDING_MERGE) == anonymous
    assert cart_service.lines(customer.pk) == []
    settings.CART_SERVICE_URL = live  # back: the next page merges it, once
    page = web.get("/cart/")
    assert page.status_code == 200 and "Cart (2)" in page.content.decode()
    assert cart_service.lines(customer.pk) == [(product.pk, 2)]
    assert gateway.PENDING_MERGE not in web.session
    assert "Cart (2)" in web.get("/cart/").content.decode()


@pytest.mark.django_db
def test_a_cart_changed_between_checkouts_read_and_clear_is_put_back_and_ordered_again(
        cart_service, catalog_service, customer, make_product, monkeypatch):
    """Another tab adds a line after checkout read the cart: the clear answers more than was read, so the order is
    rolled back, the lines go back, and checkout starts again from what the cart holds now."""
    from legacy_monolith.orders import services as order_services

    first, second = make_product(stock=10), make_product(stock=10)
    catalog_service.mirror(first, second)
    remote(True)
    owner = Owner(user_id=customer.pk)
    RemoteCart().add(owner, first, 2)
    keys: list[str] = []

    class OtherTab(RemoteCart):
        def clear(self, owner_, *, idempotency_key):
            keys.append(idempotency_key)
            if len(keys) == 1:
                RemoteCart().add(owner_, second, 1)  # between the read and the clear
            return super().clear(owner_, idempotency_key=idempotency_key)

    monkeypatch.setattr(order_services, "cart_gateway", OtherTab)
    order = order_services.checkout(user=customer, owner=owner, shipping={**SHIP_FORM, "country": "GB"})
    assert sorted((line.product_id, line.quantity) for line in order.lines.all()) == [(first.pk, 2), (second.pk, 1)]
    assert Order.objects.count() == 1
    assert [Product.objects.get(pk=p.pk).stock for p in (first, second)] == [8, 9]
    assert cart_service.lines(customer.pk) == []
    with cart_service.engine.connect() as conn:
        stored = sorted(conn.execute(select(cart_requests.c.key)).scalars())
    assert len(keys) == 2 and stored == sorted([keys[0], f"{keys[0]}:restore", keys[1]])


@pytest.mark.django_db
def test_a_line_whose_product_is_gone_is_not_ordered(cart_service, catalog_service, customer, make_product):
    """A line at the cart service for a product the shop no longer has (the monolith's own cart loses such a line
    with its product): not shown, not ordered, cleared with the rest; never a 500."""
    from extracted.cart import services as cart_services
    from legacy_monolith.orders import services as order_services

    product = make_product(stock=10)
    catalog_service.mirror(product)
    remote(True)
    owner = Owner(user_id=customer.pk)
    cart = RemoteCart().add(owner, product, 2)
    with cart_service.engine.begin() as conn:
        conn.execute(cart_items.insert().values(cart_id=cart, product_id=987654, quantity=1,
                                                added_at=cart_services.now_in(conn)))
    shown = RemoteCart().read(owner)
    assert shown is not None and [(i.product.pk, i.quantity) for i in shown.items] == [(product.pk, 2)]
    order = order_services.checkout(user=customer, owner=owner, shipping={**SHIP_FORM, "country": "GB"})
    assert [(line.product_id, line.quantity) for line in order.lines.all()] == [(product.pk, 2)]
    assert cart_service.lines(customer.pk) == []
