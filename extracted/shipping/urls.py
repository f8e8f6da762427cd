"""Which URL is answered by what: the monolith's ``/api/shipping/`` routes (its ShipmentViewSet as DRF's
SimpleRouter lays it out, and the internal shipment API) and ``/healthz`` (a URL no route matches is
:mod:`.notfound`'s)."""

from __future__ import annotations

from typing import Final

from starlette.routing import BaseRoute, Route

from . import apis
from .rendering import status_action_fields
from .resources import AUTHENTICATED, STAFF_ONLY, Resource, ServiceResource
from .routing import HEALTHZ  # and {id:shipping_id}

# The orders service's checkout saga calls these with its own token (the monolith's internal API checks the same).
ORDERS_TOKEN_ENV: Final = "ORDERS_SERVICE_TOKEN"  # noqa: S105 - the variable's name

ROUTES: Final[list[BaseRoute]] = [
    Route("/api/shipping/internal/shipments/", ServiceResource(
        "Internal Shipment Request", {"POST": apis.internal_request}, token_env=ORDERS_TOKEN_ENV)),
    Route("/api/shipping/internal/shipments/cancel/", ServiceResource(
        "Internal Shipment Cancel", {"POST": apis.internal_cancel}, token_env=ORDERS_TOKEN_ENV)),
    Route("/api/shipping/shipments/", Resource("Shipment List", {"GET": apis.shipment_list},
                                               permission=AUTHENTICATED)),
    Route("/api/shipping/shipments/{id:shipping_id}/", Resource(
        "Shipment Instance", {"GET": apis.shipment_detail}, permission=AUTHENTICATED)),
    Route("/api/shipping/shipments/{id:shipping_id}/status/", Resource(
        "Set status", {"POST": apis.shipment_set_status}, permission=STAFF_ONLY, actions=status_action_fields)),
    HEALTHZ,
]
