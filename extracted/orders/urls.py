"""Which URL is answered by what: the monolith's ``/api/orders/`` routes and ``/healthz`` (a URL no route matches is
:mod:`.notfound`'s)."""

from __future__ import annotations

from typing import Final

from starlette.routing import BaseRoute, Route

from extracted.orders import apis
from extracted.orders.checkout.api import internal_checkout, order_cancel, order_checkout
from extracted.orders.rendering import PRODUCT_REFERENCES_DESCRIPTION, order_action_fields
from extracted.orders.resources import STAFF_OR_CATALOG, Resource, ServiceResource
from extracted.orders.routing import HEALTHZ  # and {id:orders_id}

ROUTES: Final[list[BaseRoute]] = [
    # Internal: the catalog service asks before it deletes a product (the monolith's URL comes first too).
    Route("/api/orders/product-references/{id:orders_id}/", Resource(
        "Product References", {"GET": apis.product_references}, permission=STAFF_OR_CATALOG,
        description=PRODUCT_REFERENCES_DESCRIPTION)),
    # Internal: the monolith's checkout page, once the orders are cut over (its orders gateway).
    Route("/api/orders/internal/checkout/", ServiceResource("Internal Checkout", {"POST": internal_checkout})),
    # The monolith's OrderViewSet as DRF's SimpleRouter lays it out (list, checkout, detail, cancel).
    Route("/api/orders/", Resource("Order List", {"GET": apis.order_list})),
    Route("/api/orders/checkout/", Resource("Checkout", {"POST": order_checkout}, actions=order_action_fields)),
    Route("/api/orders/{id:orders_id}/", Resource("Order Instance", {"GET": apis.order_detail})),
    Route("/api/orders/{id:orders_id}/cancel/", Resource("Cancel", {"POST": order_cancel},
                                                          actions=order_action_fields)),
    HEALTHZ,
]
