"""Internal endpoints: for the services the shop is being split into, not for shoppers.

An :class:`InternalApi` is authorised by ``X-Service-Token`` alone (the setting its ``service_token_setting``
names; constant-time comparison), and answers exactly as the services' own internal endpoints answer
(``extracted/*/identity.py``'s ``authorise_service`` and their ``ServiceResource``), so that a caller gets the
same answer from whichever side owns the data:

- no token, or an empty one: 401 ``{"detail": "Service token not provided (X-Service-Token).", "code":
  "not_authenticated"}`` with ``WWW-Authenticate: X-Service-Token``; a wrong one: the same with ``"Invalid
  service token."``; the setting empty: 503 ``not_configured``. Checked first, before anything else DRF does;
- no user authentication (a shopper's credential means nothing here, and the session is not looked at unless
  the endpoint is about the session), no ``format``/``Accept`` negotiation (JSON, always);
- OPTIONS is a 405 like any method the endpoint does not have.

They are left out of the OpenAPI schema. The router sends every URL it has no route for to the monolith,
so these are reachable through it: the service token is what protects them.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from legacy_monolith.exceptions import ServiceNotConfigured, ServiceTokenRefused

SERVICE_TOKEN_HEADER = "X-Service-Token"  # noqa: S105 - a header name


def check_service_token(request, setting: str) -> None:
    """Raises unless the request carries the token in ``settings.<setting>`` as ``X-Service-Token``."""
    expected = getattr(settings, setting, "")
    if not expected:
        raise ServiceNotConfigured(f"{setting} is not set; this internal endpoint is disabled until it is.")
    given = request.headers.get(SERVICE_TOKEN_HEADER)
    if not given:
        raise ServiceTokenRefused("Service token not provided (X-Service-Token).")
    # Constant time: how long a wrong token takes to refuse must not tell how much of it was right.
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ServiceTokenRefused("Invalid service token.")


class JsonAlways(DefaultContentNegotiation):
    """JSON whatever ``Accept`` or ``?format=`` say (a service calling in asks for nothing else)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class InternalApi(APIView):
    service_token_setting: str = ""  # the setting holding the token callers must present

    authentication_classes = ()
    permission_classes = ()
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = JsonAlways

    def initial(self, request, *args, **kwargs):
        check_service_token(request, self.service_token_setting)
        super().initial(request, *args, **kwargs)

    def options(self, request, *args, **kwargs):
        raise MethodNotAllowed(request.method)
