"""One URL of the API as one DRF view: the steps around a handler, in the monolith's order.

For each request a :class:`Resource` runs what DRF's ``APIView`` runs before and around the handler:
negotiation (400 for a query over 1000 fields, 404 for ``?format=`` other than json, 406), authentication
(the router's identity token; a refused one is the monolith's own 401/403; a write by a caller the router
resolved from a session cookie, without its CSRF token, is DRF's 403 ``CSRF Failed``: :mod:`.csrf`),
permission (401/403: the view's permission classes, :data:`AUTHENTICATED` or :data:`STAFF_OR_CATALOG`), the
method (405, or DRF's OPTIONS metadata), then the handler (which looks up the order: 404). Errors become
answers in :class:`~.views.View` (the template's), with the headers DRF and Django's middleware add: ``Allow``
and ``Vary: Cookie``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from extracted.orders import csrf
from extracted.orders.callers import authorise_service, holds_service_token
from extracted.orders.exceptions import MethodNotAllowed, NotAuthenticated, PermissionDenied
from extracted.orders.identity import Caller
from extracted.orders.parsers import PARSERS
from extracted.orders.rendering import json_response
from extracted.orders.selectors import Reader
from extracted.orders.views import View, negotiate

# The catalog service asks here whether orders reference a product before it deletes one, with the token it
# shares with the monolith (the monolith's HasCatalogServiceToken reads the same variable).
CATALOG_TOKEN_ENV: Final = "CATALOG_SERVICE_TOKEN"  # noqa: S105 - the variable's name, not a secret


@dataclass
class State:
    """What the handlers share, built once by :func:`~extracted.orders.app.create_app`."""

    engine: Engine
    reader: Reader
    inline_reads: bool  # SQLite answers in microseconds: no thread hop for reads

    async def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.inline_reads:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)


Handler = Callable[[Request, "Caller | None", State], Awaitable[Response]]
# A view's permission classes: returns when the caller may go on, raises NotAuthenticated or PermissionDenied.
Permission = Callable[[Request, "Caller | None"], None]


def authenticated(request: Request, caller: Caller | None) -> None:
    """DRF's ``IsAuthenticated`` (the OrderViewSet's, for every method, OPTIONS included)."""
    if caller is None:
        raise NotAuthenticated()


def staff_or_catalog(request: Request, caller: Caller | None) -> None:
    """``IsAdminUser | HasCatalogServiceToken`` (the monolith's ProductReferencesView): staff, or whoever holds
    the catalog's service token. Refused: 401 for an anonymous caller, 403 for a signed-in one (DRF's
    ``permission_denied``)."""
    if (caller is not None and caller.is_staff) or holds_service_token(request, CATALOG_TOKEN_ENV):
        return
    if caller is None:
        raise NotAuthenticated()
    raise PermissionDenied()


AUTHENTICATED: Final[Permission] = authenticated
STAFF_OR_CATALOG: Final[Permission] = staff_or_catalog


class Resource(View[Handler]):
    """One URL of the API, like one DRF view: negotiation, authentication, permission, method dispatch, error
    rendering, and the headers DRF and Django's middleware add (Allow, Vary: Cookie).

    ``actions``: the fields DRF's OPTIONS metadata describes for the view's POST (the viewset's serializer), given
    the database's kind; ``description``: the view's docstring as DRF shows it in OPTIONS."""

    def __init__(self, name: str, handlers: dict[str, Handler], *, permission: Permission = AUTHENTICATED,
                 actions: Callable[[str], dict[str, Any]] | None = None, description: str = "") -> None:
        super().__init__(name, handlers)
        self.permission = permission
        self.actions = actions
        self.description = description

    async def dispatch(self, request: Request, state: State) -> Response:
        negotiate(request)
        caller = self.authenticate(request)
        await csrf.enforce_for(request, caller)  # DRF's SessionAuthentication: a session caller's write
        self.permission(request, caller)
        method = request.method
        handler = self.handlers.get(method)
        if handler is None:
            if method == "OPTIONS":
                return self.options(state)
            raise MethodNotAllowed(method)
        return await handler(request, caller, state)

    def options(self, state: State) -> Response:
        """DRF's SimpleMetadata: the view's name and description, and the POST's fields where the view takes a
        POST (the permission has already let the caller in; nothing is looked up for a POST)."""
        body: dict[str, Any] = {"name": self.name, "description": self.description, "renders": ["application/json"],
                                "parses": list(PARSERS)}
        if self.actions is not None:
            body["actions"] = {"POST": self.actions(state.engine.dialect.name)}
        return json_response(body)



class ServiceResource(Resource):
    """An internal URL for other services and the monolith's gateway (not for shoppers): authorised by
    ``X-Service-Token`` = ``ORDERS_SERVICE_TOKEN`` alone (no session caller: never CSRF-checked)."""

    async def dispatch(self, request: Request, state: State) -> Response:
        negotiate(request)
        authorise_service(request)
        handler = self.handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(request.method)
        return await handler(request, None, state)
