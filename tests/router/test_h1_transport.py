"""The protocol-level upstream transport (router/upstream/h1pool.py) against scripted backends on real sockets in the
test's own event loop: framing of every kind, connection reuse only when it is safe, timeouts and errors of
the same kinds as the aiohttp transport's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from router.exceptions import UpstreamConnectError, UpstreamProtocolError, UpstreamTimeout
from router.upstream.h1pool import H1Upstream
from router.upstream.interface import UpstreamRequest, UpstreamResponse

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


class Backend:
    """A server whose connections run ``script``; counts connections and keeps the heads it read."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Backend:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def request(url: str, method: str = "GET", body: bytes | AsyncIterator[bytes] | None = None,
            read_timeout: float = 2.0) -> UpstreamRequest:
    return UpstreamRequest(method=method, url=url + "/x", headers=[(b"host", b"shop.example")], body=body,
                           connect_timeout=1.0, read_timeout=read_timeout)


async def body_of(response: UpstreamResponse) -> bytes:
    try:
        return b"".join([chunk async for chunk in response.iter_body()])
    finally:
        response.close()


def keep_answering(answer: bytes) -> Script:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_head(reader)
            writer.write(answer)
            await writer.drain()
    return script


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 20))


@pytest.mark.parametrize(("answer", "body"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", b"hello"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", b"hello"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
    (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
    (b"HTTP/1.1 304 Not Modified\r\nETag: \"a\"\r\n\r\n", b""),
])
def test_kept_alive_framings_are_read_and_the_connection_reused(answer: bytes, body: bytes) -> None:
    async def scenario() -> None:
        async with Backend(keep_answering(answer)) as backend:
            upstream = H1Upstream()
            for _ in range(3):
                response = await upstream.handle_request(request(backend.url))
                assert await body_of(response) == body
                assert response.status != 100 and response.status != 103
            assert backend.connections == 1
            await upstream.aclose()
    run(scenario())


def test_a_close_delimited_body_ends_with_the_connection_and_is_not_reused() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        await writer.drain()

    async def scenario() -> None:
        async with Backend(script) as backend:
            upstream = H1Upstream()
            for _ in range(2):
                assert await body_of(await upstream.handle_request(request(backend.url))) == b"until the end"
            assert backend.connections == 2
            await upstream.aclose()
    run(scenario())


def test_a_head_answer_has_no_body_whatever_its_content_length() -> None:
    async def scenario() -> None:
        async with Backend(keep_answering(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")) as backend:
            upstream = H1Upstream()
            response = await upstream.handle_request(request(backend.url, "HEAD"))
            assert (response.status, await body_of(response)) == (200, b"")
            dict_headers = {k.lower(): v for k, v in response.headers}
            assert dict_headers[b"content-length"] == b"1234"
            await upstream.aclose()
    run(scenario())


def test_a_response_not_read_to_its_end_takes_its_connection_with_it() -> None:
    async def scenario() -> None:
        big = b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2_000_000
        async with Backend(keep_answering(big)) as backend:
            upstream = H1Upstream()
            response = await upstream.handle_request(request(backend.url))
            async for _ in response.iter_body():
                break
            response.close()
            assert await body_of(await upstream.handle_request(request(backend.url))) == b"x" * 2_000_000
            assert backend.connections == 2
            await upstream.aclose()
    run(scenario())


def test_a_body_broken_off_by_the_backend_is_a_protocol_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()

    async def scenario() -> None:
        async with Backend(script) as backend:
            response = await H1Upstream().handle_request(request(backend.url))
            with pytest.raises(UpstreamProtocolError, match="body broken off"):
                await body_of(response)
    run(scenario())


def test_silence_is_a_timeout_before_the_head_and_within_the_body() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(5)

    async def stalls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        await asyncio.sleep(5)

    async def scenario() -> None:
        async with Backend(silent) as backend:
            with pytest.raises(UpstreamTimeout, match="no answer"):
                await H1Upstream().handle_request(request(backend.url, read_timeout=0.3))
        async with Backend(stalls) as backend:
            response = await H1Upstream().handle_request(request(backend.url, read_timeout=0.3))
            with pytest.raises(UpstreamTimeout, match="no body data"):
                await body_of(response)
    run(scenario())


def test_errors_before_an_answer() -> None:
    async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async def scenario() -> None:
        async with Backend(hangs_up) as backend:
            with pytest.raises(UpstreamConnectError, match="closed the connection without answering"):
                await H1Upstream().handle_request(request(backend.url))
        async with Backend(garbage) as backend:
            with pytest.raises(UpstreamProtocolError):
                await H1Upstream().handle_request(request(backend.url))
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        with pytest.raises(UpstreamConnectError, match="cannot connect"):
            await H1Upstream().handle_request(request(f"http://127.0.0.1:{port}"))
    run(scenario())


def test_a_pooled_connection_the_backend_closed_is_retried_once_for_an_idempotent_request() -> None:
    async def one_answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await read_head(reader)  # the next request arrives, and the backend hangs up without a word

    async def scenario() -> None:
        async with Backend(one_answer_then_close) as backend:
            upstream = H1Upstream()
            for _ in range(2):
                assert await body_of(await upstream.handle_request(request(backend.url))) == b"ok"
            assert backend.connections == 2
            assert await body_of(await upstream.handle_request(request(backend.url))) == b"ok"
            with pytest.raises(UpstreamConnectError):  # not repeated: a POST may have been acted on
                await upstream.handle_request(request(backend.url, "POST", b"{}"))
            await upstream.aclose()
    run(scenario())


def test_request_bodies_are_framed_as_they_came() -> None:
    heads: list[bytes] = []
    bodies: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_head(reader)
            heads.append(head)
            if b"transfer-encoding: chunked" in head:
                data = b""
                while not data.endswith(b"0\r\n\r\n"):
                    data += await reader.read(65536)
            elif b"content-length: " in head:
                length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
                data = await reader.readexactly(length)
            else:
                data = b""
            bodies.append(data)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    async def streamed() -> AsyncIterator[bytes]:
        yield b"he"
        yield b"llo"

    async def scenario() -> None:
        async with Backend(script) as backend:
            upstream = H1Upstream()
            await body_of(await upstream.handle_request(request(backend.url, "POST", b"hello")))
            await body_of(await upstream.handle_request(request(backend.url, "POST", streamed())))
            await body_of(await upstream.handle_request(request(backend.url, "POST")))
            await body_of(await upstream.handle_request(request(backend.url, "GET")))
            assert backend.connections == 1
            await upstream.aclose()
        assert bodies == [b"hello", b"2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", b"", b""]
        assert b"content-length: 5\r\n" in heads[0]
        assert b"content-length: 0\r\n" in heads[2] and b"content-length" not in heads[3]
        assert all(head.startswith(b"POST /x HTTP/1.1\r\nhost: shop.example\r\n") for head in heads[:3])
    run(scenario())


def test_a_header_with_a_line_break_is_never_sent() -> None:
    async def scenario() -> None:
        bad = UpstreamRequest(method="GET", url="http://127.0.0.1:9/x", headers=[(b"x-a", b"1\r\nx-b: 2")],
                              body=None, connect_timeout=1, read_timeout=1)
        with pytest.raises(UpstreamProtocolError, match="line break"):
            await H1Upstream().handle_request(bad)
    run(scenario())


def test_a_connection_found_closed_at_write_time_is_an_upstream_error_never_a_crash() -> None:
    """uvloop raises RuntimeError on a write to a closed handle (a backend killed between connect and
    write, or a pooled connection closed after the pool looked at it): that is the backend closing the
    connection, retried once when it may be."""
    async def scenario() -> None:
        async with Backend(keep_answering(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")) as backend:
            upstream = H1Upstream()
            for method, body in (("GET", None), ("POST", b"{}")):
                assert await body_of(await upstream.handle_request(request(backend.url))) == b"ok"
                [pooled] = [c for connections in upstream._idle.values() for c in connections]
                assert pooled.transport is not None
                pooled.transport.close()  # closing, and the pool is made to hand it out all the same
                pooled.usable = lambda now, keep_alive: True  # type: ignore[method-assign]
                if method == "GET":
                    assert await body_of(await upstream.handle_request(request(backend.url))) == b"ok"
                else:
                    with pytest.raises(UpstreamConnectError, match="closed the connection"):
                        await upstream.handle_request(request(backend.url, method, body))
            await upstream.aclose()
    run(scenario())
