"""The control channel between the router's primary process and each worker process, and what travels on it.

One Unix socketpair per worker. Frames are a 4-byte big-endian length and a pickle: both ends are processes
of the same code, started together (the primary spawns its workers), so the frozen dataclasses the router
already has (``RouterConfig``, ``Version``, ``Lease``, the counting windows' figures) cross as they are.

A frame is ``("call", id, kind, payload)`` (answered by ``("reply", id, result)``), ``("note", 0, kind,
payload)`` (no answer) or a reply. The receiving side's handler is a plain function run on the event loop
without awaiting, so a worker applies a state in one step between two requests, and messages are handled
in the order they were sent: a reply to a call also says that everything sent before that call was applied.

What the primary pushes, ``ControlState``, is the whole of what workers must agree on: the table's version,
the live leases (the write freeze), the counting windows and the active checks' verdicts. Circuits opened
or closed by requests travel as notes of their own (``supervisor.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import pickle
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from router.control.leases import Lease
from router.control.state import Version
from router.control.windows import WindowDef
from router.http.limits import HttpLimits
from router.proxy.health import CheckDef, CircuitDef

log = logging.getLogger("router.control")

HEADER = struct.Struct("!I")
MAX_FRAME = 256 * 2**20  # a frame longer than this is a broken channel, not a message

Handler = Callable[[str, Any], Any]  # (kind, payload) -> the reply to a call (ignored for a note)


class ChannelClosed(ConnectionError):
    """The other process went away (or the channel broke): every call waiting on it fails with this."""


@dataclass(frozen=True)
class ControlState:
    """What every worker serves with. ``version`` is None when the worker has that version already (the
    number is enough), so a lease renewal or a window does not resend the table."""

    version_number: int
    version: Version | None
    leases: tuple[Lease, ...]
    windows: tuple[WindowDef, tuple[WindowDef, ...]]
    checks: tuple[CheckDef, ...]
    circuits: tuple[CircuitDef, ...] = ()  # only when a worker starts; later changes come as notes


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs, beyond the state: what ``python -m router serve`` was told."""

    transport: str
    access_log: bool
    limits: HttpLimits
    workers: int  # how many there are (a worker's share of a shadow's rate is 1/workers)


def encode(message: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def read_blocking(sock: socket.socket) -> tuple[Any, ...]:
    """One frame from a blocking socket: a worker's first message, read before its event loop runs."""
    def exactly(size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = sock.recv(size - len(data))
            if not chunk:
                raise ChannelClosed("the primary closed the control channel")
            data.extend(chunk)
        return bytes(data)

    (size,) = HEADER.unpack(exactly(HEADER.size))
    if size > MAX_FRAME:
        raise ChannelClosed(f"control frame of {size} bytes")
    message: tuple[Any, ...] = pickle.loads(exactly(size))  # noqa: S301 - our own process at the other end
    return message


class Channel:
    """Calls and notes over one socket, both ways; ``run()`` reads until the other side goes away."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler,
                 *, name: str) -> None:
        self.reader = reader
        self.writer = writer
        self.handler = handler
        self.name = name
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self.closed = False

    @classmethod
    async def open(cls, sock: socket.socket, handler: Handler, *, name: str) -> Channel:
        sock.setblocking(False)
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=2**20)
        return cls(reader, writer, handler, name=name)

    def _write(self, message: tuple[Any, ...]) -> None:
        if self.closed:
            raise ChannelClosed(f"{self.name}: the control channel is closed")
        self.writer.write(encode(message))

    def note(self, kind: str, payload: Any = None) -> None:
        """Sends without waiting for anything; a closed channel drops it (its process is being replaced)."""
        with contextlib.suppress(ChannelClosed):
            self._write(("note", 0, kind, payload))

    def start_call(self, kind: str, payload: Any = None) -> asyncio.Future[Any]:
        """Sends a call now (synchronously: callers rely on the order of sends) and returns its answer to come."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        number = next(self._ids)
        self._waiting[number] = future
        try:
            self._write(("call", number, kind, payload))
        except ChannelClosed as exc:
            self._waiting.pop(number, None)
            future.set_exception(exc)
        return future

    async def call(self, kind: str, payload: Any = None, *, timeout: float) -> Any:
        future = self.start_call(kind, payload)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            for number, waiting in list(self._waiting.items()):
                if waiting is future:
                    del self._waiting[number]

    async def run(self) -> None:
        try:
            while True:
                try:
                    head = await self.reader.readexactly(HEADER.size)
                    (size,) = HEADER.unpack(head)
                    if size > MAX_FRAME:
                        raise ChannelClosed(f"{self.name}: control frame of {size} bytes")
                    body = await self.reader.readexactly(size)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                message = pickle.loads(body)  # noqa: S301 - our own process at the other end
                tag, number, *rest = message
                if tag == "reply":
                    future = self._waiting.pop(number, None)
                    if future is not None and not future.done():
                        future.set_result(rest[0])
                    continue
                kind, payload = rest
                try:
                    result = self.handler(kind, payload)
                except Exception:  # a bug in one message must not cut the channel (and kill the worker)
                    log.exception("%s: handling %r failed", self.name, kind)
                    result = None
                if tag == "call":
                    with contextlib.suppress(ChannelClosed):
                        self._write(("reply", number, result))
        finally:
            self.close()
            # Read what the stream kept of the connection's end (a reset peer), or asyncio logs it as an error.
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ChannelClosed(f"{self.name}: the control channel closed"))
        self._waiting.clear()
        with contextlib.suppress(Exception):
            self.writer.close()
