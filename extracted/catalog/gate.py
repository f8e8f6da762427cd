"""The request gate: what the monolith's server and outer middleware decide before any view.

The monolith's edge (``legacy_monolith/limits.py`` and Django's ``ALLOWED_HOSTS``), in the same order:

1. the request body limit: a body declared (or, chunked, found) larger than ``max_body`` is a 413 and
   the connection is closed; bodies up to twice the limit are read to their end first, so that clients
   that write the whole body before reading get the answer rather than a reset connection;
2. a chunked body is read whole first (it is within the limit) and then goes on with its Content-Length,
   as the monolith's WSGI wrapper does (DRF would otherwise not see it at all);
3. the Host must be allowed (Django's ALLOWED_HOSTS): 400 ``{"detail": "Bad request."}`` otherwise;
4. whatever of the body the view did not read is read and discarded before the answer is sent (a 401
   to a 3 MB upload reaches the client instead of a connection reset).
"""

from __future__ import annotations

import re
from typing import Final

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import EARLY
from .exceptions import ApiError, BadRequest, PayloadTooLarge
from .parsers import content_length
from .responses import error_response

_HOST: Final = re.compile(r"^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([0-9]+))?$")


def split_domain_port(host: str) -> tuple[str, str]:
    """Django's ``split_domain_port``: lower-cased, one trailing dot removed; ``("", "")`` when malformed."""
    match = _HOST.fullmatch(host.lower())
    if match is None:
        return "", ""
    domain, port = match.group(1), match.group(2) or ""
    return domain.removesuffix("."), port


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """Django's ``validate_host``: the domain matched exactly, by a ``.domain`` pattern (the domain and its
    subdomains) or by ``*``; the port plays no part."""
    domain, _port = split_domain_port(host)
    if not domain:
        return False
    for pattern in patterns:
        if pattern == "*":
            return True
        lowered = pattern.lower()
        if lowered.startswith(".") and (domain.endswith(lowered) or domain == lowered[1:]):
            return True
        if lowered == domain:
            return True
    return False


def raw_host(scope: Scope, headers: Headers) -> str:
    """Django's ``_get_raw_host``: the Host header, else the server's name and non-default port."""
    host = headers.get("host")
    if host is not None:
        return host
    server = scope.get("server") or ("", None)
    default = 443 if scope.get("scheme") == "https" else 80
    return server[0] if server[1] in (None, default) else f"{server[0]}:{server[1]}"


class RequestGate:
    """The ASGI middleware for the four steps above (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, max_body: int, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.max_body = max_body
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = content_length(headers.get("content-length")) if "content-length" in headers else None
        chunked = declared is None and "chunked" in headers.get("transfer-encoding", "").lower()
        if declared is not None and declared > self.max_body:
            await _drain(receive, 2 * self.max_body)
            await _early(scope, receive, send, PayloadTooLarge(self.max_body))
            return
        if chunked:
            body, ended = await _buffer(receive, self.max_body)
            if body is None:
                if not ended:
                    await _drain(receive, self.max_body)
                await _early(scope, receive, send, PayloadTooLarge(self.max_body))
                return
            scope["headers"] = [*((k, v) for k, v in scope["headers"] if k != b"transfer-encoding"),
                                (b"content-length", str(len(body)).encode())]
            receive = _replay(body, receive)
            declared = len(body)
        if not host_allowed(raw_host(scope, headers), self.hosts):
            await _early(scope, receive, send, BadRequest())
            return
        finished = not declared

        async def tracking_receive() -> Message:
            nonlocal finished
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                finished = True
            return message

        async def draining_send(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start" and not finished:
                finished = True
                await _drain(tracking_receive, self.max_body)
            await send(message)

        await self.app(scope, tracking_receive, draining_send)


async def _buffer(receive: Receive, limit: int) -> tuple[bytes | None, bool]:
    """The whole body, or None past ``limit``; and whether the body has ended (nothing more to receive)."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts), True
        chunk = message.get("body", b"")
        size += len(chunk)
        ended = not message.get("more_body", False)
        if size > limit:
            return None, ended
        parts.append(chunk)
        if ended:
            return b"".join(parts), True


async def _drain(receive: Receive, limit: int) -> None:
    """Reads and discards the rest of the body, at most ``limit`` bytes."""
    size = 0
    while size <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` with the buffered body given again first, whole, as one message."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _early(scope: Scope, receive: Receive, send: Send, exc: ApiError) -> None:
    scope[EARLY] = True  # answered before Django's innermost middleware: no X-Frame-Options
    await error_response(exc)(scope, receive, send)
