"""The shipping API the orders service calls once it owns checkout (the checkout saga's shipment step).

Shipping stays in the monolith while the orders move: the orders service's saga asks here for the shipment
of an order it has just placed, and cancels it when a later step of the checkout fails (a compensation).
Both are keyed by the order id, the one shipment an order has (``Shipment.order`` is one-to-one), so a step
the saga runs again after a crash finds what its first run did:

- ``POST /api/shipping/internal/shipments/`` ``{"order": id, "user": id, "carrier": "postal"}`` → 201 and the
  new shipment (``{"id", "order", "carrier", "tracking_number", "status"}``), or 200 and the order's shipment
  when it has one already with that carrier and customer; another carrier or customer for an order that has a
  shipment is a 409 ``idempotency_conflict``. ``user`` is the order's customer: shipping scopes a customer's
  shipments by it (``Shipment.user``). The order row need not be here yet: the monolith's copy of the orders is fed
  from the service by the data split, behind it in time, which is why ``Shipment.order`` has no database
  constraint (a plain id across the boundary the orders crossed).
- ``POST /api/shipping/internal/shipments/cancel/`` ``{"order": id}`` → 200 and the cancelled shipment, or
  ``{"shipment": null}`` when the order has none (the create never happened): the same answer again and
  again. A shipment past ``packed`` cannot be cancelled: 409 ``invalid_transition``, as the order's cancel.

Internal (``X-Service-Token`` = ``ORDERS_SERVICE_TOKEN``): see :mod:`legacy_monolith.internal`.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from legacy_monolith.exceptions import IdempotencyConflict
from legacy_monolith.internal import InternalApi
from legacy_monolith.shipping import services
from legacy_monolith.shipping.models import Shipment

ID_MAX = 2**63 - 1


class ShipmentRequestSerializer(serializers.Serializer):
    order = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    user = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    carrier = serializers.ChoiceField(choices=Shipment.Carrier.choices, default=Shipment.Carrier.POSTAL)


class ShipmentCancelSerializer(serializers.Serializer):
    order = serializers.IntegerField(min_value=1, max_value=ID_MAX)


def shipment_answer(shipment: Shipment) -> dict[str, object]:
    return {"id": shipment.pk, "order": shipment.order_id, "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number, "status": shipment.status}


class ShipmentRequestApi(InternalApi):
    service_token_setting = "ORDERS_SERVICE_TOKEN"  # noqa: S105 - the setting's name

    @extend_schema(exclude=True)
    def post(self, request):
        data = ShipmentRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order_id, user_id, carrier = (data.validated_data[name] for name in ("order", "user", "carrier"))
        existing = Shipment.objects.filter(order_id=order_id).first()
        created = False
        if existing is None:
            try:
                existing, created = services.shipment_create_for(order_id, user_id, carrier=carrier), True
            except IntegrityError:  # the same request at the same moment: its shipment is the answer
                existing = Shipment.objects.get(order_id=order_id)
        if existing.carrier != carrier or existing.user_id != user_id:
            raise IdempotencyConflict(f"Order {order_id} has a shipment by {existing.carrier} for user "
                                      f"{existing.user_id} already, not by {carrier} for user {user_id}.")
        return Response(shipment_answer(existing), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ShipmentCancelApi(InternalApi):
    service_token_setting = "ORDERS_SERVICE_TOKEN"  # noqa: S105 - the setting's name

    @extend_schema(exclude=True)
    def post(self, request):
        data = ShipmentCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            shipment = Shipment.objects.select_for_update().filter(order_id=data.validated_data["order"]).first()
            if shipment is None:
                return Response({"shipment": None})
            if shipment.status != Shipment.Status.CANCELLED:
                services.shipment_cancel(shipment, note="Checkout failed")
        return Response(shipment_answer(shipment))
