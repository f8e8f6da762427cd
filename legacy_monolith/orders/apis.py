from __future__ import annotations

import hmac

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAdminUser, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from legacy_monolith.cart.gateway import owner_of
from legacy_monolith.orders import selectors, services
from legacy_monolith.orders.models import Order, OrderLine
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
            owner=owner_of(request),
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


class HasCatalogServiceToken(BasePermission):
    """The caller holds ``CATALOG_SERVICE_TOKEN`` (the secret the monolith and the catalog service share)."""

    def has_permission(self, request, view) -> bool:
        expected = settings.CATALOG_SERVICE_TOKEN
        given = request.headers.get("X-Service-Token", "")
        return bool(expected and given) and hmac.compare_digest(given.encode(), expected.encode())


class ProductReferencesView(APIView):
    """``GET /api/orders/product-references/{product_id}/``: how many order lines reference a product.

    Internal, for the catalog service once it owns the catalog: the monolith refuses to delete an ordered
    product (order lines hold it with a PROTECT foreign key: 409 ``protected``), and the service, which has no
    orders, asks here before it deletes one. Staff (the caller's own credential, passed on by the service) or
    the catalog's service token (``X-Service-Token`` = ``CATALOG_SERVICE_TOKEN``) may ask. Not in the API's
    schema: not for shoppers.
    """

    permission_classes = [IsAdminUser | HasCatalogServiceToken]

    @extend_schema(exclude=True)
    def get(self, request, product_id: int):
        lines = OrderLine.objects.filter(product_id=product_id).count()
        return Response({"product": product_id, "order_lines": lines})
