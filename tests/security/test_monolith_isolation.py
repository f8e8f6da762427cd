"""Issue 16, the monolith's side: the rules tests/security/test_isolation.py holds the services to, held by the
monolith itself (Django's test client; its test database), so that both sides of every cut-over keep them.

Generated from the monolith's own URL resolver: every pattern and method is classified in
:data:`~tests.security.routes.MONOLITH_ROUTES` (one that is not fails
``test_every_url_of_the_monolith_is_classified``). Customer B (bob@example.com, signed in by API token and by
session, as the pages want) tries every method on customer A's (alice@example.com) addresses, cart lines, orders
and shipments, the lists with filters naming them and fields naming A in the bodies, and gets what a missing object
gets; A's rows stay as they were, and no answer to B holds a string only A's data holds."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from legacy_monolith.accounts.models import Address
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.orders import services as order_services
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.shipping.models import Shipment, ShipmentEvent
from tests.conftest import PASSWORD
from tests.legacy_monolith.conftest import _fresh_switches  # noqa: F401 - autouse: the switches' cache per test
from tests.security.routes import (
    MONOLITH_ROUTES,
    SMUGGLED_QUERIES,
    Check,
    Internal,
    Listed,
    Own,
    Owned,
    Public,
    Staff,
    body_for,
    ids_of,
)
from tests.security.stages import MISSING, SERVICE_TOKENS

pytestmark = pytest.mark.django_db
PARAMETER = re.compile(r"\(\?P<\w+>[^)]*\)|<[\w:]+>")
SHIP_TO_A = {"full_name": "Alice Owner", "line1": "1 Secret Lane", "city": "Aliceville", "postal_code": "111 11",
             "country": "SE"}
SHIP_TO_B = {"full_name": "Bob Intruder", "line1": "2 Open Road", "city": "Bobtown", "postal_code": "222 22",
             "country": "SE"}


def _patterns(patterns: list[Any] | None = None, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def _methods(pattern: URLPattern) -> set[str] | None:
    """What a view answers besides HEAD and OPTIONS (None: a function view, whose decorators do not say)."""
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:
        # DRF's view adds "head" to this very dict at its first GET, so what an earlier test asked shows here.
        return {action.upper() for action in actions if action not in ("options", "head", "trace")}
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return None
    return {m.upper() for m in view.http_method_names if hasattr(view, m) and m not in ("options", "head", "trace")}


def test_every_url_of_the_monolith_is_classified() -> None:
    problems = []
    for path, pattern in _patterns():
        if path not in MONOLITH_ROUTES:
            problems.append(f"{path!r} ({pattern.name}) is not classified in tests/security/routes.py")
            continue
        methods = _methods(pattern)
        problems += [f"{method} {path!r} is answered but not classified"
                     for method in sorted((methods or set()) - set(MONOLITH_ROUTES[path]))]
    assert problems == []


def _cases() -> list[Any]:
    return [pytest.param(path, method, id=f"{method}-/{path}")
            for path, _pattern in _patterns() for method, check in sorted(MONOLITH_ROUTES.get(path, {}).items())
            if not isinstance(check, Public)]


@dataclass
class Shop:
    """The monolith with A's and B's objects: ``owned``/``others`` by kind, ``values`` for the bodies' ``{names}``."""

    owner: User
    intruder: User
    owned: dict[str, list[int]]
    markers: tuple[str, ...]
    values: dict[str, object]
    clients: dict[int, Client]
    signed_in: set[int] = field(default_factory=set)

    def send(self, user: User, method: str, url: str, body: dict[str, Any] | None = None, *,
             extra: dict[str, str] | None = None) -> HttpResponse:
        """An API call (JSON) or a page's form (``url`` not under /api/), as ``user``."""
        client = self.clients[user.pk]
        if not url.startswith("/api/"):
            assert user.pk in self.signed_in, "a page: sign_in() first"
        headers = extra or {}
        if body is None:
            return client.generic(method, url, headers=headers)  # type: ignore[return-value]
        if url.startswith("/api/"):
            return client.generic(method, url, json.dumps(body), content_type="application/json",  # type: ignore[return-value]
                                  headers=headers)
        return client.post(url, body, headers=headers)  # type: ignore[return-value]

    def sign_in(self, user: User) -> None:
        """A browser's session for the pages (the API calls go by token)."""
        self.clients[user.pk].force_login(user)
        self.signed_in.add(user.pk)

    def rows_of(self, user: User) -> list[Any]:
        orders = Order.objects.filter(user=user)
        shipments = Shipment.objects.filter(user=user)
        return [list(model.objects.filter(**where).order_by("pk").values()) for model, where in (
            (User, {"pk": user.pk}), (Token, {"user": user}), (Address, {"user": user}), (Cart, {"user": user}),
            (CartItem, {"cart__user": user}), (Order, {"user": user}), (OrderLine, {"order__in": orders}),
            (Shipment, {"user": user}), (ShipmentEvent, {"shipment__in": shipments}))]

    def catalog(self) -> list[Any]:
        return [list(Product.objects.order_by("pk").values()), list(Category.objects.order_by("pk").values())]


