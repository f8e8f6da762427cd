"""WebSocket upgrades pass through to the backend the route chooses, frames relayed both ways."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp

from router import paths
from router.exceptions import PathRejected
from router.forwarding import AiohttpUpstream
from router.headers import FORWARDING, HOP_BY_HOP, IDENTITY, VALID_REQUEST_ID

if TYPE_CHECKING:
    from router.app import Receive, RouterApp, Scope, Send

_NOT_FORWARDED = HOP_BY_HOP | IDENTITY | FORWARDING | {"host", "sec-websocket-key", "sec-websocket-version",
                                                       "sec-websocket-extensions", "sec-websocket-protocol"}


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
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    match = table.match("GET", path, {k: v for k, v in headers.items() if k not in IDENTITY | HOP_BY_HOP})
    backend = table.backends[match.backend]
    target = app.choose_target(backend)
    if target is None or not isinstance(app.upstream, AiohttpUpstream):
        await send({"type": "websocket.close", "code": 1013})
        return
    query = scope.get("query_string", b"").decode("latin-1")
    url = "ws" + target.removeprefix("http") + paths.encode(path) + (f"?{query}" if query else "")
    forward_headers = {k: v for k, v in headers.items() if k not in _NOT_FORWARDED | {"x-request-id"}}
    # The same forwarding headers as for plain HTTP: the router's own, whatever the client sent.
    forward_headers["x-forwarded-for"] = str((scope.get("client") or ("unknown",))[0])
    forward_headers["x-forwarded-proto"] = "https" if scope.get("scheme") == "wss" else "http"
    if headers.get("host"):
        forward_headers["host"] = forward_headers["x-forwarded-host"] = headers["host"]
    incoming_id = headers.get("x-request-id", "").encode("latin-1")
    forward_headers["x-request-id"] = incoming_id.decode() if VALID_REQUEST_ID.match(incoming_id) else uuid.uuid4().hex
    try:
        upstream = await app.upstream.session().ws_connect(
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
