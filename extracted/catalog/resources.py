"""One URL of the API as one DRF view: the steps around a handler, in the monolith's order.

For each request a :class:`Resource` runs what DRF's ``APIView`` runs before and around the handler:
negotiation (400 for a query over 1000 fields, 404 for ``?format=`` other than json, 406), authentication
(the router's identity token; a refused one is the monolith's own 401/403), permission (401/403), the method
(405, or DRF's OPTIONS metadata), then the handler (which looks up the object (404), parses the body
(400/415), validates it (400) and writes (409)). Errors become answers here, with the headers DRF and
Django's middleware add: ``Allow`` and ``Vary: Cookie``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from extracted.catalog.callers import authenticate, authorise_service, session_consulted
from extracted.catalog.db import refused_as_read_only
from extracted.catalog.exceptions import (
    ApiError,
    BadRequest,
    CredentialRefused,
    MethodNotAllowed,
    NotAuthenticated,
    PermissionDenied,
    ReadOnly,
)
from extracted.catalog.identity import Caller
from extracted.catalog.negotiation import check_format, json_indent
from extracted.catalog.orders import OrderReferences
from extracted.catalog.parsers import PARSERS, parse_query
from extracted.catalog.rendering import INDENT, error_response, json_response
from extracted.catalog.selectors import Reader

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
METHOD_ORDER: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")  # DRF's, in ``Allow``
PARAMS: Final = "catalog.params"  # scope key: the query's pairs, parsed once by negotiate()
VARY_COOKIE: Final = "catalog.vary_cookie"  # scope key: whether the answer varies by the session cookie


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


def negotiate(request: Request) -> list[tuple[str, str]]:
    """What DRF does before authentication: the query string (400 over 1000 fields), ``?format=`` (anything
    but ``json`` is a 404), ``Accept`` (406 unless JSON is acceptable). Returns the query's pairs."""
    params = parse_query(request.scope.get("query_string", b""))
    check_format(params)
    INDENT.set(json_indent(request.headers.get("accept")))
    return params


def query_params(request: Request) -> dict[str, str]:
    """The query string's parameters (the last value of each), parsed once by :func:`negotiate`."""
    return dict(request.scope[PARAMS])


def is_staff(caller: Caller | None) -> bool:
    return caller is not None and caller.is_staff


class Resource:
    """One URL of the API, like one DRF view: negotiation, authentication, permission, method dispatch, error
    rendering, and the headers DRF and Django's middleware add (Allow, Vary: Cookie)."""

    def __init__(self, name: str, handlers: dict[str, Handler], *, staff_only: bool = False,
                 actions: tuple[str, dict[str, Any], Lookup | None] | None = None) -> None:
        self.name = name
        self.handlers = dict(handlers)
        if "GET" in self.handlers:
            self.handlers["HEAD"] = self.handlers["GET"]
        self.staff_only = staff_only
        # OPTIONS for callers who may write: (method, serializer fields, look-up the method needs or None)
        self.actions = actions
        self.allow = ", ".join(m for m in METHOD_ORDER if m in self.handlers or m == "OPTIONS")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        state: State = scope["app"].state.catalog
        scope[VARY_COOKIE] = False
        indent = INDENT.set(None)
        try:
            response = await self.dispatch(request, state)
            response.headers["Allow"] = self.allow
        except BadRequest as exc:  # Django refuses these before DRF's view (no Allow header)
            response = error_response(exc)
        except ApiError as exc:
            response = error_response(exc)
            response.headers["Allow"] = self.allow
        except DBAPIError as exc:
            if not refused_as_read_only(exc):
                raise
            response = error_response(ReadOnly())
            response.headers["Allow"] = self.allow
        finally:
            INDENT.reset(indent)
        if scope[VARY_COOKIE]:
            response.headers["Vary"] = "Cookie"
        await response(scope, receive, send)

    async def dispatch(self, request: Request, state: State) -> Response:
        request.scope[PARAMS] = negotiate(request)
        try:
            caller = authenticate(request)
        except CredentialRefused:  # answered as the monolith answered it, Vary included
            request.scope[VARY_COOKIE] = session_consulted(request)
            raise
        request.scope[VARY_COOKIE] = session_consulted(request)
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
    """An internal URL for other services (not for shoppers): authorised by ``X-Service-Token`` alone."""

    async def dispatch(self, request: Request, state: State) -> Response:
        authorise_service(request)
        handler = self.handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(request.method)
        return await handler(request, None, state)
