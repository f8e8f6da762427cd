"""WebSocket upgrades pass through to the backend the route chooses, frames relayed both ways."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import aiohttp

from router.exceptions import PathRejected
from router.routing import paths
from router.routing.headers import FORWARDING, HOP_BY_HOP, IDENTITY, VALID_REQUEST_ID, connection_listed, new_request_id
from router.upstream.h1pool import H1Upstream
from router.upstream.interface import Upstream
from router.upstream.libraries import AiohttpUpstream

if TYPE_CHECKING:
    from router.proxy.app import Receive, RouterApp, Scope, Send

_NOT_FORWARDED = HOP_BY_HOP | IDENTITY | FORWARDING | {"host", "sec-websocket-key", "sec-websocket-version",
                                                       "sec-websocket-extensions", "sec-websocket-protocol"}


def _session(upstream: Upstream) -> aiohttp.ClientSession | None:
    """The aiohttp session that carries upgrades: the transport's own, or the one the h1 transport keeps."""
    if isinstance(upstream, AiohttpUpstream):
        return upstream.session()
    if isinstance(upstream, H1Upstream):
        return upstream.websockets.session()
    return None


async def proxy_websocket(app: RouterApp, scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    table = app.tables.current.table
    try:
        path = paths.normalise(scope.get("raw_path") or scope["path"].encode())
    except PathRejected:
        await send({"type": "websocket.close", "code": 1008})
        return
    raw = [(k.lower(), v) for k, v in scope["headers"]]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    match = table.match("GET", path, {k: v for k, v in headers.items() if k not in IDENTITY | HOP_BY_HOP})
    backend = table.backends[match.backend]
    target = app.choose_target(backend)
    session = _session(app.upstream)
    if target is None or session is None:
        await send({"type": "websocket.close", "code": 1013})
        return
    query = scope.get("query_string", b"").decode("latin-1")
    url = "ws" + target.removeprefix("http") + paths.encode(path) + (f"?{query}" if query else "")
    # Fields the client's Connection header names are hop-by-hop too: the HTTP path's rule, from one place.
    dropped = _NOT_FORWARDED | {"x-request-id"} | {name.decode("latin-1") for name in connection_listed(raw)}
    forward_headers = {k: v for k, v in headers.items() if k not in dropped}
    # The same forwarding headers as for plain HTTP: the router's own, whatever the client sent.
    forward_headers["x-forwarded-for"] = str((scope.get("client") or ("unknown",))[0])
    forward_headers["x-forwarded-proto"] = "https" if scope.get("scheme") == "wss" else "http"
    if headers.get("host"):
        forward_headers["host"] = forward_headers["x-forwarded-host"] = headers["host"]
    incoming_id = headers.get("x-request-id", "").encode("latin-1")
    forward_headers["x-request-id"] = incoming_id.decode() if VALID_REQUEST_ID.match(incoming_id) else new_request_id()
    try:
        upstream = await session.ws_connect(
            url, headers=forward_headers, protocols=tuple(scope.get("subprotocols") or ()),
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5), autoping=True,
        )
    except (aiohttp.ClientError, TimeoutError):
        await send({"type": "websocket.close", "code": 1011})
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.protocol})

    async def client_to_backend() -> None:
        while True:
            msg = await receive()
            if msg["type"] == "websocket.disconnect":
                await upstream.close(code=msg.get("code", 1000))
                return
            if msg.get("text") is not None:
                await upstream.send_str(msg["text"])
            elif msg.get("bytes") is not None:
                await upstream.send_bytes(msg["bytes"])

    async def backend_to_client() -> None:
        async for frame in upstream:
            if frame.type == aiohttp.WSMsgType.TEXT:
                await send({"type": "websocket.send", "text": frame.data})
            elif frame.type == aiohttp.WSMsgType.BINARY:
                await send({"type": "websocket.send", "bytes": frame.data})
        close: dict[str, Any] = {"type": "websocket.close", "code": upstream.close_code or 1000}
        with contextlib.suppress(Exception):  # the client may already be gone
            await send(close)

    tasks = [asyncio.ensure_future(client_to_backend()), asyncio.ensure_future(backend_to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()
