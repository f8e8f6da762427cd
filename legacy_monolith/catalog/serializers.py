from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.fields import IdRelatedField


class CategorySerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField

    class Meta:
        model = Category
        fields = ["id", "name", "slug", "parent"]


class ProductSerializer(serializers.ModelSerializer):
    serializer_related_field = IdRelatedField
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.00"))
    stock = serializers.IntegerField(min_value=0, max_value=2_147_483_647, required=False)

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "description", "price", "stock", "is_active", "category", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class StockAdjustmentSerializer(serializers.Serializer):
    delta = serializers.IntegerField(min_value=-1_000_000, max_value=1_000_000)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate_delta(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("A stock adjustment of 0 changes nothing.")
        return value


class InternalProductSerializer(serializers.ModelSerializer):
    """What another service needs of a product it references (the cart: its line's name, price and stock)."""

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "price", "stock", "is_active"]
