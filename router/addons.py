"""Router features layered over the forwarding core, mitmproxy-style: small classes with hook methods,
called in the explicit order of ``RouterApp.addons``.

- ``request(flow)`` runs after matching, before forwarding; it may change ``flow.backend`` or
  ``flow.headers``, or answer by returning a ``Reply`` (the core then forwards nothing).
- ``done(flow)`` runs once the client has its answer (or is gone), for logs, metrics and shadows.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from router.flow import Flow


@dataclass
class Reply:
    status: int
    body: dict[str, object]
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class Addon:
    async def request(self, flow: Flow) -> Reply | None:
        return None

    def done(self, flow: Flow) -> None:
        return None


class AccessLog(Addon):
    """One JSON object a line per request, carrying the request id the backends log too.

    Lines go to a buffer flushed every ``flush_interval`` seconds and at shutdown, not through ``logging``
    with a write and flush per request: under load the logging machinery alone cost a quarter of the
    router's throughput (see the README's benchmark).
    """

    def __init__(self, stream: BinaryIO | None = None, *, flush_interval: float = 0.2) -> None:
        self.stream: BinaryIO = stream if stream is not None else sys.stderr.buffer
        self.flush_interval = flush_interval
        self._rows: list[tuple[Any, ...]] = []
        self._task: asyncio.Task[None] | None = None
        self._second, self._stamp = -1, ""

    def done(self, flow: Flow) -> None:
        # The values now, the JSON at flush time: one encoded line kept per request until the flush made
        # the allocator's work (lines of ~350 bytes held by the hundred) the bulk of this hook's cost.
        self._rows.append((time.time(), flow.request_id, flow.method, flow.path, flow.route_name, flow.backend,
                           flow.target, flow.status, flow.elapsed_ms(), flow.bytes_in, flow.bytes_out, flow.client,
                           flow.fallback_used, flow.error))
        if self._task is None:  # not started under a server (tests, scripts): write at once
            self.flush()

    def _encode(self, rows: list[tuple[Any, ...]]) -> bytes:
        out = bytearray()
        for (now, request_id, method, path, route, backend, target, status, elapsed_ms, bytes_in, bytes_out,
             client, fallback, error) in rows:
            ms = int(now * 1000)
            second = ms // 1000
            if second != self._second:  # strftime once a second, not once a line
                self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            out += orjson.dumps({
                "ts": f"{self._stamp}.{ms % 1000:03d}Z", "request_id": request_id, "method": method, "path": path,
                "route": route, "backend": backend, "target": target, "status": status,
                "duration_ms": round(elapsed_ms, 2), "bytes_in": bytes_in, "bytes_out": bytes_out, "client": client,
                "fallback": fallback, "error": error,
            }, option=orjson.OPT_APPEND_NEWLINE)
        return bytes(out)

    def flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            try:
                self.stream.write(self._encode(rows))
                self.stream.flush()
            except (OSError, ValueError):  # a closed or full stderr must not take requests down
                pass

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            self.flush()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flusher())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()
