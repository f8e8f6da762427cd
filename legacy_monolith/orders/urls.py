from rest_framework.routers import SimpleRouter

from legacy_monolith.orders.apis import OrderViewSet

router = SimpleRouter()
router.register("", OrderViewSet, basename="order")

urlpatterns = router.urls
