"""Upstream transports: one small interface (``handle_request``), swappable implementations.

The hot path uses ``h1`` (router/h1pool.py): HTTP/1.1 at the protocol level, parsed by httptools, with a
keep-alive pool per target. aiohttp and httpx stay selectable behind the same interface (``--transport``)
to measure against: on the router benchmark, one router process spent about 300 us of CPU a request with
aiohttp and 120-130 with h1 (see the README); httpx's pool checks every pooled connection on each request
and manages a few hundred requests per second. Bodies stream both ways; nothing is buffered whole.
Transports turn their library's errors into ``UpstreamError`` subclasses so the core never depends on a
client library's exception tree.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
from multidict import CIMultiDict
from yarl import URL

from router.exceptions import (
    ClientGone,
    RequestRejected,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)

Headers = list[tuple[bytes, bytes]]


@dataclass
class UpstreamRequest:
    method: str
    url: str  # already percent-encoded; sent as it is
    headers: Headers
    body: AsyncIterator[bytes] | bytes | None
    connect_timeout: float
    read_timeout: float


class UpstreamResponse(Protocol):
    status: int
    headers: Headers

    def iter_body(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class Upstream(Protocol):
    async def handle_request(self, request: UpstreamRequest) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


class _AiohttpResponse:
    def __init__(self, response: aiohttp.ClientResponse, read_timeout: float) -> None:
        self._response = response
        self._read_timeout = read_timeout
        self.status = response.status
        self.headers: Headers = list(response.raw_headers)

    async def iter_body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except TimeoutError as exc:
            raise UpstreamTimeout(f"no body data within {self._read_timeout}s") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamProtocolError(f"body broken off: {exc}") from exc

    def close(self) -> None:
        self._response.release()


class AiohttpUpstream:
    """One pooled aiohttp session for every backend."""

    def __init__(self, *, limit_per_host: int = 256) -> None:
        self._limit_per_host = limit_per_host
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=self._limit_per_host, keepalive_timeout=30,
                                             enable_cleanup_closed=True, ttl_dns_cache=60)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def handle_request(self, request: UpstreamRequest) -> UpstreamResponse:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=request.connect_timeout,
                                        sock_read=request.read_timeout)
        headers = CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers)
        try:
            response = await self.session().request(
                request.method, URL(request.url, encoded=True), headers=headers, data=request.body,
                timeout=timeout, allow_redirects=False, compress=False, chunked=None,
            )
        except (RequestRejected, ClientGone):
            raise
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamConnectError(f"cannot connect: {exc.os_error.strerror or exc}") from exc
        except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
            raise UpstreamTimeout("no answer within the backend's timeout") from exc
        except aiohttp.ServerDisconnectedError as exc:
            raise UpstreamConnectError("the backend closed the connection without answering") from exc
        except aiohttp.ClientError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, RequestRejected | ClientGone):
                raise cause from None
            raise UpstreamProtocolError(f"{type(exc).__name__}: {exc}") from exc
        except UpstreamError:
            raise
        return _AiohttpResponse(response, request.read_timeout)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class _HttpxResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: Headers = list(response.headers.raw)

    async def iter_body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("no body data within the read timeout") from exc
        except httpx.HTTPError as exc:
            raise UpstreamProtocolError(f"body broken off: {exc}") from exc

    def close(self) -> None:
        task = asyncio.get_running_loop().create_task(self._response.aclose())
        _closing.add(task)  # keep a reference until done, or the loop may drop the task
        task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()


class HttpxUpstream:
    """The same interface on httpx: the project's client elsewhere, kept here to measure the difference
    (``python -m router serve --transport httpx``); slower on the hot path, see the README's benchmark."""

    def __init__(self) -> None:
        self._client = httpx.AsyncClient(limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
                                         follow_redirects=False, trust_env=False)

    async def handle_request(self, request: UpstreamRequest) -> UpstreamResponse:
        timeout = httpx.Timeout(connect=request.connect_timeout, read=request.read_timeout, write=None, pool=None)
        content = request.body if request.body is not None else None
        built = self._client.build_request(request.method, request.url, headers=request.headers, content=content,
                                           timeout=timeout)
        try:
            response = await self._client.send(built, stream=True)
        except httpx.ConnectError as exc:
            raise UpstreamConnectError(f"cannot connect: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("no answer within the backend's timeout") from exc
        except httpx.HTTPError as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, RequestRejected | ClientGone):
                raise cause from None
            raise UpstreamProtocolError(f"{type(exc).__name__}: {exc}") from exc
        return _HttpxResponse(response)

    async def aclose(self) -> None:
        await self._client.aclose()


# The transports by the name ``--transport`` takes. "h1" (router/h1pool.py) is the protocol-level client.
TRANSPORTS = ("h1", "aiohttp", "httpx")
DEFAULT_TRANSPORT = "h1"


def make_upstream(name: str = DEFAULT_TRANSPORT) -> Upstream:
    """The upstream transport called ``name`` (one of ``TRANSPORTS``)."""
    if name == "aiohttp":
        return AiohttpUpstream()
    if name == "httpx":
        return HttpxUpstream()
    if name == "h1":
        from router.h1pool import H1Upstream  # it builds on this module's interface

        return H1Upstream()
    raise ValueError(f"unknown transport {name!r}; known: {', '.join(TRANSPORTS)}")
