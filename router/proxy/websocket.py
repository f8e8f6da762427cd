"""WebSocket upgrades, once ``app.py`` has decided where one goes (the route, the addons and the forwarding
policy decide for an upgrade as for a plain GET): the upgrade sent on to the backend, then frames relayed both
ways until one side closes. Also how an upgrade is refused, before the client's side is accepted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp
from multidict import CIMultiDict

from router.proxy.exchange import Receive, Scope, Send, reply_parts
from router.proxy.flow import Flow
from router.proxy.pipeline import Reply
from router.upstream.h1pool import H1Upstream
from router.upstream.interface import Upstream
from router.upstream.libraries import AiohttpUpstream

# aiohttp writes the handshake's own fields (a key of its own, the version, the subprotocols it is given): the
# client's would contradict them. Everything else goes as the forwarding policy built it (``flow.headers``).
_HANDSHAKE = frozenset({b"sec-websocket-key", b"sec-websocket-version", b"sec-websocket-extensions",
                        b"sec-websocket-protocol"})
# An ASGI server that can answer a refused upgrade with an HTTP response of the application's says so in the
# scope (uvicorn does); one that cannot only closes (uvicorn's answer is then a bare 403).
_DENIAL_EXTENSION = "websocket.http.response"


def session_of(upstream: Upstream) -> aiohttp.ClientSession | None:
    """The aiohttp session that carries upgrades: the transport's own, or the one the h1 transport keeps."""
    if isinstance(upstream, AiohttpUpstream):
        return upstream.session()
    if isinstance(upstream, H1Upstream):
        return upstream.websockets.session()
    return None


async def close_unaccepted(send: Send, flow: Flow, code: int, error: str) -> None:
    """Ends an upgrade the router will not carry; the client sees a 403 (what an ASGI server answers to a close
    before the accept)."""
    flow.status, flow.error = 403, flow.error or error  # an addon that refused said why already
    await send({"type": "websocket.close", "code": code})


async def refuse(scope: Scope, send: Send, flow: Flow, reply: Reply) -> None:
    """An addon's answer instead of the upgrade (a freeze's 503, the identity bridge's refusal): the same JSON
    answer a plain request gets, where the server can send one."""
    if _DENIAL_EXTENSION not in (scope.get("extensions") or {}):
        await close_unaccepted(send, flow, 1008, f"refused with {reply.status}")
        return
    body, headers = reply_parts(flow, reply)
    await send({"type": "websocket.http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


def _handshake_headers(headers: list[tuple[bytes, bytes]]) -> CIMultiDict[str]:
    return CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in headers
                       if k not in _HANDSHAKE and (v or k != b"host"))


async def relay(flow: Flow, scope: Scope, receive: Receive, send: Send, session: aiohttp.ClientSession, url: str,
                accepted: Callable[[], None]) -> None:
    """Opens the upgrade to ``url`` with ``flow.headers``, accepts the client's side with the backend's
    subprotocol (``accepted`` is called then: the client has its answer), and relays frames until either side
    closes."""
    try:
        upstream = await session.ws_connect(
            url, headers=_handshake_headers(flow.headers), protocols=tuple(scope.get("subprotocols") or ()),
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5), autoping=True,
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        await close_unaccepted(send, flow, 1011, f"websocket upgrade failed: {type(exc).__name__}: {exc}")
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.protocol})
    flow.status = 101
    accepted()

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
