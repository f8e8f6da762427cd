"""What each route of each service does with a customer's objects: the table the security tests are generated from.

Every route of a service's URL table (``extracted/<service>/urls.py``'s ``ROUTES``) and every method it answers
must be classified here; a route or a method that is not fails :func:`unclassified` (so a new endpoint cannot slip
by unchecked). The tests are generated from the URL table itself: an entry here for a route the service no longer
has checks nothing (and fails nothing: URL tables change under other work).

The classes say what an intruder (customer B) gets when reaching for the owner's (customer A's) objects, which
is what the monolith gives (its ``get_queryset()`` scoped to the caller: another's object is not found, never
forbidden; a list holds only the caller's):

- :class:`Owned`: the URL's ``{id}`` names one of the caller's objects of ``kind``: another's is answered exactly
  as a missing one (``status``, the same body), and is left as it was;
- :class:`Listed`: the caller's objects of ``kinds`` are listed; ``filters`` naming another's objects find none;
- :class:`Own`: the caller's own thing without an id (their cart, ``/me/``, a new object): it touches only theirs
  (``statuses``: what the service answers the intruder, as it stands; ``says``: part of that answer);
- :class:`Staff`: staff only, no customer's object in it: a customer is refused with ``status``;
- :class:`Internal`: another service's (``X-Service-Token`` of ``env``): a customer's identity opens nothing;
- :class:`Public`: nobody's data (the catalog's reads, health, login and registration); ``authenticates``: whether
  an identity token is checked there at all (the monolith's login and registration have no authentication).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.routing import BaseRoute, Route

ID = re.compile(r"\{id(?::[a-z_]+)?\}")


@dataclass(frozen=True)
class Owned:
    kind: str
    status: int = 404
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Listed:
    kinds: tuple[str, ...]
    filters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Own:
    statuses: frozenset[int]
    body: Mapping[str, Any] = field(default_factory=dict)
    says: str = ""  # in the answer: why it is refused


@dataclass(frozen=True)
class Staff:
    status: int = 403
    body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Internal:
    env: str


@dataclass(frozen=True)
class Public:
    authenticates: bool = True


Check = Owned | Listed | Own | Staff | Internal | Public

# Fields an intruder could send to make an object theirs or another's: every write below carries them, naming the
# owner (``{A}``) or the owner's object (``{own}``), and every service must ignore them.
SMUGGLED: Final[dict[str, Any]] = {"user": "{A}", "user_id": "{A}", "owner": "{A}", "cart": "{own}",
                                   "cart_id": "{own}", "id": "{own}"}
ADDRESS: Final = {"full_name": "Mallory", "line1": "Evil street 1", "city": "Mordor", "postal_code": "66666",
                  "country": "se", "is_default": True}
PRODUCT: Final = {"sku": "PWNED-1", "name": "Pwned", "price": "0.01", "stock": 0, "category": 1, "is_active": True}
CATALOG_WRITES: Final = {"POST": Staff(), "PUT": Staff(body=PRODUCT), "PATCH": Staff(body=PRODUCT), "DELETE": Staff()}

SERVICE_ROUTES: Final[dict[str, dict[str, dict[str, Check]]]] = {
    "catalog": {
        "/api/catalog/categories/": {"GET": Public(), "POST": Staff(body={"name": "Pwned", "slug": "pwned"})},
        "/api/catalog/categories/{id:catalog_id}/": {"GET": Public(), **{m: c for m, c in CATALOG_WRITES.items()
                                                                          if m != "POST"}},
        "/api/catalog/products/": {"GET": Public(), "POST": Staff(body=PRODUCT)},
        "/api/catalog/products/{id:catalog_id}/": {"GET": Public(), **{m: c for m, c in CATALOG_WRITES.items()
                                                                        if m != "POST"}},
        "/api/catalog/products/{id:catalog_id}/stock/": {"POST": Staff(body={"delta": -5})},
        "/api/catalog/stock/reserve/": {"POST": Internal("CATALOG_SERVICE_TOKEN")},
        "/api/catalog/stock/release/": {"POST": Internal("CATALOG_SERVICE_TOKEN")},
        "/api/catalog/internal/products/": {"GET": Internal("CATALOG_SERVICE_TOKEN")},
        "/api/catalog/reservations/": {"POST": Internal("CATALOG_SERVICE_TOKEN")},
        "/api/catalog/reservations/release/": {"POST": Internal("CATALOG_SERVICE_TOKEN")},
        "/api/catalog/stock/returns/": {"POST": Internal("CATALOG_SERVICE_TOKEN")},
        "/api/catalog/reservations/{id:uuid_text}/": {"GET": Internal("CATALOG_SERVICE_TOKEN")},
        "/api/catalog/reservations/{id:uuid_text}/commit/": {"POST": Internal("CATALOG_SERVICE_TOKEN")},
        "/api/catalog/reservations/{id:uuid_text}/release/": {"POST": Internal("CATALOG_SERVICE_TOKEN")},
        "/healthz": {"GET": Public(authenticates=False)},
    },
    "cart": {
        # The caller's cart: its id and its lines are the caller's; clearing it clears only theirs.
        "/api/cart/": {"GET": Listed(("cart", "cart_item")), "DELETE": Own(frozenset({204}))},
        "/api/cart/items/": {"POST": Own(frozenset({201}), body={"product": 3, "quantity": 1})},
        "/api/cart/items/{id:cart_id}/": {"PUT": Owned("cart_item", body={"quantity": 1}),
                                          "PATCH": Owned("cart_item", body={"quantity": 1}),
                                          "DELETE": Owned("cart_item")},
        "/api/cart/internal/merge/": {"POST": Internal("CART_SERVICE_TOKEN")},
        **{f"/api/cart/internal/{name}/": {"POST": Internal("CART_SERVICE_TOKEN")}
           for name in ("read", "add", "set-quantity", "remove", "clear", "restore")},
        "/healthz": {"GET": Public(authenticates=False)},
    },
    "orders": {
        "/api/orders/product-references/{id:orders_id}/": {"GET": Staff()},
        "/api/orders/internal/checkout/": {"POST": Internal("ORDERS_SERVICE_TOKEN")},
        "/api/orders/": {"GET": Listed(("order",))},
        # In process the service runs without its sagas: checkout answers 503 not_yet (the saga reads a saved
        # address as the caller's at the address book: tests/extracted/orders/checkout/test_saga.py and
        # test_isolation's internal look-up).
        "/api/orders/checkout/": {"POST": Own(frozenset({503}), body={"address": "{own}"}, says="not_yet")},
        "/api/orders/{id:orders_id}/": {"GET": Owned("order")},
        "/api/orders/{id:orders_id}/cancel/": {"POST": Owned("order")},
        "/healthz": {"GET": Public(authenticates=False)},
    },
    "shipping": {
        "/api/shipping/internal/shipments/": {"POST": Internal("ORDERS_SERVICE_TOKEN")},
        "/api/shipping/internal/shipments/cancel/": {"POST": Internal("ORDERS_SERVICE_TOKEN")},
        "/api/shipping/shipments/": {"GET": Listed(("shipment",), filters=(
            "?order={order}", "?order={order}&status=", "?status=shipped&order={order}"))},
        "/api/shipping/shipments/{id:shipping_id}/": {"GET": Owned("shipment")},
        # Staff only: a customer is refused before the look-up, for another's shipment as for a missing one.
        "/api/shipping/shipments/{id:shipping_id}/status/": {"POST": Owned("shipment", status=403,
                                                                           body={"status": "delivered"})},
        "/healthz": {"GET": Public(authenticates=False)},
    },
    "accounts": {
        "/api/accounts/me/": {"GET": Listed(("user",)),
                              "PATCH": Own(frozenset({200}), body={"first_name": "Mallory", "email": "x@example.com"})},
        "/api/accounts/register/": {"POST": Public(authenticates=False)},
        "/api/accounts/login/": {"POST": Public(authenticates=False)},
        "/api/accounts/logout/": {"POST": Own(frozenset({204}))},
        # The caller's own password, by their old one: the intruder's is changed, never the owner's.
        "/api/accounts/password/": {"POST": Own(frozenset({204}), body={"old_password": "intruder-password-1",
                                                                        "new_password": "a-new-long-password-42"})},
        "/api/accounts/internal/addresses/": {"POST": Internal("ORDERS_SERVICE_TOKEN")},
        "/api/accounts/internal/authenticate/": {"POST": Internal("ACCOUNTS_SERVICE_TOKEN")},
        "/api/accounts/internal/token/": {"POST": Internal("ACCOUNTS_SERVICE_TOKEN")},
        "/api/accounts/addresses/": {"GET": Listed(("address",)), "POST": Own(frozenset({201}), body=ADDRESS)},
        "/api/accounts/addresses/{id:accounts_id}/": {"GET": Owned("address"), "PUT": Owned("address", body=ADDRESS),
                                                      "PATCH": Owned("address", body={"city": "Mordor",
                                                                                      "is_default": False}),
                                                      "DELETE": Owned("address")},
        "/healthz": {"GET": Public(authenticates=False)},
    },
}


def methods_of(route: BaseRoute) -> set[str]:
    """The methods a route answers besides HEAD (a GET's) and OPTIONS (every resource's)."""
    assert isinstance(route, Route), f"{route!r}: not a plain route; teach tests/security/routes.py its methods"
    handlers = getattr(route.endpoint, "handlers", None)
    methods = set(handlers) if isinstance(handlers, dict) else set(route.methods or ())
    return methods - {"HEAD", "OPTIONS"}


def unclassified(service: str, routes: list[BaseRoute]) -> list[str]:
    """What the table does not say about ``routes`` (empty: every route and method is classified)."""
    table = SERVICE_ROUTES[service]
    problems: list[str] = []
    for route in routes:
        path = getattr(route, "path", repr(route))
        if path not in table:
            problems.append(f"{service}: {path} is not classified in tests/security/routes.py")
            continue
        problems += [f"{service}: {method} {path} is answered but not classified"
                     for method in sorted(methods_of(route) - set(table[path]))]
    return problems


def checks(service: str, routes: list[BaseRoute]) -> Iterator[tuple[str, str, Check]]:
    """``(path, method, check)`` of every classified route and method, in the URL table's order."""
    table = SERVICE_ROUTES[service]
    for route in routes:
        path = getattr(route, "path", "")
        for method in sorted(table.get(path, {})):
            yield path, method, table[path][method]


