"""What every URL of the orders service runs around its handler, as DRF's ``APIView`` does; each service's
``resources.py`` builds its resources on :class:`View` (their own authentication, permission, OPTIONS).

:class:`View` answers: the handler's response with ``Allow``, or the error raised on the way as DRF and
Django answer it (an :class:`~.exceptions.ApiError` as its JSON, with ``Allow`` unless Django refused the
request before the view: :class:`~.exceptions.BadRequest`; a write the database refuses as read-only, the data
moving, as 503 ``read_only``), and ``Vary: Cookie`` where the session decided the answer. :func:`negotiate` is
what DRF does before authentication, :meth:`View.authenticate` the authentication with its ``Vary``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Generic, TypeVar

from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .callers import authenticate, session_consulted
from .db import refused_as_read_only
from .exceptions import ApiError, BadRequest, CredentialRefused, ReadOnly
from .identity import Caller
from .negotiation import check_format, json_indent
from .parsers import parse_query
from .responses import INDENT, error_response

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
METHOD_ORDER: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")  # DRF's, in ``Allow``
PARAMS: Final = "orders.params"  # scope key: the query's pairs, parsed once by negotiate()
VARY_COOKIE: Final = "orders.vary_cookie"  # scope key: whether the answer varies by the session cookie

H = TypeVar("H")  # a service's handler type


def negotiate(request: Request) -> list[tuple[str, str]]:
    """What DRF does before authentication: the query string (400 over 1000 fields), ``?format=`` (anything
    but ``json`` is a 404), ``Accept`` (406 unless JSON is acceptable). Returns the query's pairs, kept for
    :func:`query_params`."""
    params = parse_query(request.scope.get("query_string", b""))
    check_format(params)
    INDENT.set(json_indent(request.headers.get("accept")))
    request.scope[PARAMS] = params
    return params


def query_params(request: Request) -> dict[str, str]:
    """The query string's parameters (the last value of each), parsed once by :func:`negotiate`."""
    return dict(request.scope[PARAMS])


class View(Generic[H]):
    """One URL: ``handlers`` by method (``HEAD`` answered by ``GET``'s), ``Allow`` listing them and ``OPTIONS``
    in DRF's order; a subclass's :meth:`dispatch` runs the steps before the handler and the handler."""

    def __init__(self, name: str, handlers: Mapping[str, H]) -> None:
        self.name = name
        self.handlers = dict(handlers)
        if "GET" in self.handlers:
            self.handlers["HEAD"] = self.handlers["GET"]
        self.allow = ", ".join(m for m in METHOD_ORDER if m in self.handlers or m == "OPTIONS")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        scope[VARY_COOKIE] = False
        indent = INDENT.set(None)
        try:
            response = await self.dispatch(request, scope["app"].state.orders)
            response.headers["Allow"] = self.allow
        except BadRequest as exc:  # Django refuses these before DRF's view (no Allow header)
            response = error_response(exc)
        except ApiError as exc:
            response = error_response(exc)
            response.headers["Allow"] = self.allow
        except Exception as exc:
            unexpected = self.unexpected(request, exc)
            if unexpected is None:
                raise
            response = unexpected
            response.headers["Allow"] = self.allow
        finally:
            INDENT.reset(indent)
        if scope[VARY_COOKIE]:
            response.headers["Vary"] = "Cookie"
        self.finish(request, response)
        await response(scope, receive, send)

    async def dispatch(self, request: Request, state: Any) -> Response:
        """The steps before the handler (negotiation, authentication, permission, the method), then the handler."""
        raise NotImplementedError

    def unexpected(self, request: Request, exc: Exception) -> Response | None:
        """The answer to an error that is no :class:`~.exceptions.ApiError`: 503 ``read_only`` for a write the
        database refused as read-only; None for anything else, which goes on to the context's JSON 500."""
        if isinstance(exc, DBAPIError) and refused_as_read_only(exc):
            return error_response(ReadOnly())
        return None

    def finish(self, request: Request, response: Response) -> None:
        """What the monolith's middleware adds to this URL's answer, whatever it is (nothing, here)."""

    @staticmethod
    def authenticate(request: Request) -> Caller | None:
        """The caller the router's identity token names, or None (anonymous); a refused credential is raised to be
        answered as the monolith answered it. Either way the answer varies by cookie where the monolith's did."""
        try:
            caller = authenticate(request)
        except CredentialRefused:
            request.scope[VARY_COOKIE] = session_consulted(request)
            raise
        request.scope[VARY_COOKIE] = session_consulted(request)
        return caller
