"""Catalog API: thin views; reads through selectors, writes through services."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from legacy_monolith.catalog import selectors, services
from legacy_monolith.catalog.filters import ProductFilter, StableOrderingFilter
from legacy_monolith.catalog.models import Category
from legacy_monolith.catalog.serializers import CategorySerializer, ProductSerializer, StockAdjustmentSerializer
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


