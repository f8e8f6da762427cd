"""The address book, for the orders service's checkout: ``POST /api/accounts/internal/addresses/``
``{"user": id, "address": id}`` → 200 the address's fields an order copies (``full_name, line1, line2, city,
postal_code, country``), or 404 when that user has no such address (another user's address is not found
either). The address book stays the monolith's until the accounts move.

Internal (``X-Service-Token`` = ``ORDERS_SERVICE_TOKEN``): see :mod:`legacy_monolith.internal`.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from legacy_monolith.accounts.models import Address
from legacy_monolith.internal import InternalApi

ID_MAX = 2**63 - 1
FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country")


class AddressLookupSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    address = serializers.IntegerField(min_value=1, max_value=ID_MAX)


class AddressLookupApi(InternalApi):
    service_token_setting = "ORDERS_SERVICE_TOKEN"  # noqa: S105 - the setting's name

    @extend_schema(exclude=True)
    def post(self, request):
        data = AddressLookupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        address = Address.objects.filter(pk=data.validated_data["address"], user_id=data.validated_data["user"]).first()
        if address is None:
            raise NotFound("No such address in your address book.")
        return Response({name: getattr(address, name) for name in FIELDS})
