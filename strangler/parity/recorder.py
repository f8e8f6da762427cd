"""The mitmproxy addon that writes redacted flows to a bounded flow file.

mitmdump loads it through :mod:`strangler.parity.mitm_addon` (``-s``); its settings are mitmproxy options
(``--set strangler_record_to=FILE`` ...). Each finished flow is copied, the copy redacted (the client still
gets the real answer), serialised with mitmproxy's own ``FlowWriter`` and appended to the file, flushed,
so the file opens in mitmproxy's tools and survives a hard stop between flows.

Bounds: ``strangler_max_bytes`` (the file never grows past it: a flow that would cross it is not written)
and ``strangler_max_flows``. Once a bound is reached the addon stops writing, says so once on the log and
keeps proxying, so clients in front of the recorder are never cut off. ``GET /__strangler/record`` is
answered by the addon itself (not forwarded, not recorded) with the counters: a health check for scripts.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import IO, Any

from mitmproxy import ctx, http
from mitmproxy.io import FlowWriter

from strangler.parity.redaction import Redactor

STATUS_PATH = "/__strangler/record"
log = logging.getLogger(__name__)


class Recorder:
    def __init__(self, redactor: Redactor | None = None, *, max_bytes: int = 0, max_flows: int = 0) -> None:
        self.redactor = redactor or Redactor()
        self.max_bytes = max_bytes  # 0: no bound
        self.max_flows = max_flows
        self.file: IO[bytes] | None = None
        self.path: Path | None = None
        self.written = 0
        self.bytes = 0
        self.dropped = 0
        self.limit: str | None = None  # which bound stopped the writing

    # -- mitmproxy hooks --------------------------------------------------------------------------------
    def load(self, loader: Any) -> None:
        loader.add_option("strangler_record_to", str, "", "Write redacted flows to this file.")
        loader.add_option("strangler_max_bytes", int, 0, "Never grow the file past this size (0: no bound).")
        loader.add_option("strangler_max_flows", int, 0, "Stop writing after this many flows (0: no bound).")
        loader.add_option("strangler_summary", str, "", "Write a JSON summary here when mitmdump stops.")
        loader.add_option("strangler_redact_headers", str, "", "Comma-separated extra headers to redact.")
        loader.add_option("strangler_redact_fields", str, "", "Comma-separated extra body/query fields to redact.")

    def configure(self, updated: set[str]) -> None:
        if updated & {"strangler_redact_headers", "strangler_redact_fields"}:
            self.redactor = Redactor.with_extra(_split(ctx.options.strangler_redact_headers),
                                                _split(ctx.options.strangler_redact_fields))
        if "strangler_max_bytes" in updated:
            self.max_bytes = ctx.options.strangler_max_bytes
        if "strangler_max_flows" in updated:
            self.max_flows = ctx.options.strangler_max_flows
        if "strangler_record_to" in updated and ctx.options.strangler_record_to:
            self.open(Path(ctx.options.strangler_record_to))

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.request.path.split("?")[0] == STATUS_PATH:
            flow.metadata["strangler_internal"] = True
            flow.response = http.Response.make(200, json.dumps(self.status()).encode(),
                                               {"Content-Type": "application/json"})

    def response(self, flow: http.HTTPFlow) -> None:
        self.record(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self.record(flow)  # the request is real traffic even when the backend failed to answer

    def done(self) -> None:
        self.close()
        if ctx.options.strangler_summary:
            Path(ctx.options.strangler_summary).write_text(json.dumps(self.status()))

    # -- the work ---------------------------------------------------------------------------------------
    def open(self, path: Path) -> None:
        self.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.file = path, path.open("wb")

    def record(self, flow: http.HTTPFlow) -> bool:
        if flow.metadata.get("strangler_internal") or flow.metadata.get("strangler_seen") or self.file is None:
            return False
        flow.metadata["strangler_seen"] = True
        if self.limit is not None:
            self.dropped += 1
            return False
        copy = flow.copy()
        copy.id = flow.id  # a copy gets a new id; keep the original's so the file matches the proxy's log
        copy.metadata.clear()
        self.redactor.flow(copy)
        buffer = io.BytesIO()
        FlowWriter(buffer).add(copy)
        data = buffer.getvalue()
        if self.max_bytes and self.bytes + len(data) > self.max_bytes:
            self.dropped += 1
            self._stop(f"--max-bytes {self.max_bytes}")
            return False
        self.file.write(data)
        self.file.flush()
        self.written += 1
        self.bytes += len(data)
        if self.max_flows and self.written >= self.max_flows:
            self._stop(f"--max-flows {self.max_flows}")
        return True

    def _stop(self, bound: str) -> None:
        self.limit = bound
        log.warning("strangler record: %s reached after %d flows (%d bytes); not writing any further flows "
                    "(still proxying)", bound, self.written, self.bytes)

    def status(self) -> dict[str, Any]:
        return {"file": str(self.path) if self.path else None, "flows": self.written, "bytes": self.bytes,
                "dropped": self.dropped, "limit_reached": self.limit, "redacted_values": self.redactor.count}

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]

