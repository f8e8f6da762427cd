"""One exchange's bytes, as the router core moves them: the client's request body read (with the body
timeout and the size limit), the backend's response streamed to the client (its hop-by-hop headers
dropped), and the router's own JSON answers. A shadow's copy of both bodies is taken on the way."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

from router.exceptions import BodyTooLarge, ClientGone, RequestRejected, UpstreamError
from router.http.cycle import HOLD_HEAD
from router.proxy.flow import Flow
from router.proxy.pipeline import Reply
from router.proxy.policy import downstream_headers
from router.upstream.interface import UpstreamResponse

if sys.version_info >= (3, 11):
    from asyncio import timeout as time_limit
else:  # the same context manager, from the package asyncio took it from
    from async_timeout import timeout as time_limit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def capture(flow: Flow, name: str, chunk: bytes) -> None:
    buffer = getattr(flow, name)
    if buffer is None:
        buffer = bytearray()
        setattr(flow, name, buffer)
    if len(buffer) + len(chunk) > flow.capture_limit:
        flow.capture_overflow = True
    elif not flow.capture_overflow:
        buffer.extend(chunk)


async def read_body(receive: Receive, flow: Flow, limit: int, timeout: float | None) -> AsyncIterator[bytes]:
    """The request body as the client sends it. ``timeout``: the longest wait for its next bytes (the
    protocol's ``body_timeout``; None in-process): a client that stalls its body is answered 408 and the
    connection closed (its framing is unfinished), the backend's request broken off."""
    more = True
    flow.continue_pending = False  # the first receive() sends the client its 100 Continue, if it waits
    while more:
        try:
            async with time_limit(timeout):
                message = await receive()
        except (TimeoutError, asyncio.TimeoutError):  # one class from 3.11, two before
            raise RequestRejected(f"request body stalled: no data for {timeout:g}s", status=408) from None
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        flow.bytes_in += len(chunk)
        if flow.bytes_in > limit:
            raise BodyTooLarge(limit)
        more = message.get("more_body", False)
        if chunk:
            if flow.capture_limit:
                capture(flow, "request_body", chunk)
            yield chunk


async def stream_response(send: Send, flow: Flow, response: UpstreamResponse) -> None:
    headers = downstream_headers(response.headers, flow)
    flow.status = response.status
    capturing = flow.capture_limit > 0
    if capturing:
        flow.response_headers = headers
    # A body read whole already (h1's responses say so: a small answer arrives with its head) follows its head
    # at once: the head is held for it, one socket write for both (router/http/cycle.py).
    whole = getattr(response, "complete", False) is True
    await send({"type": "http.response.start", "status": response.status, "headers": headers, HOLD_HEAD: whole})
    # One chunk is held back so the last one goes out with more_body=False: no extra empty message.
    pending: bytes | None = None
    try:
        async for chunk in response.iter_body():
            flow.bytes_out += len(chunk)
            if capturing:
                capture(flow, "response_body", chunk)
            if pending is not None:
                await send({"type": "http.response.body", "body": pending, "more_body": True})
            pending = chunk
    except UpstreamError as exc:
        # The status line is gone already; all that is left is to cut the connection short.
        flow.error = f"{exc.kind}: {exc}"
        raise ClientGone() from exc
    finally:
        response.close()
    await send({"type": "http.response.body", "body": pending or b"", "more_body": False})


def reply_parts(flow: Flow, reply: Reply) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The body and headers of the router's own JSON answer (plain HTTP, or refusing a WebSocket upgrade)."""
    body = json.dumps({**reply.body, "request_id": flow.request_id}).encode()
    flow.status = reply.status
    flow.bytes_out = len(body)
    return body, [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                  (b"x-request-id", flow.request_id.encode()), *reply.headers]


async def reply(send: Send, flow: Flow, reply: Reply) -> None:
    body, headers = reply_parts(flow, reply)
    if flow.continue_pending or reply.status == 408:
        # The client still waits for a 100 Continue and may or may not send its body now, or stalled in
        # the middle of it: the connection cannot tell where the next request starts, so it ends here.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers, HOLD_HEAD: True})
    await send({"type": "http.response.body", "body": body, "more_body": False})
