"""Which URL is answered by what: the monolith's ``/api/accounts/`` routes this service answers (its ``MeApi``, its
``AddressViewSet`` as DRF's SimpleRouter lays it out, and the internal address look-up), the internal
authenticate the monolith's login page calls through its accounts gateway (:mod:`.logins`), the API's login, logout
(:mod:`.logins`), registration (:mod:`.registration`) and the password change (:mod:`.password_change`), their
sessions opened and closed at the monolith (:mod:`.sessions`), and ``/healthz`` (a URL no route matches is
:mod:`.notfound`'s)."""

from __future__ import annotations

from typing import Final

from starlette.routing import BaseRoute, Route

from . import apis, logins, password_change, registration
from .rendering import ME_DESCRIPTION, address_fields
from .resources import AUTHENTICATED, Resource, ServiceResource
from .routing import HEALTHZ  # and {id:accounts_id}

# The orders service's checkout saga reads a saved address with its own token (the monolith's internal API checks
# the same).
ORDERS_TOKEN_ENV: Final = "ORDERS_SERVICE_TOKEN"  # noqa: S105 - the variable's name
# The monolith's accounts gateway (its login page, once the accounts are cut over) calls with this service's token.
ACCOUNTS_TOKEN_ENV: Final = "ACCOUNTS_SERVICE_TOKEN"  # noqa: S105 - the variable's name

ROUTES: Final[list[BaseRoute]] = [
    Route("/api/accounts/me/", Resource("Me Api", {"GET": apis.me, "PATCH": apis.me_update},
                                        permission=AUTHENTICATED, description=ME_DESCRIPTION)),
    Route("/api/accounts/register/", logins.PublicResource("Register Api", {"POST": registration.register})),
    Route("/api/accounts/login/", logins.PublicResource("Login Api", {"POST": logins.login})),
    Route("/api/accounts/logout/", Resource("Logout Api", {"POST": logins.logout}, permission=AUTHENTICATED)),
    Route("/api/accounts/password/", Resource("Password Change Api", {"POST": password_change.password_change},
                                              permission=AUTHENTICATED, description=password_change.DESCRIPTION)),
    Route("/api/accounts/internal/addresses/", ServiceResource(
        "Address Lookup Api", {"POST": apis.internal_address}, token_env=ORDERS_TOKEN_ENV)),
    Route("/api/accounts/internal/authenticate/", ServiceResource(
        "Internal Authenticate", {"POST": logins.internal_authenticate}, token_env=ACCOUNTS_TOKEN_ENV)),
    Route("/api/accounts/internal/token/", ServiceResource(
        "Internal Token", {"POST": logins.internal_token}, token_env=ACCOUNTS_TOKEN_ENV)),
    Route("/api/accounts/addresses/", Resource(
        "Address List", {"GET": apis.address_list, "POST": apis.address_create}, permission=AUTHENTICATED,
        actions=address_fields)),
    Route("/api/accounts/addresses/{id:accounts_id}/", Resource(
        "Address Instance", {"GET": apis.address_detail, "PUT": apis.address_put, "PATCH": apis.address_patch,
                             "DELETE": apis.address_delete},
        permission=AUTHENTICATED, actions=address_fields, lookup=apis.address_object)),
    HEALTHZ,
]
