from __future__ import annotations

from rest_framework import serializers

from legacy_monolith.shipping.models import Shipment, ShipmentEvent


class ShipmentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShipmentEvent
        fields = ["status", "note", "created_at"]


class ShipmentSerializer(serializers.ModelSerializer):
    events = ShipmentEventSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = ["id", "order", "carrier", "tracking_number", "status", "created_at", "updated_at", "events"]


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s for s in Shipment.Status.values if s != Shipment.Status.CANCELLED])
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    tracking_number = serializers.RegexField(r"^[A-Za-z0-9-]{4,64}$", required=False, default="",
                                             error_messages={"invalid": "4-64 letters, digits or dashes."})
    carrier = serializers.ChoiceField(choices=Shipment.Carrier.choices, required=False)