VIEWS = {"address": "/api/accounts/addresses/{id}/", "order": "/api/orders/{id}/", "shipment":
         "/api/shipping/shipments/{id}/", "cart_item": "/api/cart/", "cart": "/api/cart/", "user": "/api/accounts/me/"}


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    """The users' passwords hashed cheaply (before the users are made): hashing is not what these tests are about."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def shop(settings: Any, customer: User, other_customer: User, make_product: Any) -> Shop:
    for name, value in SERVICE_TOKENS.items():
        setattr(settings, name, value)
    a, b = customer, other_customer
    addresses = [Address.objects.create(user=a, is_default=True, **SHIP_TO_A),
                 Address.objects.create(user=a, **{**SHIP_TO_A, "line1": "3 Secret Lane"}),
                 Address.objects.create(user=b, is_default=True, **SHIP_TO_B)]

    def place(user: User, shipping: dict[str, str]) -> Order:
        cart, _ = Cart.objects.get_or_create(user=user)
        CartItem.objects.create(cart=cart, product=make_product(stock=5), quantity=1)
        return order_services.checkout(user=user, cart=cart, shipping=shipping, carrier="dhl")

    orders = [place(a, SHIP_TO_A), place(a, SHIP_TO_A), place(b, SHIP_TO_B)]
    for n, order in enumerate(orders[:2], 1):
        Shipment.objects.filter(order=order).update(tracking_number=f"TRK-ALICE-{n}")
    zither, drum = make_product(name="Zither of Alice", stock=9), make_product(name="Drum", stock=9)
    a_cart, b_cart = Cart.objects.get(user=a), Cart.objects.get(user=b)
    a_lines = [CartItem.objects.create(cart=a_cart, product=zither, quantity=2)]
    CartItem.objects.create(cart=b_cart, product=drum, quantity=1)
    clients = {}
    for user in (a, b):
        clients[user.pk] = Client(headers={"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"})
    owned = {"address": [x.pk for x in addresses[:2]], "order": [o.pk for o in orders[:2]],
             "shipment": [Shipment.objects.get(order=o).pk for o in orders[:2]], "cart": [a_cart.pk],
             "cart_item": [line.pk for line in a_lines], "user": [a.pk]}
    markers = ("Alice Owner", "Aliceville", "Secret Lane", "Zither of Alice", "alice@example.com", "TRK-ALICE",
               *(o.number for o in orders[:2]))
    return Shop(a, b, owned, markers, {"product": drum.pk, "address": addresses[0].pk, "password": PASSWORD},
                clients)


def _url(path: str, value: object) -> str:
    """The URL of a pattern as the resolver spells it (a path's ``<id:...>`` or a router's ``(?P<pk>...)``)."""
    return "/" + PARAMETER.sub(str(value), path).replace("^", "").replace("$", "")


def _leaks(shop: Shop, answer: HttpResponse) -> list[str]:
    text = answer.content.decode(errors="replace")
    return [marker for marker in shop.markers if marker in text]


def _same(answer: HttpResponse, missing: HttpResponse, api: bool) -> bool:
    """The same answer: status, and the body (an API's) or where it redirects (a page's; its 404 page names the
    path)."""
    if api:
        return (answer.status_code, answer.content) == (missing.status_code, missing.content)
    return (answer.status_code, answer.get("Location")) == (missing.status_code, missing.get("Location"))


@pytest.mark.parametrize(("path", "method"), _cases())
def test_an_intruder_reaches_nothing_of_the_owners_in_the_monolith(shop: Shop, path: str, method: str) -> None:
    check: Check = MONOLITH_ROUTES[path][method]
    a, b = shop.owner, shop.intruder
    api = path.startswith("api/")
    if not api:
        shop.sign_in(b)
    body = (body_for(getattr(check, "body", {}), a.pk, next(iter(shop.owned.values()))[0], **shop.values)
            if method in ("POST", "PUT", "PATCH") else None)
    owners_rows, catalog = shop.rows_of(a), shop.catalog()

    if isinstance(check, Owned):
        views = {oid: shop.send(a, "GET", VIEWS[check.kind].replace("{id}", str(oid))).content
                 for oid in shop.owned[check.kind]}
        assert all(any(m.encode() in v for m in shop.markers) for v in views.values())  # the yardstick
        intruders_rows = shop.rows_of(b)
        for asked in [method, *(["HEAD"] if method == "GET" else []), "OPTIONS"]:
            sent = body if asked == method else None
            missing = shop.send(b, asked, _url(path, MISSING), sent)
            if asked == method:
                assert missing.status_code == check.status, missing.content[:200]
            for oid in shop.owned[check.kind]:
                answer = shop.send(b, asked, _url(path, oid), sent)
                assert _same(answer, missing, api), (asked, oid, answer.status_code, answer.content[:200],
                                                     missing.status_code, missing.content[:200])
                assert _leaks(shop, answer) == []
        assert shop.rows_of(a) == owners_rows
        assert shop.rows_of(b) == intruders_rows
        assert {oid: shop.send(a, "GET", VIEWS[check.kind].replace("{id}", str(oid))).content
                for oid in shop.owned[check.kind]} == views

    elif isinstance(check, Listed):
        url = _url(path, None)
        owners = json.loads(shop.send(a, "GET", url).content)
        for kind in check.kinds:
            assert set(shop.owned[kind]) <= set(ids_of(kind, owners))
        queries = [q.replace("{A}", str(a.pk)) for q in SMUGGLED_QUERIES]
        naming = [f.replace("{order}", str(oid)) for f in check.filters for oid in shop.owned["order"]]
        for query in (*queries, *naming):
            answer = shop.send(b, "GET", url + query)
            assert answer.status_code == 200, (query, answer.content[:200])
            assert _leaks(shop, answer) == [], query
            for kind in check.kinds:
                found = ids_of(kind, json.loads(answer.content))
                assert not set(found) & set(shop.owned[kind]), (query, kind, found)
                if query in naming:
                    assert found == [], query
        assert shop.rows_of(a) == owners_rows

    elif isinstance(check, Own):
        answer = shop.send(b, method, _url(path, None), body)
        assert answer.status_code in check.statuses, answer.content[:300]
        assert check.says in answer.content.decode(), answer.content[:300]
        assert _leaks(shop, answer) == []
        assert shop.rows_of(a) == owners_rows
        assert [m for m in shop.markers if m in repr(shop.rows_of(b))] == []

    elif isinstance(check, Staff):
        some = Product.objects.order_by("pk").first()
        assert some is not None
        answer = shop.send(b, method, _url(path, some.pk if "<" in path or "(?P" in path else None), body)
        assert answer.status_code == check.status, answer.content[:200]
        assert shop.catalog() == catalog

    else:
        assert isinstance(check, Internal)
        url = _url(path, None)
        for extra in (None, {"X-Service-Token": "a-guess"}):
            answer = shop.send(b, method, url, body, extra=extra)
            assert answer.status_code == 401, answer.content[:200]
        assert shop.rows_of(a) == owners_rows
