"""The router's ASGI application: match, let the addons act, forward, answer.

Everything that can go wrong on the way is answered by the router itself with a JSON body that names the
route and the backend (``{"detail", "code", "route", "backend", "request_id"}``), never a traceback:
400 for requests it will not route, 413 for bodies over the limit, 502/503/504 for upstream failures.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from types import MappingProxyType
from typing import Protocol

from router.config import RouterConfig
from router.control.state import TableHolder
from router.exceptions import (
    BodyTooLarge,
    CircuitOpen,
    ClientGone,
    PathRejected,
    RequestRejected,
    UpstreamError,
)
from router.http import refusals
from router.http.cycle import HOLD_HEAD
from router.http.protocol import BODY_TIMEOUT_KEY
from router.proxy import exchange, policy, websocket
from router.proxy.access_log import AccessLog
from router.proxy.balancing import Balancer
from router.proxy.exchange import Message, Receive, Scope, Send
from router.proxy.flow import Flow
from router.proxy.health import ActiveChecker, HealthRegistry
from router.proxy.pipeline import Addon, Reply
from router.routing import paths
from router.routing.headers import NEVER_MATCHABLE
from router.routing.table import IDEMPOTENT_METHODS, Backend, Match, Pattern, Route, RouteTable
from router.upstream.interface import Headers, Upstream, UpstreamRequest, UpstreamResponse
from router.upstream.transports import make_upstream

__all__ = ["LIVENESS_PATH", "Message", "Receive", "RouterApp", "Scope", "Send"]

log = logging.getLogger("router")


class Background(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...


_RETRYABLE_STATUS = frozenset({502, 503, 504})
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
# Requests refused before routing are counted and logged under a route name of their own, no backend.
_REFUSED_MATCH = Match(route=Route(name=refusals.REFUSED_ROUTE, pattern=Pattern.parse("/", "prefix"),
                                   backend=refusals.NO_BACKEND), backend=refusals.NO_BACKEND)
LIVENESS_PATH = "/__router/health"


class RouterApp:
    def __init__(self, config: RouterConfig, *, upstream: Upstream | None = None,
                 addons: Sequence[Addon] | None = None) -> None:
        self.upstream: Upstream = upstream or make_upstream()
        self.health = HealthRegistry()
        self.balancers: dict[tuple[str, tuple[str, ...]], Balancer] = {}
        self.tables = TableHolder()
        self.tables.listeners.append(self._on_new_config)
        self.tables.swap(config, origin="start")
        self.addons: list[Addon] = list(addons) if addons is not None else [AccessLog()]
        self._header_routes: tuple[RouteTable | None, bool] = (None, False)  # does a table match on headers?
        self.checker = ActiveChecker(self.health, lambda: self.tables.current.table.backends)
        # Started with the server and stopped with it, in this order (stopped in reverse).
        self.background: list[Background] = [self.checker]

    def _on_new_config(self, config: RouterConfig) -> None:
        self.health.sync(config.table.backends)
        for backend in config.table.backends.values():
            key = (backend.name, backend.targets)
            if key not in self.balancers:
                self.balancers[key] = Balancer(backend)

    def choose_target(self, backend: Backend) -> str | None:
        """A target of ``backend`` that is up and whose circuit allows a request, by its balancing rule."""
        return self.balancers[(backend.name, backend.targets)].choose(self.health.usable(backend))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle_http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await self.handle_websocket(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for task in self.background:
                    task.start()
                refusals.listeners.append(self._refused)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._refused in refusals.listeners:
                    refusals.listeners.remove(self._refused)
                for task in reversed(self.background):
                    await task.stop()
                await self.upstream.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- one HTTP request ---------------------------------------------------------------------------

    async def handle_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == LIVENESS_PATH:
            await self._liveness(send)
            return
        config = self.tables.current  # this request keeps this table to its end, whatever swaps happen
        table = config.table
        # ASGI header names are lower-case (uvicorn's protocol lowers them as it parses). One dict built in C
        # serves every look-up below. A name that occurs twice is rare: then the first one wins, as a scan
        # would find it, and the fields that must agree are checked apart.
        raw_headers: Headers = scope["headers"]
        named = dict(raw_headers)
        repeated = len(named) != len(raw_headers)
        if repeated:
            named = dict(reversed(raw_headers))
        request_id = policy.request_id(named.get(b"x-request-id"))
        method: str = scope["method"]
        client = scope.get("client") or ("unknown", 0)
        host = named.get(b"host", b"")
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        flow = Flow(method=method, path=raw_path.decode("latin-1"), query=scope.get("query_string", b""), headers=[],
                    client=str(client[0]), scheme=scope.get("scheme", "http"), host=host.decode("latin-1"),
                    request_id=request_id, match=Match(route=None, backend=table.default), backend=table.default,
                    default_backend=table.default)
        try:
            # The body's framing first: whatever the answer, it decides how the connection goes on.
            length = self._content_length(raw_headers if repeated else None, named.get(b"content-length"))
            chunked = b"transfer-encoding" in named
            has_body = chunked or (length or 0) > 0
            if has_body:
                flow.continue_pending = (any(k == b"expect" and v.lower() == b"100-continue" for k, v in raw_headers)
                                         if repeated else named.get(b"expect", b"").lower() == b"100-continue")
            if chunked and scope.get("http_version") == "1.0":
                # RFC 9112 section 6.1: such framing is faulty; a proxy before us may have read it otherwise.
                raise RequestRejected("Transfer-Encoding in an HTTP/1.0 request")
            if length is not None and length > config.max_body:
                raise BodyTooLarge(config.max_body)
            flow.path = paths.normalise(raw_path)
            flow.match = table.match(method, flow.path, self._match_headers(table, raw_headers))
            flow.backend = flow.match.backend
            flow.headers = policy.upstream_headers(raw_headers, flow, host, has_connection=b"connection" in named)
            reply = await self._addons_request(flow)
            if reply is not None:
                await exchange.reply(send, flow, reply)
                return
            await self._forward(scope, table, flow, receive, send, has_body, config.max_body)
        except RequestRejected as exc:
            flow.error = exc.reason
            await exchange.reply(send, flow, Reply(exc.status, {"detail": exc.reason, "code": "rejected"}))
        except ClientGone:
            refused = scope.get(refusals.SCOPE_KEY)  # the protocol refused the rest of it (a broken body)
            flow.error, flow.status = ((f"refused: {refused[1]}", refused[0]) if refused
                                       else ("client disconnected", 499))
        finally:
            self._done(flow)

    async def handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade, decided as a plain GET would be: matched, given the forwarding policy's headers
        and passed through the addons (a canary, the identity bridge, a freeze decide for it too). The addons'
        ``done`` runs once the client has its answer (the 101, or a refusal), not when the connection ends: a
        connection open for hours is not a request in flight."""
        if (await receive())["type"] != "websocket.connect":
            return
        table = self.tables.current.table
        raw: Headers = [(k.lower(), v) for k, v in scope["headers"]]
        named = dict(reversed(raw))  # a field sent twice: the first one, as on the HTTP path
        host = named.get(b"host", b"")
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        flow = Flow(method="GET", path=raw_path.decode("latin-1"), query=scope.get("query_string", b""), headers=[],
                    client=str((scope.get("client") or ("unknown",))[0]),
                    scheme="https" if scope.get("scheme") == "wss" else "http", host=host.decode("latin-1"),
                    request_id=policy.request_id(named.get(b"x-request-id")),
                    match=Match(route=None, backend=table.default), backend=table.default,
                    default_backend=table.default, upgrade=True)
        answered = False

        def accepted() -> None:
            nonlocal answered
            answered = True
            self._done(flow)

        try:
            try:
                flow.path = paths.normalise(raw_path)
            except PathRejected as exc:
                await websocket.close_unaccepted(send, flow, 1008, exc.reason)
                return
            flow.match = table.match("GET", flow.path, self._match_headers(table, raw))
            flow.backend = flow.match.backend
            flow.headers = policy.upstream_headers(raw, flow, host)
            reply = await self._addons_request(flow)
            if reply is not None:
                await websocket.refuse(scope, send, flow, reply)
                return
            target = self.choose_target(table.backends[flow.backend])
            session = websocket.session_of(self.upstream)
            if target is None or session is None:
                await websocket.close_unaccepted(send, flow, 1013, "no target of the backend can take it")
                return
            flow.target = target
            url = policy.upstream_url(target, flow.path, flow.query, websocket=True)
            await websocket.relay(flow, scope, receive, send, session, url, accepted)
        finally:
            if not answered:
                self._done(flow)

    async def _addons_request(self, flow: Flow) -> Reply | None:
        """The addons' ``request`` hooks in order; the first answer stops the rest (nothing is forwarded)."""
        for addon in self.addons:
            reply = await addon.request(flow)
            if reply is not None:
                return reply
        return None

    def _done(self, flow: Flow) -> None:
        for addon in self.addons:
            try:
                addon.done(flow)
            except Exception:  # an addon's bug must not take the request down with it
                log.exception("addon %s failed in done()", type(addon).__name__)

    def _refused(self, refused: refusals.RefusedRequest) -> None:
        """A request the protocol refused before this app saw it: counted and logged like the rest."""
        flow = Flow(method=refused.method, path=refused.target, query=b"", headers=[], client=refused.client,
                    scheme="http", host="", request_id=refused.request_id, match=_REFUSED_MATCH,
                    backend=refusals.NO_BACKEND, default_backend=self.tables.current.table.default)
        flow.status, flow.error = refused.status, refused.detail
        self._done(flow)

    async def _liveness(self, send: Send) -> None:
        """The router's own liveness, for load balancers and supervisors; never forwarded."""
        body = json.dumps({"status": "ok", "table_version": self.tables.version.number}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())], HOLD_HEAD: True})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _content_length(repeated: Headers | None, value: bytes | None) -> int | None:
        """The request's Content-Length; ``repeated``: the header list, when some field name occurs twice."""
        if value is None:
            return None
        if repeated is not None and len({v for k, v in repeated if k == b"content-length"}) > 1:
            raise RequestRejected("invalid or repeated Content-Length")
        if not value.isdigit():
            raise RequestRejected("invalid or repeated Content-Length")
        return int(value)

    def _match_headers(self, table: RouteTable, raw: Headers) -> Mapping[str, str]:
        """Headers as routes match on them; built only for a table with a route that looks at headers."""
        cached_table, needed = self._header_routes
        if cached_table is not table:
            needed = any(route.header is not None for route in table.routes)
            self._header_routes = (table, needed)
        if not needed:
            return _NO_HEADERS
        return {name: v.decode("latin-1") for k, v in raw if (name := k.decode("latin-1")) not in NEVER_MATCHABLE}

    async def _forward(self, scope: Scope, table: RouteTable, flow: Flow, receive: Receive, send: Send,
                       has_body: bool, limit: int) -> None:
        route = flow.match.route
        candidates = [flow.backend]
        # A second attempt only when nothing can be done twice: an idempotent method without a body.
        if (route is not None and route.fallback and route.fallback != flow.backend
                and flow.method in IDEMPOTENT_METHODS and not has_body):
            candidates.append(route.fallback)
        body = exchange.read_body(receive, flow, limit, scope.get(BODY_TIMEOUT_KEY)) if has_body else None
        failure: UpstreamError | None = None
        for attempt, backend_name in enumerate(candidates):
            last = attempt == len(candidates) - 1
            response = await self._try_backend(table, flow, backend_name, body)
            if isinstance(response, UpstreamError):
                failure = response
                flow.attempt_errors.append((backend_name, response.kind))
                continue
            if response.status >= 500 and not last:
                response.close()
                failure = None
                flow.attempt_errors.append((backend_name, f"status_{response.status}"))
                continue
            flow.fallback_used = attempt > 0
            await exchange.stream_response(send, flow, response)
            return
        if failure is None:  # the last candidate answered 5xx: covered above; this is for completeness
            failure = UpstreamError("no backend answered")
        flow.error = f"{failure.kind}: {failure}"
        await exchange.reply(send, flow, Reply(failure.status, {
            "detail": f"backend {flow.backend!r} of route {flow.route_name!r}: {failure}",
            "code": failure.kind, "route": flow.route_name, "backend": flow.backend,
        }, [(b"retry-after", str(math.ceil(table.backends[flow.backend].circuit_reset)).encode())]
            if failure.status == 503 else []))

    async def _try_backend(self, table: RouteTable, flow: Flow, backend_name: str,
                           body: AsyncIterator[bytes] | None) -> UpstreamResponse | UpstreamError:
        backend = table.backends[backend_name]
        flow.backend = backend_name
        balancer = self.balancers[(backend.name, backend.targets)]
        target = self.choose_target(backend)
        if target is None:
            return CircuitOpen("every target is failing or down; not trying it")
        flow.target = target
        url = policy.upstream_url(target, flow.path, flow.query)
        balancer.acquire(target)
        try:
            response = await self.upstream.handle_request(UpstreamRequest(
                method=flow.method, url=url, headers=flow.headers, body=body,
                connect_timeout=backend.connect_timeout, read_timeout=backend.read_timeout,
            ))
        except UpstreamError as exc:
            self.health.record(backend_name, target, ok=False)
            return exc
        finally:
            balancer.release(target)
        self.health.record(backend_name, target, ok=response.status not in _RETRYABLE_STATUS)
        return response
