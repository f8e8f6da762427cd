"""Catalog API: thin views; reads through selectors, writes through services."""

from __future__ import annotations

import re

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from legacy_monolith.catalog import selectors, services
from legacy_monolith.catalog.filters import ProductFilter, StableOrderingFilter
from legacy_monolith.catalog.models import Category
from legacy_monolith.catalog.serializers import (
    CategorySerializer,
    InternalProductSerializer,
    ProductSerializer,
    StockAdjustmentSerializer,
)
from legacy_monolith.internal import InternalApi
from legacy_monolith.permissions import IsStaffOrReadOnly


class CategoryViewSet(viewsets.ModelViewSet):
    serializer_class = CategorySerializer
    permission_classes = [IsStaffOrReadOnly]
    pagination_class = None  # the whole tree in one answer; it is small
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return selectors.category_list()

    def perform_create(self, serializer):
        serializer.instance = services.category_save(Category(), **_category_fields(serializer))

    def perform_update(self, serializer):
        serializer.instance = services.category_save(serializer.instance, **_category_fields(serializer))

    def perform_destroy(self, instance):
        services.category_delete(instance)


def _category_fields(serializer) -> dict:
    data, instance = serializer.validated_data, serializer.instance
    return {
        "name": data.get("name", getattr(instance, "name", None)),
        "slug": data.get("slug", getattr(instance, "slug", None)),
        "parent": data["parent"] if "parent" in data else getattr(instance, "parent", None),
    }


class ProductViewSet(viewsets.ModelViewSet):
    serializer_class = ProductSerializer
    permission_classes = [IsStaffOrReadOnly]
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    filterset_class = ProductFilter
    ordering_fields = ["id", "name", "price", "stock", "created_at"]
    ordering = ["id"]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return selectors.product_visible_to(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.product_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.product_update(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.product_delete(instance)

    @extend_schema(request=StockAdjustmentSerializer, responses=ProductSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAdminUser], url_path="stock")
    def stock(self, request, pk=None):
        product = self.get_object()
        adjustment = StockAdjustmentSerializer(data=request.data)
        adjustment.is_valid(raise_exception=True)
        product = services.stock_adjust(product.pk, adjustment.validated_data["delta"])
        return Response(ProductSerializer(product).data, status=status.HTTP_200_OK)




MAX_INTERNAL_IDS = 1000
_ID = re.compile(r"[0-9]{1,18}")


def parse_ids(raw: str | None) -> list[int]:
    """``?ids=1,2,3``: distinct product ids in order (the catalog service parses them alike, same messages)."""
    if raw is None:
        raise ValidationError({"ids": ["This field is required."]})
    if raw == "":
        return []
    parts = raw.split(",")
    if len(parts) > MAX_INTERNAL_IDS:
        raise ValidationError({"ids": [f"At most {MAX_INTERNAL_IDS} ids at a time."]})
    for part in parts:
        if not _ID.fullmatch(part):
            message = f"Expected product ids separated by commas (ids=1,2,3), got {part[:40]!r}."
            raise ValidationError({"ids": [message]})
    return sorted({int(part) for part in parts})


class InternalProductsApi(InternalApi):
    """``GET /api/catalog/internal/products/?ids=1,2,3``: ``{"items": [{id, sku, name, price, stock, is_active}]}``
    for the ids that exist (inactive products too), in id order.

    Internal (``X-Service-Token`` = ``CATALOG_SERVICE_TOKEN``): what other services read of the products they
    reference (the cart service: a line's current name, price and stock). The catalog service answers the same
    URL the same way once it owns the catalog; callers go through the router, which sends it to the owner.
    """

    service_token_setting = "CATALOG_SERVICE_TOKEN"  # noqa: S105 - the setting's name

    @extend_schema(exclude=True)
    def get(self, request):
        ids = parse_ids(request.query_params.get("ids"))
        products = selectors.products_by_ids(ids) if ids else []
        return Response({"items": InternalProductSerializer(products, many=True).data})
