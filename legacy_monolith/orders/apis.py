from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from legacy_monolith.cart.selectors import cart_for_request
from legacy_monolith.orders import selectors, services
from legacy_monolith.orders.models import Order
from legacy_monolith.orders.serializers import CheckoutSerializer, OrderSerializer


class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Order.objects.none()  # the schema's model; get_queryset() scopes to the caller
    serializer_class = OrderSerializer
    permission_classes = [IsAuthenticated]
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return selectors.order_list(self.request.user)

    @extend_schema(request=CheckoutSerializer, responses={201: OrderSerializer})
    @action(detail=False, methods=["post"])
    def checkout(self, request):
        data = CheckoutSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        order = services.checkout(
            user=request.user,
            cart=cart_for_request(request),
            shipping=data.validated_data["shipping_address"],
            carrier=data.validated_data["carrier"],
        )
        return Response(OrderSerializer(self.get_queryset().get(pk=order.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=OrderSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self.get_object()
        services.cancel(order.pk)
        return Response(OrderSerializer(self.get_queryset().get(pk=order.pk)).data)
