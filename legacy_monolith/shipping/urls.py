from django.urls import path
from rest_framework.routers import SimpleRouter

from legacy_monolith.shipping import internal
from legacy_monolith.shipping.apis import ShipmentViewSet

router = SimpleRouter()
router.register("shipments", ShipmentViewSet, basename="shipment")

urlpatterns = [
    # Internal (X-Service-Token = ORDERS_SERVICE_TOKEN): the orders service's checkout saga asks for an order's
    # shipment and cancels it (a compensation). Under shipping's own prefix: they move with shipping.
    path("internal/shipments/", internal.ShipmentRequestApi.as_view(), name="internal-shipment-request"),
    path("internal/shipments/cancel/", internal.ShipmentCancelApi.as_view(), name="internal-shipment-cancel"),
    *router.urls,
]
