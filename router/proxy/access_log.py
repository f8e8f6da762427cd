"""The access log: one JSON object a line per request, as the last addon of the pipeline."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import BinaryIO

import orjson

from router.proxy.background import BackgroundTask
from router.proxy.flow import Flow
from router.proxy.pipeline import Addon


class AccessLog(Addon, BackgroundTask):
    """One JSON object a line per request, carrying the request id the backends log too.

    Each line is encoded as its request ends, into one buffer written out once it holds ``flush_bytes``
    (and every ``flush_interval`` seconds, and at shutdown), not through ``logging`` with a write and flush per
    request: under load the logging machinery alone cost a quarter of the router's throughput. Encoding at
    flush time instead made each flush (some 1,500 lines every 0.2 s at 7k req/s) a stall of several
    milliseconds of the event loop, which every request in flight then waited out: the router's p99 (see
    the README's benchmark). Appending into one bytearray keeps no object per line until the flush.
    """

    def __init__(self, stream: BinaryIO | None = None, *, flush_interval: float = 0.2,
                 flush_bytes: int = 32 * 1024) -> None:
        self.stream: BinaryIO = stream if stream is not None else sys.stderr.buffer
        self.flush_interval = flush_interval
        self.flush_bytes = flush_bytes
        self._buffer = bytearray()
        self._second, self._stamp = -1, ""

    def done(self, flow: Flow) -> None:
        now = time.time()
        ms = int(now * 1000)
        second = ms // 1000
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        buffer = self._buffer
        buffer += orjson.dumps({
            "ts": f"{self._stamp}.{ms % 1000:03d}Z", "request_id": flow.request_id, "method": flow.method,
            "path": flow.path, "route": flow.route_name, "backend": flow.backend, "target": flow.target,
            "status": flow.status, "duration_ms": round(flow.elapsed_ms(), 2), "bytes_in": flow.bytes_in,
            "bytes_out": flow.bytes_out, "client": flow.client, "fallback": flow.fallback_used, "error": flow.error,
        }, option=orjson.OPT_APPEND_NEWLINE)
        # Not started under a server (tests, scripts): written at once. Under one: in pieces small enough to
        # cost the loop no more than a short write.
        if self._task is None or len(buffer) >= self.flush_bytes:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            data, self._buffer = self._buffer, bytearray()
            try:
                self.stream.write(data)
                self.stream.flush()
            except (OSError, ValueError):  # a closed or full stderr must not take requests down
                pass

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            self.flush()

    async def stop(self) -> None:
        await super().stop()
        self.flush()
