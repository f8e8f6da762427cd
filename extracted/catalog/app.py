"""The catalog service's ASGI app (Starlette): the monolith's ``/api/catalog/`` contract, plus ``/healthz``.

Handlers are thin: they authorise, read through :mod:`queries`, write through :mod:`services`, and render
with :mod:`schemas`. What the monolith's DRF views do in which order is kept: authentication (the router's
identity token; a refused one is the monolith's own 401/403, answered here), permission (401/403), method (405),
object lookup (404), body parsing (400/415), validation (400), the write (409).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import orjson
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from extracted.catalog import health, search, services
from extracted.catalog.db import make_engine
from extracted.catalog.exceptions import (
    ApiError,
    AuthenticationFailed,
    BadRequest,
    ConfigurationError,
    CredentialRefused,
    MethodNotAllowed,
    NotAcceptable,
    NotAuthenticated,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProtectedObject,
    ServiceTokenRefused,
)
from extracted.catalog.identity import Caller, InvalidIdentity, Refusal, verify
from extracted.catalog.negotiation import NotAcceptableType, allowed_hosts, host_allowed, json_indent
from extracted.catalog.orders import OrderReferences
from extracted.catalog.queries import Reader
from extracted.catalog.schemas import (
    CATEGORY_ACTION_FIELDS,
    MAX_BODY,
    PRODUCT_ACTION_FIELDS,
    category_dict,
    content_length,
    detail_query,
    dump,
    page_link,
    parse_body,
    parse_query,
    product_dict,
    product_query,
)

SECRET_ENV: Final = "ROUTER_IDENTITY_SECRET"  # noqa: S105 - the variable's name, not a secret
IDENTITY_HEADER: Final = "x-identity-token"
SERVICE_TOKEN_ENV: Final = "CATALOG_SERVICE_TOKEN"  # noqa: S105 - the variable's name, not a secret
SERVICE_TOKEN_HEADER: Final = "x-service-token"  # noqa: S105 - a header name
_VALID_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
PARSES: Final = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]
# Django's SecurityMiddleware and XFrameOptionsMiddleware add these to every monolith response; the answers
# Django gives before its innermost middleware (a body over the limit, a Host not allowed) lack the first.
STATIC_HEADERS: Final = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin")]
EARLY_HEADERS: Final = STATIC_HEADERS[1:]
MAX_REQUEST_BODY_ENV: Final = "CATALOG_MAX_REQUEST_BODY"
DEFAULT_MAX_REQUEST_BODY: Final = 10 * 1024 * 1024  # the monolith's SHOP_MAX_REQUEST_BODY default
FORMAT_PARAM: Final = "format"
_IRI_SAFE: Final = "/#%[]=:;$&()+,!?*@'~"
PRODUCT_ORDERED: Final = "Orders reference this product; deactivate it instead of deleting it."  # the monolith's

log = logging.getLogger("extracted.catalog")
access_log = logging.getLogger("extracted.catalog.access")


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the extra fields (request id, status, ...) as keys."""

    _standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._standard and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("CATALOG_LOG_LEVEL", "INFO"))


class IdConvertor(Convertor[int]):
    """A database id in a path: 1 to 18 digits (the monolith's route); anything else is a plain 404."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("catalog_id", IdConvertor())


# The JSON indent DRF would render this request's answers with (its Accept header's ``indent``), set by
# :func:`negotiate` for the request being handled.
INDENT: ContextVar[int | None] = ContextVar("catalog_json_indent", default=None)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump(data, INDENT.get()), status_code=status, headers=headers, media_type="application/json")


def error_response(exc: ApiError) -> Response:
    if exc.django_rendered:  # Django's JsonResponse: json.dumps' separators
        return Response(json.dumps(exc.body()).encode(), status_code=exc.status, headers=exc.headers(),
                        media_type="application/json")
    return json_response(exc.body(), exc.status, exc.headers())


# --- per-request context ------------------------------------------------------------------------------------------


@dataclass
class State:
    engine: Engine
    reader: Reader
    inline_reads: bool  # SQLite answers in microseconds: no thread hop for reads
    orders: OrderReferences  # asks the orders' owner whether a product is ordered (before deleting it)

    async def read(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.inline_reads:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)


def authenticate(request: Request) -> Caller | None:
    """The caller from the router's ``X-Identity-Token``; a token that is present but not valid is a 401."""
    token = request.headers.get(IDENTITY_HEADER)
    if not token:
        return None
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        log.error("an identity token arrived but %s is not set; refusing it", SECRET_ENV)
        raise _invalid_token()
    try:
        caller = verify(token, secret)
    except InvalidIdentity as exc:
        log.info("identity token refused: %s", exc, extra={"request_id": request.scope.get("request_id")})
        raise _invalid_token() from None
    if isinstance(caller, Refusal):  # the monolith refused the caller's credential: its answer, as it gave it
        raise CredentialRefused(caller.status, caller.body, caller.www_authenticate)
    return caller


