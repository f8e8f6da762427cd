from __future__ import annotations

from rest_framework import serializers

from legacy_monolith.cart.services import MAX_LINE_QUANTITY
from legacy_monolith.catalog.models import Product
from legacy_monolith.fields import IdRelatedField


class CartProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name", "price"]


class CartItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product = CartProductSerializer()
    quantity = serializers.IntegerField()
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)


class CartSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    items = CartItemSerializer(many=True)
    item_count = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2)

    @staticmethod
    def for_cart(cart) -> dict:
        items = list(cart.items.all()) if cart else []
        return CartSerializer(
            {
                "id": cart.pk if cart else None,
                "items": items,
                "item_count": sum(i.quantity for i in items),
                "total": sum((i.line_total() for i in items), 0),
            }
        ).data


class AddItemSerializer(serializers.Serializer):
    product = IdRelatedField(queryset=Product.objects.filter(is_active=True))
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, default=1)


class SetQuantitySerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


class SessionCartSerializer(serializers.Serializer):
    """The internal session API's body: the anonymous cart's id to keep in the caller's session (null: none)."""

    cart_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, allow_null=True)