def fill(path: str, value: object) -> str:
    """``path`` with its ``{id}`` set to ``value`` (a reservation's: a well-formed UUID nobody was given)."""
    if "{id:uuid_text}" in path:
        return path.replace("{id:uuid_text}", "00000000-0000-4000-8000-000000000000")
    return ID.sub(str(value), path)


def body_for(body: Mapping[str, Any], owner: int, own: int, **values: object) -> dict[str, Any]:
    """A write's body with :data:`SMUGGLED` added, ``{A}`` and ``{own}`` set to the owner and their object (and
    ``{name}`` to ``values[name]``)."""
    known = {"{A}": owner, "{own}": own, **{f"{{{name}}}": value for name, value in values.items()}}
    return {name: known.get(value, value) if isinstance(value, str) else value
            for name, value in {**SMUGGLED, **body}.items()}


# Query strings an intruder could try on any list to reach the owner's objects: every side must ignore them.
SMUGGLED_QUERIES: Final = ("", "?user={A}", "?user_id={A}", "?owner={A}", "?page_size=1000",
                           "?page_size=1000&user={A}")


def ids_of(kind: str, body: Any) -> list[int]:
    """The ids of ``kind`` in an answer: a list's (a plain list, or a page's ``results``), the cart's lines, the
    cart's or the caller's own id."""
    if kind == "cart_item":
        return [item["id"] for item in body["items"]]
    if kind in ("cart", "user"):
        return [] if body["id"] is None else [body["id"]]
    rows = body["results"] if isinstance(body, dict) else body
    return [row["id"] for row in rows]


