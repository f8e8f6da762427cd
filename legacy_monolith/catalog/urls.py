from django.urls import path
from rest_framework.routers import SimpleRouter

from legacy_monolith.catalog.apis import CategoryViewSet, InternalProductsApi, ProductViewSet

router = SimpleRouter()
router.register("categories", CategoryViewSet, basename="category")
router.register("products", ProductViewSet, basename="product")

urlpatterns = [
    # Internal (X-Service-Token): the batch read other services use for the products they reference.
    path("internal/products/", InternalProductsApi.as_view(), name="catalog-internal-products"),
    *router.urls,
]
