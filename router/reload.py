"""Hot reload: the routes file is re-read on change and on SIGHUP; validated first, then swapped.

A bad file is refused with its problems logged (file, field, reason) and the running table keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from router import config as config_module
from router.config import RouterConfig
from router.exceptions import ConfigError
from router.state import TableHolder, Version

log = logging.getLogger("router.reload")


class Reloader:
    def __init__(self, holder: TableHolder, path: Path, *, poll_interval: float = 1.0,
                 checks: list[Callable[[RouterConfig], str | None]] | None = None) -> None:
        self.holder = holder
        # Checks beyond the file itself (a secret the new file needs from the environment, say).
        self.checks = checks or []
        self.path = path
        self.poll_interval = poll_interval
        self._stamp = self._file_stamp()
        self._task: asyncio.Task[None] | None = None
        self.last_error: list[str] | None = None

    def _file_stamp(self) -> tuple[float, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size)

    def reload(self, origin: str) -> Version | None:
        # Whatever triggered it, this read of the file is the one the watcher must compare with from now on
        # (else a SIGHUP or admin reload is followed by a second, late one that undoes later admin changes).
        self._stamp = self._file_stamp()
        try:
            new: RouterConfig = config_module.load(self.path)
            problems = [f"{self.path}: {p}" for check in self.checks if (p := check(new))]
            if problems:
                raise ConfigError(problems)
        except ConfigError as exc:
            self.last_error = exc.problems
            log.error(json.dumps({"event": "reload_refused", "origin": origin, "problems": exc.problems,
                                  "serving_version": self.holder.version.number}))
            return None
        self.last_error = None
        if new.table.version == self.holder.current.table.version and origin == "file":
            return None  # touched, not changed
        version = self.holder.swap(new, origin=origin)
        log.warning(json.dumps({"event": "reloaded", "origin": origin, "version": version.number,
                                "table": new.table.version, "warnings": list(new.warnings)}))
        return version

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            stamp = self._file_stamp()
            if stamp is not None and stamp != self._stamp:
                self._stamp = stamp
                self.reload("file")

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self.reload, "sighup")
        self._task = loop.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
