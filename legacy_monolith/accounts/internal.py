"""Internal endpoints of the accounts app.

The address book, for the orders service's checkout: ``POST /api/accounts/internal/addresses/``
``{"user": id, "address": id}`` → 200 the address's fields an order copies (``full_name, line1, line2, city,
postal_code, country``), or 404 when that user has no such address (another user's address is not found
either). The address book stays the monolith's until the accounts move.

Internal (``X-Service-Token`` = ``ORDERS_SERVICE_TOKEN``): see :mod:`legacy_monolith.internal`.

The caller's session, for the accounts service (:class:`SessionUserApi`, ``/api/internal/session/user/``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user, login, logout
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from legacy_monolith import switches
from legacy_monolith.accounts import gateway
from legacy_monolith.accounts.models import Address
from legacy_monolith.exceptions import AccountsUnavailable
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


class SessionUserApi(InternalApi):
    """``/api/internal/session/user/``: whose session the *caller's* ``Cookie`` names, logging it in and out.

    Internal (``X-Service-Token`` = ``ACCOUNTS_SERVICE_TOKEN``), for the accounts service: sessions stay the
    monolith's after the accounts move (docs/accounts_decision.md), and the service has no ``SECRET_KEY``. It
    passes the caller's ``Cookie`` on and copies the ``Set-Cookie`` answered here into its own answer, which so
    carries exactly what the monolith's own login, logout or session read would have set. Every answer is
    ``{"user": id | null}``, the session's user after the call:

    - ``GET``: Django's ``get_user()``: the session's user when its auth hash still matches this side's copy of
      the user (and the user is active), else null (a mismatch flushes the session: the cookie's removal);
    - ``POST {"user": {...}}``: Django's ``login()`` of that user, as the service answers it (its fields with the
      password hash, as the accounts gateway takes them: :func:`~legacy_monolith.accounts.gateway.user_from`):
      a new session key, the CSRF token rotated, ``user_logged_in`` sent (the anonymous cart merged);
    - ``DELETE``: Django's ``logout()``: the session flushed.

    Not under ``/api/accounts/``: the accounts' routes move to the service, this stays with the sessions.
    """

    service_token_setting = "ACCOUNTS_SERVICE_TOKEN"  # noqa: S105 - the setting's name

    @staticmethod
    def _answer(user: Any) -> Response:
        return Response({"user": user.pk if user is not None and user.is_authenticated else None})

    @extend_schema(exclude=True)
    def get(self, request):
        return self._answer(get_user(request))

    @extend_schema(exclude=True)
    def post(self, request):
        data = request.data.get("user") if isinstance(request.data, dict) else None
        if not isinstance(data, dict):
            raise ValidationError({"user": ["Expected the user's fields as an object."]})
        try:
            user = gateway.user_from(data)
        except AccountsUnavailable as exc:  # here it is the caller's body that is wrong, not a service down
            raise ValidationError({"user": [str(exc)]}) from None
        if switches.is_enabled(gateway.SWITCH):
            # The service owns the users: the session's auth hash is made from the hash it answered, which the
            # copy here may not hold yet (a new user, an upgraded hash); the next request would flush it.
            gateway.wait_for_the_copy(user)
        login(request, user)
        return self._answer(user)

    @extend_schema(exclude=True)
    def delete(self, request):
        logout(request)
        return self._answer(None)