# --- the monolith ---------------------------------------------------------------------------------------------------
# Keyed by the URL pattern as Django's resolver spells it (the URL names repeat between the API and the pages);
# the pages' methods come from their decorators, which the resolver does not show: listed here.

PAGE: Final = {"full_name": "Mallory", "line1": "Evil street 1", "city": "Mordor", "postal_code": "66666",
               "country": "SE"}
MONOLITH_ROUTES: Final[dict[str, dict[str, Check]]] = {
    "healthz": {"GET": Public(authenticates=False)},
    "api/accounts/register/": {"POST": Public(authenticates=False)},
    "api/accounts/login/": {"POST": Public(authenticates=False)},
    "api/accounts/logout/": {"POST": Own(frozenset({204}))},
    "api/accounts/me/": SERVICE_ROUTES["accounts"]["/api/accounts/me/"],
    "api/accounts/password/": {"POST": Own(frozenset({204}), body={"old_password": "{password}",
                                                                   "new_password": "a-new-long-password-42"})},
    "api/accounts/internal/addresses/": {"POST": Internal("ORDERS_SERVICE_TOKEN")},
    "api/accounts/^addresses/$": SERVICE_ROUTES["accounts"]["/api/accounts/addresses/"],
    "api/accounts/^addresses/(?P<pk>[0-9]{1,18})/$": SERVICE_ROUTES["accounts"][
        "/api/accounts/addresses/{id:accounts_id}/"],
    "api/catalog/internal/products/": {"GET": Internal("CATALOG_SERVICE_TOKEN")},
    "api/catalog/^categories/$": SERVICE_ROUTES["catalog"]["/api/catalog/categories/"],
    "api/catalog/^categories/(?P<pk>[0-9]{1,18})/$": SERVICE_ROUTES["catalog"][
        "/api/catalog/categories/{id:catalog_id}/"],
    "api/catalog/^products/$": SERVICE_ROUTES["catalog"]["/api/catalog/products/"],
    "api/catalog/^products/(?P<pk>[0-9]{1,18})/$": SERVICE_ROUTES["catalog"]["/api/catalog/products/{id:catalog_id}/"],
    "api/catalog/^products/(?P<pk>[0-9]{1,18})/stock/$": SERVICE_ROUTES["catalog"][
        "/api/catalog/products/{id:catalog_id}/stock/"],
    "api/cart/": SERVICE_ROUTES["cart"]["/api/cart/"],
    "api/cart/items/": {"POST": Own(frozenset({201}), body={"product": "{product}", "quantity": 1})},
    "api/cart/items/<id:item_id>/": SERVICE_ROUTES["cart"]["/api/cart/items/{id:cart_id}/"],
    "api/orders/product-references/<id:product_id>/": {"GET": Staff()},
    "api/orders/^$": {"GET": Listed(("order",))},
    # The intruder, with a cart to order, names the owner's saved address: refused, and no order of theirs holds it.
    "api/orders/^checkout/$": {"POST": Own(frozenset({400}), body={"address": "{address}"},
                                           says="No such address in your address book.")},
    "api/orders/^(?P<pk>[0-9]{1,18})/$": {"GET": Owned("order")},
    "api/orders/^(?P<pk>[0-9]{1,18})/cancel/$": {"POST": Owned("order")},
    "api/shipping/internal/shipments/": {"POST": Internal("ORDERS_SERVICE_TOKEN")},
    "api/shipping/internal/shipments/cancel/": {"POST": Internal("ORDERS_SERVICE_TOKEN")},
    "api/shipping/^shipments/$": SERVICE_ROUTES["shipping"]["/api/shipping/shipments/"],
    "api/shipping/^shipments/(?P<pk>[0-9]{1,18})/$": SERVICE_ROUTES["shipping"][
        "/api/shipping/shipments/{id:shipping_id}/"],
    "api/shipping/^shipments/(?P<pk>[0-9]{1,18})/status/$": SERVICE_ROUTES["shipping"][
        "/api/shipping/shipments/{id:shipping_id}/status/"],
    "api/schema/": {"GET": Public(authenticates=False)},
    "api/internal/session/cart/": {"GET": Internal("CART_SERVICE_TOKEN"), "PUT": Internal("CART_SERVICE_TOKEN")},
    "api/internal/session/user/": {m: Internal("ACCOUNTS_SERVICE_TOKEN") for m in ("GET", "POST", "DELETE")},
    # The pages (a browser's session).
    "": {"GET": Public(authenticates=False)},
    "products/<id:product_id>/": {"GET": Public(authenticates=False)},
    "cart/": {"GET": Own(frozenset({200}))},
    "cart/add/": {"POST": Own(frozenset({302}), body={"product": "{product}", "quantity": 1})},
    # Another's cart line: the same redirect (with its "not in your cart" message) as a missing one.
    "cart/items/<id:item_id>/": {"POST": Owned("cart_item", status=302, body={"quantity": 5})},
    "checkout/": {"GET": Own(frozenset({200})), "POST": Own(frozenset({302}), body=PAGE)},
    "orders/": {"GET": Own(frozenset({200}))},
    "orders/<id:order_id>/": {"GET": Owned("order")},
    "accounts/login/": {m: Public(authenticates=False) for m in ("GET", "POST", "PUT")},
    "accounts/logout/": {"POST": Own(frozenset({302}))},
}
