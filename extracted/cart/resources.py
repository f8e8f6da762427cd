"""One URL of the API as one DRF view: the steps around a handler, in the monolith's order.

For each request a :class:`Resource` runs what DRF's ``APIView`` runs before and around the handler:
negotiation (400 for a query over 1000 fields, 404 for ``?format=`` other than json, 406), authentication (the
router's identity token; a refused one is the monolith's own 401/403; a logged-in browser's write without its
CSRF token is DRF's 403 (:mod:`csrf`); for an anonymous caller, the monolith's session is read here, where its
session authentication reads it), the method (405, or DRF's OPTIONS metadata),
then the handler (which parses the body (400/415), validates it (400), looks the line up (404) and writes
(409)). The cart's views allow anyone (``AllowAny``): there is no permission step. Errors become answers in
:class:`~.views.View` (the template's; here anything unexpected is DRF's JSON 500), with the headers DRF and
Django's middleware add: ``Allow``, ``Vary: Cookie`` and the session's ``Set-Cookie``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from extracted.cart import csrf
from extracted.cart.callers import authorise_service
from extracted.cart.catalog import Catalog
from extracted.cart.exceptions import MethodNotAllowed
from extracted.cart.rendering import json_response, options_body
from extracted.cart.sessions import CallerSession, Sessions
from extracted.cart.views import View, negotiate

VISITOR: Final = "cart.visitor"  # scope key: the request's Visitor, made by dispatch()

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


class Resource(View[Handler]):
    """One URL of the API, like one of the monolith's cart views (``APIView``, ``AllowAny``)."""

    @staticmethod
    def visitor(request: Request) -> Visitor:
        """The request's visitor, anonymous until authentication says otherwise (kept for :meth:`finish`)."""
        visitor = Visitor(user_id=None, request_id=request.scope.get("request_id"))
        request.scope[VISITOR] = visitor
        return visitor

    def unexpected(self, request: Request, exc: Exception) -> Response:
        """DRF's handler answers anything else as a JSON 500 carrying the request id (a write the database refused
        as read-only is still 503 ``read_only``)."""
        answer = super().unexpected(request, exc)
        if answer is not None:
            return answer
        request_id = request.scope.get("request_id")
        log.exception("unhandled error in %s", self.name, extra={"request_id": request_id})
        return json_response({"detail": "Internal server error.", "code": "server_error", "request_id": request_id},
                             500)

    def finish(self, request: Request, response: Response) -> None:
        """What the monolith's session middleware would have answered: the session's cookies (nothing on a 5xx)."""
        visitor: Visitor | None = request.scope.get(VISITOR)
        if visitor is not None and visitor.session is not None and response.status_code < 500:
            for value in visitor.session.set_cookies.values():
                response.headers.append("Set-Cookie", value)

    async def dispatch(self, request: Request, state: State) -> Response:
        visitor = self.visitor(request)
        negotiate(request)
        caller = self.authenticate(request)
        await csrf.enforce_for(request, caller)  # a logged-in browser (its session cookie said who it is): a write
        if caller is not None:
            visitor.user_id = caller.user_id
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

    async def dispatch(self, request: Request, state: State) -> Response:
        visitor = self.visitor(request)
        authorise_service(request)
        handler = self.handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(request.method)
        return await handler(request, visitor, state)
