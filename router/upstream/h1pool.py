"""The default upstream transport: HTTP/1.1 at the protocol level, with a keep-alive pool per target.

Same interface as the aiohttp and httpx transports (``interface.Upstream``), same timeouts (connect; read:
the longest silence from the backend, also while its answer's body streams) and the same errors
(``UpstreamConnectError``, ``UpstreamTimeout``, ``UpstreamProtocolError``). The request goes out as it
came in: its ``Content-Length`` when it had one, chunked when it did not (a body streamed from the client),
``Content-Length: 0`` for a POST/PUT/PATCH without a body (as aiohttp does). A pooled connection that the
backend closed while we sent on it (the backend's keep-alive timer and our request crossing) is retried once
on a new connection, as aiohttp does, when the request is idempotent and its body can be sent again.

Connections are never limited in number (a backend's own accept queue is the limit, as with nginx's
``proxy_pass``); at most ``max_idle`` per target stay open between requests, for at most ``keep_alive``
seconds. WebSocket upgrades are not HTTP exchanges: ``websockets`` (an aiohttp session) carries them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator

from router.exceptions import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from router.upstream.h1conn import Connection
from router.upstream.h1response import Response
from router.upstream.interface import UpstreamRequest, UpstreamResponse
from router.upstream.libraries import AiohttpUpstream

Key = tuple[str, str, int]  # scheme, host, port
# Methods that may be sent twice (RFC 9110 section 9.2.2): the only ones retried on a stale connection.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
EMPTY_BODY_LENGTH = frozenset({"POST", "PUT", "PATCH"})
LAST_CHUNK = b"0\r\n\r\n"


class H1Upstream:
    def __init__(self, *, max_idle: int = 256, keep_alive: float = 30.0) -> None:
        self.max_idle = max_idle
        self.keep_alive = keep_alive
        self._idle: dict[Key, list[Connection]] = {}
        self._origins: dict[str, tuple[Key, bytes]] = {}  # "http://host:port" -> (key, Host value)
        self._ssl: ssl.SSLContext | None = None
        self.websockets = AiohttpUpstream()

    # -- the Upstream interface ------------------------------------------------------------------------

    async def handle_request(self, request: UpstreamRequest) -> UpstreamResponse:
        key, target, host = self._split(request.url)
        body = request.body
        head, chunked = _head(request, target, host)
        retry = request.method in IDEMPOTENT and not isinstance(body, AsyncIterator)
        while True:
            connection, reused = await self._acquire(key, request.connect_timeout)
            response = Response(connection, head_only=request.method == "HEAD",
                                read_timeout=request.read_timeout, release=self._release)
            try:
                await _send(connection, response, head, body, chunked)
                await response.wait_head()
            except UpstreamConnectError:
                response.close()
                if reused and retry and not response.got_bytes:
                    retry = False
                    continue
                raise
            except BaseException:
                response.close()
                raise
            return response

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        await self.websockets.aclose()

    # -- the pool --------------------------------------------------------------------------------------

    def _split(self, url: str) -> tuple[Key, str, bytes]:
        start = url.find("://") + 3
        slash = url.find("/", start)
        origin, target = (url, "/") if slash < 0 else (url[:slash], url[slash:])
        known = self._origins.get(origin)
        if known is None:
            scheme, netloc = origin[:start - 3], origin[start:]
            host, _, port = netloc.rpartition(":") if not netloc.endswith("]") else (netloc, "", "")
            if not host or not port.isdigit():
                host, port = netloc, "443" if scheme == "https" else "80"
            known = ((scheme, host.strip("[]"), int(port)), netloc.encode("latin-1"))
            self._origins[origin] = known
        return known[0], target, known[1]

    async def _acquire(self, key: Key, connect_timeout: float) -> tuple[Connection, bool]:
        idle = self._idle.get(key)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle and not idle[0].usable(now, self.keep_alive):
                idle.pop(0).close()  # the oldest first: those past keep_alive are closed as they are met
            while idle:
                connection = idle.pop()  # the most recently used: the likeliest to be alive and warm
                if connection.usable(now, self.keep_alive):
                    return connection, True
                connection.close()
        return await self._connect(key, connect_timeout), False

    async def _connect(self, key: Key, timeout: float) -> Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        context = self._ssl_context() if scheme == "https" else None
        try:
            transport, connection = await asyncio.wait_for(loop.create_connection(
                lambda: Connection(loop, self._idle_lost), host, port, ssl=context), timeout)
        except TimeoutError:
            raise UpstreamTimeout(f"cannot connect within {timeout:g}s") from None
        except OSError as exc:
            raise UpstreamConnectError(f"cannot connect: {exc.strerror or exc}") from exc
        connection.key = key
        connection.transport = transport  # uvloop may call connection_made only after this returns
        sock = transport.get_extra_info("socket")
        if sock is not None:  # a request is one write: Nagle's algorithm would only hold it back
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def _release(self, connection: Connection, reusable: bool) -> None:
        idle = self._idle.setdefault(connection.key, [])
        if not reusable or len(idle) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = connection.loop.time()
        idle.append(connection)

    def _idle_lost(self, connection: Connection) -> None:
        idle = self._idle.get(connection.key)
        if idle is not None and connection in idle:
            idle.remove(connection)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl


def _head(request: UpstreamRequest, target: str, host: bytes) -> tuple[bytes, bool]:
    """The request line and header section; header names arrive lower-case (the router's own lists).
    Returns whether the body goes chunked."""
    # Host first, as aiohttp and nginx send it: some servers' limits count the first field differently.
    lines = [f"{request.method} {target} HTTP/1.1\r\n".encode("latin-1"), b"host: " + host + b"\r\n"]
    length: bytes | None = None
    for name, value in request.headers:
        if name == b"content-length":
            length = value  # framing is ours to write, below
        elif name == b"host":
            lines[1] = b"host: " + value + b"\r\n"
        elif name != b"transfer-encoding":
            lines.append(name + b": " + value + b"\r\n")
    body = request.body
    chunked = False
    if body is None:
        if length is not None or request.method in EMPTY_BODY_LENGTH:
            lines.append(b"content-length: 0\r\n")
    elif isinstance(body, bytes):
        lines.append(b"content-length: %d\r\n" % len(body))
    elif length is not None:
        lines.append(b"content-length: " + length + b"\r\n")
    else:
        chunked = True
        lines.append(b"transfer-encoding: chunked\r\n")
    lines.append(b"\r\n")
    head = b"".join(lines)
    # One line per element: a CR or LF inside a name or value would start a header of its own upstream.
    if head.count(b"\n") != len(lines) or head.count(b"\r") != len(lines):
        raise UpstreamProtocolError("a header holds a line break; not sent")
    return head, chunked


async def _send(connection: Connection, response: Response, head: bytes,
                body: AsyncIterator[bytes] | bytes | None, chunked: bool) -> None:
    if body is None or isinstance(body, bytes):
        connection.write(head + body if body else head)
        response.request_sent = True
        response.sent()
        return
    # The head goes out with the first chunk of the body, not before: a request whose body turns out broken
    # before its first byte (bad chunk framing, the client gone) never reaches the backend at all.
    pending: bytes | None = head
    chunks = aiter(body)
    while True:
        response.awaiting_client = True  # the client's pace, not the backend's: its own timeout applies
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            break
        finally:
            response.awaiting_client = False
        if response.head_done or connection.lost:
            return  # the backend answered (or went) before the whole body: the connection is not reused
        data = b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk
        if pending is not None:
            data, pending = pending + data, None
            response.sent()
        connection.write(data)
        response.touch()
        await connection.drain()
    connection.write((pending or b"") + (LAST_CHUNK if chunked else b""))
    if pending is not None:
        response.sent()
    response.request_sent = True
