from rest_framework.routers import SimpleRouter

from legacy_monolith.shipping.apis import ShipmentViewSet

router = SimpleRouter()
router.register("shipments", ShipmentViewSet, basename="shipment")

urlpatterns = router.urls
