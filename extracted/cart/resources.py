"""One URL of the API as one DRF view: the steps around a handler, in the monolith's order.

For each request a :class:`Resource` runs what DRF's ``APIView`` runs before and around the handler:
negotiation (400 for a query over 1000 fields, 404 for ``?format=`` other than json, 406), authentication (the
router's identity token; a refused one is the monolith's own 401/403; a logged-in browser's write without its
CSRF token is DRF's 403 (:mod:`csrf`); for an anonymous caller, the monolith's session is read here, where its
session authentication reads it), the method (405, or DRF's OPTIONS metadata),
then the handler (which parses the body (400/415), validates it (400), looks the line up (404) and writes
(409)). The cart's views allow anyone (``AllowAny``): there is no permission step. Errors become answers here,
with the headers DRF and Django's middleware add: ``Allow``, ``Vary: Cookie`` and the session's ``Set-Cookie``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from extracted.cart import csrf
from extracted.cart.callers import authenticate, authorise_service, session_consulted
from extracted.cart.catalog import Catalog
from extracted.cart.db import refused_as_read_only
from extracted.cart.exceptions import ApiError, BadRequest, CredentialRefused, MethodNotAllowed, ReadOnly
from extracted.cart.negotiation import check_format, json_indent
from extracted.cart.parsers import parse_query
from extracted.cart.rendering import INDENT, error_response, json_response, options_body
from extracted.cart.sessions import CallerSession, Sessions

METHOD_ORDER: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")  # DRF's, in ``Allow``
PARAMS: Final = "cart.params"  # scope key: the query's pairs, parsed once by negotiate()
VARY_COOKIE: Final = "cart.vary_cookie"  # scope key: whether the answer varies by the session cookie

log = logging.getLogger("extracted.cart")


@dataclass
class State:
    """What the handlers share, built once by :func:`~extracted.cart.app.create_app`."""

    engine: Engine
    catalog: Catalog  # the products' current name, price and stock (the catalog's owner)
    sessions: Sessions  # the anonymous visitors' sessions (the monolith's)
    inline_reads: bool  # SQLite answers in microseconds: no thread hop for reads

    async def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.inline_reads:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)

    async def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(fn, *args, **kwargs)


@dataclass
class Visitor:
    """Whose cart a request is about: a user (only the router's identity token says so) or an anonymous
    visitor, whose cart the monolith's session names."""

    user_id: int | None
    session: CallerSession | None = None
    request_id: str | None = field(default=None, repr=False)


Handler = Callable[[Request, Visitor, State], Awaitable[Response]]


def negotiate(request: Request) -> list[tuple[str, str]]:
    """What DRF does before authentication: the query string (400 over 1000 fields), ``?format=`` (anything
    but ``json`` is a 404), ``Accept`` (406 unless JSON is acceptable). Returns the query's pairs."""
    params = parse_query(request.scope.get("query_string", b""))
    check_format(params)
    INDENT.set(json_indent(request.headers.get("accept")))
    return params


class Resource:
    """One URL of the API, like one of the monolith's cart views (``APIView``, ``AllowAny``)."""

    def __init__(self, name: str, handlers: dict[str, Handler]) -> None:
        self.name = name
        self.handlers = dict(handlers)
        if "GET" in self.handlers:
            self.handlers["HEAD"] = self.handlers["GET"]
        self.allow = ", ".join(m for m in METHOD_ORDER if m in self.handlers or m == "OPTIONS")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        state: State = scope["app"].state.cart
        scope[VARY_COOKIE] = False
        visitor = Visitor(user_id=None, request_id=scope.get("request_id"))
        indent = INDENT.set(None)
        try:
            response = await self.dispatch(request, state, visitor)
            response.headers["Allow"] = self.allow
        except BadRequest as exc:  # Django refuses these before DRF's view (no Allow header)
            response = error_response(exc)
        except ApiError as exc:
            response = error_response(exc)
            response.headers["Allow"] = self.allow
        except Exception as exc:  # noqa: BLE001 - DRF's handler answers anything else as a JSON 500 (Allow, Vary)
            if isinstance(exc, DBAPIError) and refused_as_read_only(exc):
                response = error_response(ReadOnly())
            else:
                request_id = scope.get("request_id")
                log.exception("unhandled error in %s", self.name, extra={"request_id": request_id})
                response = json_response({"detail": "Internal server error.", "code": "server_error",
                                          "request_id": request_id}, 500)
            response.headers["Allow"] = self.allow
        finally:
            INDENT.reset(indent)
        if scope[VARY_COOKIE]:
            response.headers["Vary"] = "Cookie"
        if visitor.session is not None and response.status_code < 500:
            # What the monolith's session middleware would have answered (it saves nothing on a 5xx).
            for value in visitor.session.set_cookies.values():
                response.headers.append("Set-Cookie", value)
        await response(scope, receive, send)

    async def dispatch(self, request: Request, state: State, visitor: Visitor) -> Response:
        request.scope[PARAMS] = negotiate(request)
        try:
            caller = authenticate(request)
        except CredentialRefused:  # answered as the monolith answered it, Vary included
            request.scope[VARY_COOKIE] = session_consulted(request)
            raise
        request.scope[VARY_COOKIE] = session_consulted(request)
        if caller is not None:
            visitor.user_id = caller.user_id
            if session_consulted(request):  # a logged-in browser: its session cookie said who it is
                await csrf.enforce(request)
        else:
            # The monolith's session authentication reads the session here, for every method: a stale cookie's
            # removal is answered even to a 405.
            visitor.session = CallerSession(state.sessions, request.headers.get("cookie"), visitor.request_id)
            await visitor.session.cart_id()
        method = request.method
        handler = self.handlers.get(method)
        if handler is None:
            if method == "OPTIONS":
                return json_response(options_body(self.name))
            raise MethodNotAllowed(method)
        return await handler(request, visitor, state)


class ServiceResource(Resource):
    """An internal URL for the monolith (not for shoppers): authorised by ``X-Service-Token`` alone
    (``CART_SERVICE_TOKEN``), before anything else; no negotiation, no session."""

    async def dispatch(self, request: Request, state: State, visitor: Visitor) -> Response:
        authorise_service(request)
        handler = self.handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(request.method)
        return await handler(request, visitor, state)
