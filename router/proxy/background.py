"""A job that lives as long as the server: one coroutine, started at lifespan startup and cancelled (then waited
for) at shutdown, in the order of ``RouterApp.background``."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundTask:
    """Subclasses give the coroutine (``_run``); ``start`` and ``stop`` are the ``Background`` interface that
    ``RouterApp`` calls. ``_task`` is None while it is not running (not started under a server, or stopped)."""

    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