def _invalid_token() -> NotAuthenticated:
    return AuthenticationFailed()


async def read_body(request: Request) -> Callable[[], Any]:
    """Reads the body (at most 1 MiB, like the monolith) and returns the parser to call when the view needs it.

    As in DRF, a request without a (numeric, non-zero) Content-Length has no body; chunked bodies were given
    one by :class:`RequestGate`. What is not read here is discarded by the gate before the answer goes out.
    """
    length = content_length(request.headers.get("content-length"))
    content_type = request.headers.get("content-type")
    too_big = length > MAX_BODY
    chunks = b""
    if length and not too_big:
        parts: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                too_big = True
                break
            parts.append(chunk)
        chunks = b"".join(parts)

    def load() -> Any:
        return parse_body(chunks, content_type, length=length, too_big=too_big)

    return load


Handler = Callable[[Request, "Caller | None", State], Awaitable[Response]]
Lookup = Callable[[Request, "Caller | None", State], Awaitable[Any]]  # the object a URL names, or an ApiError


def negotiate(request: Request) -> list[tuple[str, str]]:
    """What DRF does before authentication: the query string (400 over 1000 fields), ``?format=`` (anything
    but ``json`` is a 404), ``Accept`` (406 unless JSON is acceptable). Returns the query's pairs."""
    params = parse_query(request.scope.get("query_string", b""))
    fmt = next((value for key, value in reversed(params) if key == FORMAT_PARAM), "")
    if fmt and fmt != "json":
        raise NotFound()
    try:
        INDENT.set(json_indent(request.headers.get("accept")))
    except NotAcceptableType:
        raise NotAcceptable() from None
    return params


def session_consulted(request: Request) -> bool:
    """Whether the monolith would have looked at the session for this caller (and so answered ``Vary: Cookie``):
    always, except when the ``Authorization`` header uses the ``Token`` scheme (token authentication answers
    first, with a user or a 401). Behind the router the service sees the caller's own ``Authorization``."""
    scheme = request.headers.get("authorization", "").split(None, 1)
    return not scheme or scheme[0].lower() != "token"


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
        order = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
        self.allow = ", ".join(m for m in order if m in self.handlers or m == "OPTIONS")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        state: State = scope["app"].state.catalog
        scope["catalog.vary_cookie"] = False
        indent = INDENT.set(None)
        try:
            response = await self.dispatch(request, state)
            response.headers["Allow"] = self.allow
        except BadRequest as exc:  # Django refuses these before DRF's view (no Allow header)
            response = error_response(exc)
        except ApiError as exc:
            response = error_response(exc)
            response.headers["Allow"] = self.allow
        finally:
            INDENT.reset(indent)
        if scope["catalog.vary_cookie"]:
            response.headers["Vary"] = "Cookie"
        await response(scope, receive, send)

    async def dispatch(self, request: Request, state: State) -> Response:
        request.scope["catalog.params"] = negotiate(request)
        try:
            caller = authenticate(request)
        except CredentialRefused:
            request.scope["catalog.vary_cookie"] = session_consulted(request)
            raise
        request.scope["catalog.vary_cookie"] = session_consulted(request)
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
                                "parses": PARSES}
        if self.actions is not None and _is_staff(caller):
            method, fields, lookup = self.actions
            try:
                if lookup is not None:
                    await lookup(request, caller, state)
            except ApiError:
                pass
            else:
                body["actions"] = {method: fields}
        return json_response(body)


def authorise_service(request: Request) -> None:
    """The internal endpoints answer only callers holding ``CATALOG_SERVICE_TOKEN`` (the monolith's gateway)."""
    expected = os.environ.get(SERVICE_TOKEN_ENV, "")
    if not expected:
        raise NotConfigured(f"{SERVICE_TOKEN_ENV} is not set on the catalog service; its stock endpoints are "
                            "disabled until it is.")
    given = request.headers.get(SERVICE_TOKEN_HEADER)
    if not given:
        raise ServiceTokenRefused("Service token not provided (X-Service-Token).")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ServiceTokenRefused("Invalid service token.")


