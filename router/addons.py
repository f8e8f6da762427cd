"""Router features layered over the forwarding core, mitmproxy-style: small classes with hook methods,
called in the explicit order of ``RouterApp.addons``.

- ``request(flow)`` runs after matching, before forwarding; it may change ``flow.backend`` or
  ``flow.headers``, or answer by returning a ``Reply`` (the core then forwards nothing).
- ``done(flow)`` runs once the client has its answer (or is gone), for logs, metrics and shadows.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
    """One JSON object a line per request, carrying the request id the backends log too."""

    def __init__(self, stream: object = None) -> None:
        self.logger = logging.getLogger("router.access")
        if not self.logger.handlers:
            handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
            handler.setFormatter(logging.Formatter("%(message)s"))
            self.logger.addHandler(handler)
            self.logger.setLevel(logging.INFO)
            self.logger.propagate = False

    def done(self, flow: Flow) -> None:
        self.logger.info(json.dumps({
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": flow.request_id,
            "method": flow.method,
            "path": flow.path,
            "route": flow.route_name,
            "backend": flow.backend,
            "target": flow.target,
            "status": flow.status,
            "duration_ms": round(flow.elapsed_ms(), 2),
            "bytes_in": flow.bytes_in,
            "bytes_out": flow.bytes_out,
            "client": flow.client,
            "fallback": flow.fallback_used,
            "error": flow.error,
        }))
