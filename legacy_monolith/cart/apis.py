"""Cart API. Works for logged-in users (token or session) and anonymous visitors (session cookie)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from legacy_monolith.cart import selectors, services
from legacy_monolith.cart.serializers import AddItemSerializer, CartSerializer, SetQuantitySerializer


def _cart_response(request, code=status.HTTP_200_OK) -> Response:
    return Response(CartSerializer.for_cart(selectors.cart_for_request(request)), status=code)


class CartApi(APIView):
    @extend_schema(responses=CartSerializer)
    def get(self, request):
        return _cart_response(request)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        services.cart_clear(selectors.cart_for_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CartItemsApi(APIView):
    @extend_schema(request=AddItemSerializer, responses={201: CartSerializer})
    def post(self, request):
        data = AddItemSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cart = selectors.cart_for_request(request, create=True)
        services.cart_add(cart, data.validated_data["product"], data.validated_data["quantity"])
        return _cart_response(request, status.HTTP_201_CREATED)


class CartItemApi(APIView):
    @extend_schema(request=SetQuantitySerializer, responses=CartSerializer)
    def patch(self, request, item_id: int):
        data = SetQuantitySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.cart_set_quantity(selectors.cart_for_request(request), item_id, data.validated_data["quantity"])
        return _cart_response(request)

    put = patch

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, item_id: int):
        services.cart_remove(selectors.cart_for_request(request), item_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