class ServiceResource(Resource):
    """An internal URL for other services (not for shoppers): authorised by ``X-Service-Token`` alone."""

    async def dispatch(self, request: Request, state: State) -> Response:
        authorise_service(request)
        handler = self.handlers.get(request.method)
        if handler is None:
            raise MethodNotAllowed(request.method)
        return await handler(request, None, state)


def _is_staff(caller: Caller | None) -> bool:
    return caller is not None and caller.is_staff


def _absolute_base(request: Request) -> tuple[str, str]:
    """Django's ``build_absolute_uri()`` split into ``scheme://host/path`` and the query string."""
    scope = request.scope
    host = request.headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", 80)
        host = server[0] if server[1] in (80, 443) else f"{server[0]}:{server[1]}"
    query = quote(scope.get("query_string", b"").decode("latin-1"), safe=_IRI_SAFE)
    return f"{scope.get('scheme', 'http')}://{host}{quote(scope['path'])}", query


# --- products -----------------------------------------------------------------------------------------------------


def _params(request: Request) -> dict[str, str]:
    """The query string's parameters (the last value of each), parsed once by :func:`negotiate`."""
    return dict(request.scope["catalog.params"])


async def product_list(request: Request, caller: Caller | None, state: State) -> Response:
    query = product_query(_params(request))
    result = await state.read(state.reader.product_page, query, include_inactive=_is_staff(caller))
    if result is None:
        raise NotFound("Invalid page.")
    count, number, rows = result
    pages = max(1, -(-count // query.page_size))
    next_link = previous_link = None
    if number < pages or number > 1:
        base, query_string = _absolute_base(request)
        if number < pages:
            next_link = page_link(base, query_string, number + 1)
        if number > 1:
            previous_link = page_link(base, query_string, None if number == 2 else number - 1)
    return json_response({"count": count, "next": next_link, "previous": previous_link,
                          "results": [product_dict(row) for row in rows]})


async def product_create(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.product_create, state.engine, load), 201)


async def _product_object(request: Request, caller: Caller | None, state: State) -> Any:
    """DRF's ``get_object()``: the list's filters (and ordering) are checked and applied to the look-up, so
    ``/products/1/?search=zz`` is a 404 and ``?min_price=abc`` a 400, as in the monolith."""
    query = detail_query(_params(request))
    row = await state.read(state.reader.product, request.path_params["id"], include_inactive=_is_staff(caller),
                           query=query)
    if row is None:
        raise NotFound(services.PRODUCT_404)
    return row


async def _filtered_write(request: Request, caller: Caller | None, state: State) -> None:
    """Before a write to one product: the filters of its URL, like ``get_object()`` (only when there are any;
    the write itself finds the row again in its transaction)."""
    if request.scope.get("query_string"):
        await _product_object(request, caller, state)


async def product_detail(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(product_dict(await _product_object(request, caller, state)))


def _product_update(partial: bool) -> Handler:
    async def handler(request: Request, caller: Caller | None, state: State) -> Response:
        await _filtered_write(request, caller, state)
        load = await read_body(request)
        data = await run_in_threadpool(services.product_update, state.engine, request.path_params["id"], load,
                                       partial=partial)
        return json_response(data)

    return handler


async def product_delete(request: Request, caller: Caller | None, state: State) -> Response:
    """The monolith's order lines hold products with a PROTECT foreign key: an ordered product is a 409. The
    orders are not this service's; their owner is asked (:mod:`orders`) once the product is known to exist."""
    product_id = request.path_params["id"]
    if request.scope.get("query_string"):
        await _product_object(request, caller, state)
    elif await state.read(state.reader.product, product_id, include_inactive=True) is None:
        raise NotFound(services.PRODUCT_404)
    if await state.orders.count(product_id, request.headers):
        raise ProtectedObject(PRODUCT_ORDERED)
    await run_in_threadpool(services.product_delete, state.engine, product_id)
    return Response(status_code=204)


async def product_stock(request: Request, caller: Caller | None, state: State) -> Response:
    await _filtered_write(request, caller, state)
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.stock_adjust, state.engine, request.path_params["id"],
                                                 load))


async def stock_reserve(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.stock_reserve, state.engine, load))


async def stock_release(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.stock_release, state.engine, load))


# --- categories ---------------------------------------------------------------------------------------------------


async def category_list(request: Request, caller: Caller | None, state: State) -> Response:
    rows = await state.read(state.reader.categories)
    return json_response([category_dict(row) for row in rows])


async def category_create(request: Request, caller: Caller | None, state: State) -> Response:
    load = await read_body(request)
    return json_response(await run_in_threadpool(services.category_create, state.engine, load), 201)


