"""Accounts API: register, login/logout, me, the password, address book."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from legacy_monolith.accounts import selectors, services
from legacy_monolith.accounts.models import Address
from legacy_monolith.accounts.serializers import (
    AddressSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    RegisterSerializer,
    SessionSerializer,
    ThrottledSerializer,
    UserSerializer,
)


class RegisterApi(APIView):
    authentication_classes: list = []  # a stale cookie must not trigger CSRF checks on sign-up

    @extend_schema(request=RegisterSerializer, responses={201: SessionSerializer})
    def post(self, request):
        data = RegisterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_register(**data.validated_data)
        user, token = services.user_login(
            request, email=data.validated_data["email"], password=data.validated_data["password"]
        )
        return Response({"token": token, "user": UserSerializer(user).data}, status=status.HTTP_201_CREATED)


class LoginApi(APIView):
    authentication_classes: list = []

    @extend_schema(request=LoginSerializer, responses={200: SessionSerializer})
    def post(self, request):
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, token = services.user_login(request, **data.validated_data)
        return Response({"token": token, "user": UserSerializer(user).data})


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        services.user_logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(APIView):
    """The caller changes their password: the old one, then the new one, which must pass the password rules."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=PasswordChangeSerializer, responses={
        204: OpenApiResponse(description="Changed. The user's other sessions are logged out; a session that made the "
                                         "change stays logged in (a new session cookie); the API token is kept."),
        429: OpenApiResponse(ThrottledSerializer, description="Too many failed logins for the account or from the "
                                                              "client (a wrong old password is one): `Retry-After`."),
    })
    def post(self, request):
        data = PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.user_password_change(request, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """Who is calling. The router's identity bridge resolves sessions and tokens through this endpoint."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=UserSerializer)
    def get(self, request):
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=UserSerializer, responses=UserSerializer)
    def patch(self, request):
        data = UserSerializer(request.user, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update(request.user, **data.validated_data)
        return Response(UserSerializer(user).data)


class AddressViewSet(viewsets.ModelViewSet):
    queryset = Address.objects.none()  # the schema's model; get_queryset() scopes to the caller
    serializer_class = AddressSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = None
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        return selectors.address_list(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.address_save(Address(user=self.request.user), **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.address_save(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.address_delete(instance)
