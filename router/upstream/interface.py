"""The upstream interface: one small protocol (``handle_request``) that every transport implements.

The hot path uses ``h1`` (``h1pool.py``): HTTP/1.1 at the protocol level, parsed by httptools, with a
keep-alive pool per target. aiohttp and httpx stay selectable behind the same interface (``--transport``,
``libraries.py``) to measure against: on the router benchmark, one router process spent about 300 us of CPU a
request with aiohttp and 120-130 with h1 (see the README); httpx's pool checks every pooled connection on each
request and manages a few hundred requests per second. Bodies stream both ways; nothing is buffered whole.
Transports turn their library's errors into ``UpstreamError`` subclasses so the core never depends on a
client library's exception tree.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import NoReturn, Protocol

from router.exceptions import ClientGone, RequestRejected, UpstreamProtocolError

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


def raise_library_error(exc: Exception) -> NoReturn:
    """A client library's error that no more specific rule took: the client's own failure (a body it broke, or
    the client gone) comes back out as it was, whatever the library wrapped it in (the core answers those
    itself); anything else is the backend's exchange gone wrong."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, RequestRejected | ClientGone):
        raise cause from None
    raise UpstreamProtocolError(f"{type(exc).__name__}: {exc}") from exc