async def _category_object(request: Request, caller: Caller | None, state: State) -> Any:
    row = await state.read(state.reader.category, request.path_params["id"])
    if row is None:
        raise NotFound(services.CATEGORY_404)
    return row


async def category_detail(request: Request, caller: Caller | None, state: State) -> Response:
    return json_response(category_dict(await _category_object(request, caller, state)))


def _category_update(partial: bool) -> Handler:
    async def handler(request: Request, caller: Caller | None, state: State) -> Response:
        load = await read_body(request)
        data = await run_in_threadpool(services.category_update, state.engine, request.path_params["id"], load,
                                       partial=partial)
        return json_response(data)

    return handler


async def category_delete(request: Request, caller: Caller | None, state: State) -> Response:
    await run_in_threadpool(services.category_delete, state.engine, request.path_params["id"])
    return Response(status_code=204)


# --- the app ------------------------------------------------------------------------------------------------------


ROUTES: Final = [
    Route("/api/catalog/categories/", Resource("Category List", {"GET": category_list, "POST": category_create},
                                               actions=("POST", CATEGORY_ACTION_FIELDS, None))),
    Route("/api/catalog/categories/{id:catalog_id}/", Resource("Category Instance", {
        "GET": category_detail, "PUT": _category_update(False), "PATCH": _category_update(True),
        "DELETE": category_delete}, actions=("PUT", CATEGORY_ACTION_FIELDS, _category_object))),
    Route("/api/catalog/products/", Resource("Product List", {"GET": product_list, "POST": product_create},
                                             actions=("POST", PRODUCT_ACTION_FIELDS, None))),
    Route("/api/catalog/products/{id:catalog_id}/", Resource("Product Instance", {
        "GET": product_detail, "PUT": _product_update(False), "PATCH": _product_update(True),
        "DELETE": product_delete}, actions=("PUT", PRODUCT_ACTION_FIELDS, _product_object))),
    # DRF describes the viewset's serializer (the product's) for the stock action too.
    Route("/api/catalog/products/{id:catalog_id}/stock/", Resource("Stock", {"POST": product_stock},
                                                                   staff_only=True,
                                                                   actions=("POST", PRODUCT_ACTION_FIELDS, None))),
    # Internal: the monolith's catalog gateway reserves and releases stock here once the catalog is cut over.
    Route("/api/catalog/stock/reserve/", ServiceResource("Stock Reserve", {"POST": stock_reserve})),
    Route("/api/catalog/stock/release/", ServiceResource("Stock Release", {"POST": stock_release})),
    Route("/healthz", health.healthz, methods=["GET", "HEAD"]),
]


class DjangoNotFound(NotFound):
    """Django's own 404 (no URL matched: handler404), rendered by its JsonResponse."""

    django_rendered = True


