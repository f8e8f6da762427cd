from __future__ import annotations

from rest_framework import serializers

from legacy_monolith.accounts.models import Address
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.shipping.models import Shipment


class OrderLineSerializer(serializers.ModelSerializer):
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = OrderLine
        fields = ["id", "product", "sku", "name", "unit_price", "quantity", "line_total"]


class OrderShipmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Shipment
        fields = ["id", "carrier", "tracking_number", "status"]


class ShippingAddressSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=120)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    postal_code = serializers.CharField(max_length=20)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", max_length=2,
                                     error_messages={"invalid": "Use a two-letter country code (ISO 3166-1)."})


class OrderSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True)
    lines = OrderLineSerializer(many=True, read_only=True)
    shipment = OrderShipmentSerializer(read_only=True)
    shipping_address = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "number", "status", "total", "lines", "shipping_address", "shipment", "created_at",
                  "updated_at"]

    def get_shipping_address(self, order: Order) -> dict:
        return {name: getattr(order, f"ship_{name}") for name in ShippingAddressSerializer().fields}


class CheckoutSerializer(serializers.Serializer):
    """Ship to one of the caller's saved addresses (``address``) or to an address given inline."""

    address = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    shipping_address = ShippingAddressSerializer(required=False)
    carrier = serializers.ChoiceField(choices=Shipment.Carrier.choices, default=Shipment.Carrier.POSTAL)

    def validate(self, attrs):
        if ("address" in attrs) == ("shipping_address" in attrs):
            raise serializers.ValidationError("Give either address (a saved address id) or shipping_address.")
        if "address" in attrs:
            address = Address.objects.filter(pk=attrs["address"], user=self.context["request"].user).first()
            if address is None:
                raise serializers.ValidationError({"address": ["No such address in your address book."]})
            attrs["shipping_address"] = {
                name: getattr(address, name) for name in ShippingAddressSerializer().fields
            }
        attrs["shipping_address"]["country"] = attrs["shipping_address"]["country"].upper()
        return attrs
