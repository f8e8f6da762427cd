"""The aiohttp and httpx transports, behind the same interface as the router's own (``interface.py``): kept to
measure against (``python -m router serve --transport aiohttp|httpx``; see the README's benchmark). aiohttp also
carries WebSocket upgrades for every transport (``h1pool.H1Upstream.websockets``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

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
from router.upstream.interface import Headers, UpstreamRequest, UpstreamResponse, raise_library_error


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
            raise_library_error(exc)
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
            raise_library_error(exc)
        return _HttpxResponse(response)

    async def aclose(self) -> None:
        await self._client.aclose()