class NotFoundApp:
    """Django's answer to a URL no route matches: a 301 to the same path with a slash when that one exists
    (APPEND_SLASH), else the JSON 404."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["type"] == "http" and not path.endswith("/"):
            slashed = {**scope, "path": path + "/"}
            for route in self.router.routes:
                match, _ = route.matches(slashed)
                if match.value != 0:  # Match.NONE
                    location = quote(path + "/") + (
                        "?" + quote(scope["query_string"].decode("latin-1"), safe=_IRI_SAFE)
                        if scope.get("query_string") else "")
                    response: Response = Response(status_code=301, headers={"Location": location},
                                                  media_type="text/html; charset=utf-8")
                    scope["catalog.early"] = True  # CommonMiddleware answers it: no X-Frame-Options
                    await response(scope, receive, send)
                    return
        await error_response(DjangoNotFound())(scope, receive, send)


def max_request_body() -> int:
    raw = os.environ.get(MAX_REQUEST_BODY_ENV, "")
    if not raw.strip():
        return DEFAULT_MAX_REQUEST_BODY
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < MAX_BODY:
        raise ConfigurationError(f"{MAX_REQUEST_BODY_ENV}: {raw!r} is not a number of bytes of at least {MAX_BODY}")
    return value


class RequestGate:
    """What the monolith's server and outer middleware decide before any view, in the same order:

    1. the request body limit: a body declared (or, chunked, found) larger than ``max_body`` is a 413 and
       the connection is closed; bodies up to twice the limit are read to their end first, so that clients
       that write the whole body before reading get the answer rather than a reset connection;
    2. a chunked body is read whole first (it is within the limit) and then goes on with its Content-Length,
       as the monolith's WSGI wrapper does (DRF would otherwise not see it at all);
    3. the Host must be allowed (Django's ALLOWED_HOSTS): 400 ``{"detail": "Bad request."}`` otherwise;
    4. whatever of the body the view did not read is read and discarded before the answer is sent (a 401
       to a 3 MB upload reaches the client instead of a connection reset).
    """

    def __init__(self, app: ASGIApp, *, max_body: int, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.max_body = max_body
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = content_length(headers.get("content-length")) if "content-length" in headers else None
        chunked = declared is None and "chunked" in headers.get("transfer-encoding", "").lower()
        if declared is not None and declared > self.max_body:
            await self._drain(receive, 2 * self.max_body)
            await self._early(scope, receive, send, PayloadTooLarge(self.max_body))
            return
        if chunked:
            body, ended = await self._buffer(receive, self.max_body)
            if body is None:
                if not ended:
                    await self._drain(receive, self.max_body)
                await self._early(scope, receive, send, PayloadTooLarge(self.max_body))
                return
            scope["headers"] = [*((k, v) for k, v in scope["headers"] if k != b"transfer-encoding"),
                                (b"content-length", str(len(body)).encode())]
            receive = _replay(body, receive)
            declared = len(body)
        if not host_allowed(self._host(scope, headers), self.hosts):
            await self._early(scope, receive, send, BadRequest())
            return
        finished = not declared

        async def tracking_receive() -> Message:
            nonlocal finished
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                finished = True
            return message

        async def draining_send(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start" and not finished:
                finished = True
                await self._drain(tracking_receive, self.max_body)
            await send(message)

        await self.app(scope, tracking_receive, draining_send)

    @staticmethod
    def _host(scope: Scope, headers: Headers) -> str:
        """Django's ``_get_raw_host``: the Host header, else the server's name and non-default port."""
        host = headers.get("host")
        if host is not None:
            return host
        server = scope.get("server") or ("", None)
        default = 443 if scope.get("scheme") == "https" else 80
        return server[0] if server[1] in (None, default) else f"{server[0]}:{server[1]}"

    @staticmethod
    async def _buffer(receive: Receive, limit: int) -> tuple[bytes | None, bool]:
        """The whole body, or None past ``limit``; and whether the body has ended (nothing more to receive)."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts), True
            chunk = message.get("body", b"")
            size += len(chunk)
            ended = not message.get("more_body", False)
            if size > limit:
                return None, ended
            parts.append(chunk)
            if ended:
                return b"".join(parts), True

    @staticmethod
    async def _drain(receive: Receive, limit: int) -> None:
        """Reads and discards the rest of the body, at most ``limit`` bytes."""
        size = 0
        while size <= limit:
            message = await receive()
            if message["type"] != "http.request":
                return
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    @staticmethod
    async def _early(scope: Scope, receive: Receive, send: Send, exc: ApiError) -> None:
        scope["catalog.early"] = True  # RequestContext: no X-Frame-Options (Django's innermost middleware)
        await error_response(exc)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class RequestContext:
    """Request id (kept when sane, else created; returned), the monolith's static headers, one JSON access log
    line per request, and a JSON 500 with the request id instead of any traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        rid_header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                static = EARLY_HEADERS if scope.get("catalog.early") else STATIC_HEADERS
                message["headers"] = [*message.get("headers", ()), *static, rid_header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id, "path": scope.get("path")})
            if not response_started:
                body = {"detail": "Internal server error.", "code": "server_error", "request_id": request_id}
                await json_response(body, 500)(scope, receive, send_wrapper)
        finally:
            access_log.info("request", extra={
                "request_id": request_id, "method": scope.get("method"), "path": scope.get("path"),
                "status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2)})


def _lifespan(engine: Engine) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        """Keeps the search index current (rows changed by anyone, the data split's copy and sync included)."""
        task = asyncio.create_task(search.refresher(engine)) if search.available(engine) else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.catalog.orders.close()

    return lifespan


def create_app(engine: Engine | None = None) -> Starlette:
    """The ASGI app; ``engine`` defaults to one built from ``CATALOG_DATABASE_URL``."""
    engine = engine if engine is not None else make_engine()
    app = Starlette(routes=ROUTES, lifespan=_lifespan(engine))
    app.router.redirect_slashes = False
    app.router.default = NotFoundApp(app.router)
    try:
        orders = OrderReferences()
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    app.state.catalog = State(engine=engine, reader=Reader(engine), inline_reads=engine.dialect.name == "sqlite",
                              orders=orders)
    app.add_middleware(RequestGate, max_body=max_request_body(), hosts=allowed_hosts())
    app.add_middleware(RequestContext)
    return app


def create_served_app() -> Starlette:
    """uvicorn's factory for ``python -m extracted.catalog``: JSON logs on stderr, then the app."""
    configure_logging()
    return create_app()
