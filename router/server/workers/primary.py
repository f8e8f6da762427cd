"""The primary process of ``python -m router serve --workers N``: the admin API on its socket, the workers
(``supervisor.py``) on the public one, started before the admin API opens and stopped before anything
else when the primary stops."""

from __future__ import annotations

import socket
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn
import uvloop

from router.http.limits import HttpLimits
from router.server.running import uvicorn_config
from router.server.workers.channel import WorkerOptions
from router.server.workers.supervisor import Supervisor

if TYPE_CHECKING:
    from router.server.assembly import Router


class _PrimaryServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, supervisor: Supervisor) -> None:
        super().__init__(config)
        self.supervisor = supervisor

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # At once, not when the shutdown reaches the supervisor: workers stopped by the same signal (a
        # process group's SIGTERM, a terminal's Ctrl-C) must not be restarted meanwhile.
        self.supervisor.stopping = True
        super().handle_exit(sig, frame)
        # Not raised again once the shutdown is over (as a single process does): the primary exits normally,
        # so Python's exit handlers run and multiprocessing removes its temporary directory (pymp-*).
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()


def serve_primary(router: Router, public: socket.socket, admin: socket.socket, limits: HttpLimits, *,
                  workers: int, transport: str, access_log: bool) -> None:
    # Listening now: clients that connect while the workers start wait in the backlog instead of being refused.
    public.listen(2048)
    admin.listen(2048)
    supervisor = Supervisor(router, public, WorkerOptions(transport=transport, access_log=access_log,
                                                          limits=limits, workers=workers))
    router.admin.cluster = supervisor
    router.app.background.append(supervisor)  # last in, so stopped first
    server = _PrimaryServer(uvicorn_config(router, limits), supervisor)

    async def main() -> None:
        await supervisor.launch()
        await server.serve(sockets=[admin])

    uvloop.run(main())
