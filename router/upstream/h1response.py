"""The answer to one upstream request, read by httptools as it arrives on its connection (``h1conn.py``).

The parser's callbacks fill a list of header pairs and a deque of body chunks; ``iter_body`` hands the
chunks on with backpressure (reading pauses over ``HIGH_WATER`` buffered bytes). The read timeout is the
longest silence from the backend once the request is out, while it thinks and while its body streams (not
while the client is the slow side). The response knows its framing: content-length, chunked, close-delimited
(RFC 9112 section 6.3), a HEAD's head alone, 1xx interim answers skipped. Once read to its end it gives its
connection back for reuse, or has it closed: a response not read to its end, a backend that said close or
sent more than was asked, a request not sent whole.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

import httptools

from router.exceptions import UpstreamConnectError, UpstreamError, UpstreamProtocolError, UpstreamTimeout
from router.upstream.h1conn import Connection, Headers

# Body bytes buffered from the backend before reading pauses (the client is slower than the backend):
# the router's memory per response stays bounded, as with aiohttp's stream reader.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024


class _Stop(Exception):  # noqa: N818 - raised from a parser callback to stop parsing (a HEAD's head ends it)
    pass


class Response:
    """The answer on one connection, read as it arrives; ``iter_body`` streams it with backpressure."""

    def __init__(self, connection: Connection, *, head_only: bool, read_timeout: float,
                 release: Callable[[Connection, bool], None]) -> None:
        self.status = 0
        self.headers: Headers = []
        self._connection = connection
        self._head_only = head_only  # a HEAD: the head is the whole answer, whatever its framing says
        self._read_timeout = read_timeout
        self._release = release
        # The parser holds this response (its callbacks) and this response the parser: a reference cycle, broken
        # in _release() so that every response is freed by reference counting, not left to the cyclic
        # collector (whose full passes, with the router's high thresholds, were seconds-apart latency spikes).
        self._parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._pending: Headers = []
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._got_bytes = False
        self._head_done = False
        self.complete = False  # the parser saw the end of the message
        self._keep_alive = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.request_sent = False  # set by the pool once the whole request is out
        self.awaiting_client = False  # the pool waits for the client's next body chunk
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        connection.start(self)

    @property
    def got_bytes(self) -> bool:
        return self._got_bytes

    @property
    def head_done(self) -> bool:
        return self._head_done

    # -- fed by the connection ---------------------------------------------------------------------

    def received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:  # finished: the connection should have been detached already
            return
        self._got_bytes = True
        self._last = self._connection.loop.time()
        try:
            parser.feed_data(data)
        except _Stop:
            pass
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("the backend switched protocols, which was not asked for"))
            return
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"not a valid HTTP/1.1 response: {exc}"))
            return
        if self.complete:
            self._finish()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.complete or self._error is not None:
            return
        if self._head_done and not self._head_only and self._close_delimited():
            self.complete = True  # the end of the connection is the end of such a body (RFC 9112 6.3)
            self._finish()
            return
        if not self._got_bytes:
            self._fail(UpstreamConnectError("the backend closed the connection without answering"))
        elif not self._head_done:
            self._fail(UpstreamProtocolError("the backend closed the connection in the middle of its head"))
        else:
            self._fail(UpstreamProtocolError("body broken off: the backend closed the connection"))

    def sent(self) -> None:
        """The request's head is out: the backend's time to answer runs from now."""
        self._last = self._connection.loop.time()
        if self._timer is None and not self.complete and self._error is None:
            self._timer = self._connection.loop.call_at(self._last + self._read_timeout, self._check_timeout)

    def touch(self) -> None:
        """Progress on the request side (a body chunk sent) counts against the read timeout too."""
        self._last = self._connection.loop.time()

    # -- httptools callbacks -----------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._pending.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None  # a callback of the parser itself
        status = self._parser.get_status_code()
        if status < 200:  # 1xx: interim answers (100 Continue, 103 Early Hints) are not passed on
            self._pending = []
            return
        self.status, self.headers, self._pending = status, self._pending, []
        self._head_done = True
        self._wake()
        if self._head_only:
            self.complete = True
            raise _Stop()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused:
            self._paused = True
            self._connection.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._head_done:  # otherwise the end of a 1xx
            # Asked here: llhttp forgets the message's flags once this callback returns.
            self._keep_alive = self._parser is not None and self._parser.should_keep_alive()
            self.complete = True
            self._wake()

    def on_message_begin(self) -> None:
        if self.complete:  # a second message after ours: nothing we asked for
            self._connection.close()

    # -- the consumer's side -----------------------------------------------------------------------

    async def wait_head(self) -> None:
        while not self._head_done:
            if self._error is not None:
                raise self._error
            await self._wait()

    def iter_body(self) -> AsyncIterator[bytes]:
        # An iterator object rather than an async generator: the event loop registers every async generator
        # it starts (a weak set add and remove per response) for the sake of shutdown.
        return _Body(self)

    async def next_chunk(self) -> bytes | None:
        """The body bytes buffered so far (at least one), or None at the end of the body."""
        chunks = self._chunks
        while not chunks:
            if self.complete:
                return None
            if self._error is not None:
                raise self._error
            await self._wait()
        chunk = chunks.popleft() if len(chunks) == 1 else b"".join([chunks.popleft() for _ in range(len(chunks))])
        self._buffered -= len(chunk)
        if self._paused and self._buffered < LOW_WATER:
            self._paused = False
            self._connection.resume_reading()
        return chunk

    def close(self) -> None:
        """Done with it: a response not read to its end takes its connection with it."""
        if not self.complete:
            if self._error is None:
                self._error = UpstreamProtocolError("response abandoned")
            self._stop_timer()
            self._connection.detach()
            self._connection.close()

    # -- internals ---------------------------------------------------------------------------------

    async def _wait(self) -> None:
        self._waiter = self._connection.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _close_delimited(self) -> bool:
        if self.status in (204, 304):
            return False
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (lowered == b"transfer-encoding" and b"chunked" in value.lower()):
                return False
        return True

    def _finish(self) -> None:
        self._stop_timer()
        connection = self._connection
        connection.detach()
        reusable = self.request_sent and self._keep_alive and not self._head_only and not connection.lost
        self._release(connection, reusable)
        self._wake()

    def _fail(self, error: UpstreamError) -> None:
        self._error = error
        self._stop_timer()
        self._connection.detach()
        self._connection.close()
        self._wake()

    def _stop_timer(self) -> None:
        """The exchange is over, one way or the other: no timer, and no parser (see __init__)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._parser = None

    def _check_timeout(self) -> None:
        self._timer = None
        if self.complete or self._error is not None:
            return
        now = self._connection.loop.time()
        idle = now - self._last
        if self._paused or self._chunks or self.awaiting_client or idle < self._read_timeout:
            # Progress since (look again a timeout after it), or waiting on the client, not on the backend.
            waiting = self._paused or self._chunks or self.awaiting_client
            when = now + self._read_timeout if waiting else self._last + self._read_timeout
            self._timer = self._connection.loop.call_at(when, self._check_timeout)
            return
        if self._head_done:
            self._fail(UpstreamTimeout(f"no body data within {self._read_timeout}s"))
        else:
            self._fail(UpstreamTimeout("no answer within the backend's timeout"))


class _Body:
    def __init__(self, response: Response) -> None:
        self._response = response

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self._response.next_chunk()
        if chunk is None:
            raise StopAsyncIteration
        return chunk
