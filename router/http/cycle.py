"""One request's response cycle on the router's server side: uvicorn's, writing a response's head together
with its body when the application says the body follows at once.

uvicorn writes the head when ``http.response.start`` is sent and the body when ``http.response.body`` is:
two socket writes (two system calls, and two segments on the wire) for an answer that the router already
holds whole, as it does for most answers (a small upstream response arrives with its head; the router's own
JSON answers). With ``HOLD_HEAD`` true in the start message the head is kept and goes out with the first
body message, in one write. The application must then send that body message next, without waiting on
anything else (a response whose head waited for a slow body would reach the client late); without the key,
nothing changes. A HEAD request's answer has no body to go with it: its head is written at once.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

# The key of ``http.response.start`` that asks for the head to be held for the body (an ASGI server that
# does not know it ignores it, as ASGI says of unknown keys).
HOLD_HEAD = "router.hold_head"


class _Collector:
    """Stands in for the transport while uvicorn writes a held head: keeps what it is given."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


class _Prefixed:
    """Stands in for the transport while the body of a held head is written: the first write carries the
    head in front; closing writes a head still held first (uvicorn closes after the body when the connection
    does not stay open)."""

    __slots__ = ("head", "transport")

    def __init__(self, transport: Any, head: bytes) -> None:
        self.transport = transport
        self.head: bytes | None = head

    def write(self, data: bytes) -> None:
        head, self.head = self.head, None
        self.transport.write(head + data if head is not None else data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def flush(self) -> None:
        if self.head is not None:
            head, self.head = self.head, None
            self.transport.write(head)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class RouterCycle(RequestResponseCycle):
    """uvicorn's cycle with the held head (see the module's docstring). The protocol turns uvicorn's cycle
    into this one (``RouterHttpProtocol.on_headers_complete``), before the application runs."""

    held_head: bytes | None = None  # a class default: the protocol changes the class of a built cycle

    async def send(self, message: Any) -> None:
        held = self.held_head
        if held is not None:
            self.held_head = None
            transport = self.transport
            prefixed = _Prefixed(transport, held)
            self.transport = prefixed  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
                if not self.disconnected:  # a client gone meanwhile gets nothing more, as with uvicorn
                    prefixed.flush()
            return
        if (message.get(HOLD_HEAD) and message["type"] == "http.response.start" and not self.response_started
                and self.scope["method"] != "HEAD"):
            transport = self.transport
            collector = _Collector()
            self.transport = collector  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            if collector.data:
                self.held_head = collector.data
            return
        await super().send(message)
