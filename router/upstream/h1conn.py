"""One upstream HTTP/1.1 connection as an asyncio Protocol (its response is read by ``h1response.py``).

Why at the protocol level: the router's upstream exchange is one request out, one response back, on a
kept-alive connection. A general-purpose client (aiohttp: request and response objects, multidicts, a
writer task, stream readers, cookie and redirect machinery) spent about a third of the router's CPU per
request on it; here a request is one ``transport.write`` and a response is parsed by llhttp (httptools,
the parser the server side already uses) straight into a list of header pairs and a deque of body chunks.

A connection carries one exchange at a time (no pipelining). It goes back to the pool only when its
response was read to the end by the parser, the backend allowed keep-alive, the whole request was sent and
nothing arrived after the response; anything else closes it. ``h1pool.py`` holds the pool and the
``Upstream`` built on this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from router.exceptions import UpstreamConnectError

Headers = list[tuple[bytes, bytes]]


class Reader(Protocol):
    """What a connection hands its bytes to: the response being read on it (``h1response.Response``). A
    protocol rather than that class, so the response builds on the connection and not the other way round."""

    def received(self, data: bytes) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...


class Connection(asyncio.Protocol):
    """One socket to a backend. ``on_idle_lost`` tells the pool when a pooled connection dies."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_idle_lost: Callable[[Connection], None]) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.lost = False  # the backend closed (or sent EOF), or we did: never reused
        self.idle_since = 0.0
        self.key: Any = None  # the pool's key for its target
        self._on_idle_lost = on_idle_lost
        self._response: Reader | None = None
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # create_connection gives a Transport

    def data_received(self, data: bytes) -> None:
        response = self._response
        if response is None:  # bytes nobody asked for: this connection's framing can no longer be trusted
            self.close()
            return
        response.received(data)

    def eof_received(self) -> bool:
        self.lost = True
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._wake_drain()
        response = self._response
        if response is not None:
            response.connection_lost(exc)
        else:
            self._on_idle_lost(self)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drain()

    # -- used by the pool and the response ---------------------------------------------------------

    def usable(self, now: float, keep_alive: float) -> bool:
        transport = self.transport
        return (not self.lost and transport is not None and not transport.is_closing()
                and now - self.idle_since < keep_alive)

    def start(self, response: Reader) -> None:
        self._response = response

    def detach(self) -> None:
        self._response = None

    def write(self, data: bytes) -> None:
        transport = self.transport
        if not self.lost and transport is not None and not transport.is_closing():
            try:
                transport.write(data)
                return
            except RuntimeError:  # uvloop: the handle closed under us (a reset the loop saw first)
                pass
        # Gone before (or as) the request went out: a fresh connection to a backend that just died, or a
        # pooled one the backend closed. The pool retries the latter when it may.
        self.lost = True
        raise UpstreamConnectError("the backend closed the connection without answering")

    async def drain(self) -> None:
        """Waits while the backend reads our request body slower than the client sends it."""
        if self._write_paused and not self.lost:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None

    def _wake_drain(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()
