from django.urls import path
from rest_framework.routers import SimpleRouter

from legacy_monolith.orders.apis import OrderViewSet, ProductReferencesView

router = SimpleRouter()
router.register("", OrderViewSet, basename="order")

urlpatterns = [
    path("product-references/<id:product_id>/", ProductReferencesView.as_view(), name="order-product-references"),
    *router.urls,
]
