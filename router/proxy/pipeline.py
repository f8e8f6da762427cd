"""Router features layered over the forwarding core, mitmproxy-style: small classes with hook methods,
called in the explicit order of ``RouterApp.addons``.

- ``request(flow)`` runs after matching, before forwarding; it may change ``flow.backend`` or
  ``flow.headers``, or answer by returning a ``Reply`` (the core then forwards nothing).
- ``done(flow)`` runs once the client has its answer (or is gone), for logs, metrics and shadows.

A WebSocket upgrade goes through the same ``request`` hooks as a plain request (so the canary, the identity
bridge and the freeze decide for it too); ``done`` runs once the connection is over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from router.proxy.flow import Flow


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
