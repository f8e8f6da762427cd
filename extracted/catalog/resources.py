"""One URL of the API as one DRF view: the steps around a handler, in the monolith's order.

For each request a :class:`Resource` runs what DRF's ``APIView`` runs before and around the handler:
negotiation (400 for a query over 1000 fields, 404 for ``?format=`` other than json, 406), authentication
(the router's identity token; a refused one is the monolith's own 401/403; a write by a caller the router
resolved from a session cookie, without its CSRF token, is DRF's 403 ``CSRF Failed``: :mod:`.csrf`),
permission (401/403), the method (405, or DRF's OPTIONS metadata), then the handler (which looks up the object
(404), parses the body (400/415), validates it (400) and writes (409)). Errors become answers in
:class:`~.views.View` (the template's), with the headers DRF and Django's middleware add: ``Allow`` and
``Vary: Cookie``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from extracted.catalog import csrf
from extracted.catalog.callers import authorise_service
from extracted.catalog.exceptions import ApiError, MethodNotAllowed, NotAuthenticated, PermissionDenied
from extracted.catalog.identity import Caller
from extracted.catalog.orders import OrderReferences
from extracted.catalog.parsers import PARSERS
from extracted.catalog.rendering import json_response
from extracted.catalog.selectors import Reader
from extracted.catalog.views import SAFE_METHODS, View, negotiate


@dataclass
class State:
    """What the handlers share, built once by :func:`~extracted.catalog.app.create_app`."""

    engine: Engine
    reader: Reader
    inline_reads: bool  # SQLite answers in microseconds: no thread hop for reads
    orders: OrderReferences  # asks the orders' owner whether a product is ordered (before deleting it)

    async def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.inline_reads:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)


Handler = Callable[[Request, "Caller | None", State], Awaitable[Response]]
Lookup = Callable[[Request, "Caller | None", State], Awaitable[Any]]  # the object a URL names, or an ApiError


def is_staff(caller: Caller | None) -> bool:
    return caller is not None and caller.is_staff


class Resource(View[Handler]):
    """One URL of the API, like one DRF view: negotiation, authentication, permission, method dispatch, error
    rendering, and the headers DRF and Django's middleware add (Allow, Vary: Cookie)."""

    def __init__(self, name: str, handlers: dict[str, Handler], *, staff_only: bool = False,
                 actions: tuple[str, dict[str, Any], Lookup | None] | None = None) -> None:
        super().__init__(name, handlers)
        self.staff_only = staff_only
        # OPTIONS for callers who may write: (method, serializer fields, look-up the method needs or None)
        self.actions = actions

    async def dispatch(self, request: Request, state: State) -> Response:
        negotiate(request)
        caller = self.authenticate(request)
        await csrf.enforce_for(request, caller)  # DRF's SessionAuthentication: a session caller's write
        method = request.method
        if self.staff_only or method not in SAFE_METHODS:
            if caller is None:
                raise NotAuthenticated()
            if not caller.is_staff:
                raise PermissionDenied()
        handler = self.handlers.get(method)
        if handler is None:
            if method == "OPTIONS":
                return await self.options(request, caller, state)
            raise MethodNotAllowed(method)
        return await handler(request, caller, state)

    async def options(self, request: Request, caller: Caller | None, state: State) -> Response:
        """DRF's SimpleMetadata: the view's description, and the writable fields for callers allowed to write
        (for PUT only when the object is there, filters included)."""
        body: dict[str, Any] = {"name": self.name, "description": "", "renders": ["application/json"],
                                "parses": list(PARSERS)}
        if self.actions is not None and is_staff(caller):
            method, fields, lookup = self.actions
            try:
                if lookup is not None:
                    await lookup(request, caller, state)
            except ApiError:
                pass
            else:
                body["actions"] = {method: fields}
        return json_response(body)


class ServiceResource(Resource):
    """An internal URL for other services (not for shoppers): authorised by ``X-Service-Token`` alone (no session
    caller: never CSRF-checked)."""

    async def dispatch(self, request: Request, state: State) -> Response:
        authorise_service(request)
        handler = self.handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(request.method)
        return await handler(request, None, state)
