"""Which URL is answered by what: the monolith's ``/api/cart/`` routes, the internal API (:mod:`.internal`) and
``/healthz`` (a URL no route matches is :mod:`.notfound`'s)."""

from __future__ import annotations

from typing import Final

from starlette.routing import BaseRoute, Route

from extracted.cart import apis, internal
from extracted.cart.resources import Resource, ServiceResource
from extracted.cart.routing import HEALTHZ  # and {id:cart_id}

# The names are DRF's for the monolith's views (CartApi, CartItemsApi, CartItemApi): OPTIONS shows them.
ROUTES: Final[list[BaseRoute]] = [
    Route("/api/cart/", Resource("Cart Api", {"GET": apis.cart_detail, "DELETE": apis.cart_clear})),
    Route("/api/cart/items/", Resource("Cart Items Api", {"POST": apis.item_add})),
    Route("/api/cart/items/{id:cart_id}/", Resource("Cart Item Api", {
        "PUT": apis.item_set_quantity, "PATCH": apis.item_set_quantity, "DELETE": apis.item_remove})),
    # Internal (X-Service-Token): the monolith's cart gateway and the orders' checkout (contract: internal.py).
    Route("/api/cart/internal/merge/", ServiceResource("Cart Merge", {"POST": apis.merge})),
    *(Route(f"/api/cart/internal/{name}/", ServiceResource(f"Cart {name}", {"POST": handler}))
      for name, handler in (("read", internal.read), ("add", internal.add), ("set-quantity", internal.set_quantity),
                            ("remove", internal.remove), ("clear", internal.clear), ("restore", internal.restore))),
    HEALTHZ,
]
