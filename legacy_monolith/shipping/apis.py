from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response

from legacy_monolith.catalog.filters import IdFilter
from legacy_monolith.shipping import selectors, services
from legacy_monolith.shipping.models import Shipment
from legacy_monolith.shipping.serializers import ShipmentSerializer, StatusChangeSerializer


class ShipmentFilter(django_filters.FilterSet):
    order = IdFilter(field_name="order_id")
    status = django_filters.ChoiceFilter(choices=Shipment.Status.choices)

    class Meta:
        model = Shipment
        fields = ["order", "status"]


class ShipmentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Shipment.objects.none()  # the schema's model; get_queryset() scopes to the caller
    serializer_class = ShipmentSerializer
    permission_classes = [IsAuthenticated]
    filter_backends = [DjangoFilterBackend]
    filterset_class = ShipmentFilter
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return selectors.shipment_list(self.request.user)

    @extend_schema(request=StatusChangeSerializer, responses=ShipmentSerializer)
    @action(detail=True, methods=["post"], permission_classes=[IsAdminUser], url_path="status")
    def set_status(self, request, pk=None):
        shipment = self.get_object()
        change = StatusChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        services.shipment_set_status(shipment.pk, **change.validated_data)
        return Response(ShipmentSerializer(selectors.shipment_list(request.user).get(pk=shipment.pk)).data)
