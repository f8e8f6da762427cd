"""Cart API. Works for logged-in users (token or session) and anonymous visitors (session cookie)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from legacy_monolith.cart import selectors, services
from legacy_monolith.cart.serializers import (
    AddItemSerializer,
    CartSerializer,
    SessionCartSerializer,
    SetQuantitySerializer,
)
from legacy_monolith.internal import InternalApi


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


class SessionCartApi(InternalApi):
    """``GET``/``PUT /api/internal/session/cart/``: the anonymous cart's id in the *caller's* session.

    Internal (``X-Service-Token`` = ``CART_SERVICE_TOKEN``), for the cart service: sessions (identity) stay the
    monolith's until the accounts are extracted, so the cart service passes the shopper's ``Cookie`` on and
    reads (``{"cart_id": int | null}``) or sets (``PUT {"cart_id": N}``; null removes it) what
    ``session["cart_id"]`` holds, the key :func:`~legacy_monolith.cart.selectors.cart_for_request` reads. Django's
    session middleware answers exactly the ``Set-Cookie`` it would have sent the shopper (a new session's
    cookie, or a stale cookie's removal), which the cart service copies into its own answer.
    """

    service_token_setting = "CART_SERVICE_TOKEN"  # noqa: S105 - the setting's name

    @extend_schema(exclude=True)
    def get(self, request):
        return Response({"cart_id": request.session.get(selectors.SESSION_KEY)})

    @extend_schema(exclude=True)
    def put(self, request):
        data = SessionCartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cart_id = data.validated_data["cart_id"]
        if cart_id is None:
            request.session.pop(selectors.SESSION_KEY, None)
        else:
            request.session[selectors.SESSION_KEY] = cart_id
        return Response({"cart_id": cart_id})
