"""The upstream transports by the name ``--transport`` takes: the router's own HTTP/1.1 pool (``h1``, the
default) and the aiohttp and httpx clients (``libraries.py``)."""

from __future__ import annotations

from router.upstream.h1pool import H1Upstream
from router.upstream.interface import Upstream
from router.upstream.libraries import AiohttpUpstream, HttpxUpstream

TRANSPORTS = ("h1", "aiohttp", "httpx")
DEFAULT_TRANSPORT = "h1"


def make_upstream(name: str = DEFAULT_TRANSPORT) -> Upstream:
    """The upstream transport called ``name`` (one of ``TRANSPORTS``)."""
    if name == "aiohttp":
        return AiohttpUpstream()
    if name == "httpx":
        return HttpxUpstream()
    if name == "h1":
        return H1Upstream()
    raise ValueError(f"unknown transport {name!r}; known: {', '.join(TRANSPORTS)}")
