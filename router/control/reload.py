"""Hot reload: the routes file is re-read on change and on SIGHUP; validated first, then swapped.

A bad file is refused with its problems logged (file, field, reason) and the running table keeps serving.

- The file is read and parsed in a worker thread (``reload_async``), never on the event loop: even a file at
  the size limit costs the requests in flight nothing but a share of the CPU. Only the swap happens on the
  loop (one reference assignment). Reloads run one at a time, in the order they were asked for.
- The file watcher survives anything a file can do to the reader (its loop catches and reports every
  failure, bugs included) and reports what the file holds once: an unchanged broken file (touched, or
  the same bytes written again) is neither parsed nor logged again. A SIGHUP or an admin reload always
  answers, even for the same broken file.
- Each refusal is kept for ``GET /status`` of the admin API (``status()``) and counted for ``/metrics``
  (``ReloadCollector``): ``router_config_reload_rejected_total{origin}``,
  ``router_config_last_reload_successful`` (0 while the file on disk is refused),
  ``router_config_last_reload_rejected_timestamp_seconds`` and ``router_config_last_reload_error_info{reason}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from router import config as config_module
from router.config import RouterConfig
from router.control.state import TableHolder, Version
from router.exceptions import ConfigError

UTC = timezone.utc  # datetime.UTC is 3.11+

log = logging.getLogger("router.reload")

ORIGINS = ("file", "sighup", "admin")
MAX_REASON = 200  # characters of the first problem in the metrics' info label


@dataclass(frozen=True)
class Attempt:
    """One reload: when, who asked, and what came of it."""

    at: datetime
    origin: str
    accepted: bool
    serving_version: int  # the version serving once it was over
    problems: tuple[str, ...] = ()
    sha256: str | None = None  # of the bytes read (None: the file could not be read)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"at": self.at.isoformat(), "origin": self.origin, "accepted": self.accepted,
                               "serving_version": self.serving_version, "sha256": self.sha256}
        if not self.accepted:
            out["problems"] = list(self.problems)
        return out


# What a read of the file gave: (sha256 of its bytes or None, the config, its problems, or None when the
# bytes are those of the file last refused and were not parsed again).
_Read = tuple[str | None, RouterConfig | list[str] | None]


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
        self._lock: asyncio.Lock | None = None
        self._pending: set[asyncio.Task[Version | None]] = set()
        # The problems of the latest reload, None once one succeeds (the admin API's /reload answers with it).
        self.last_error: list[str] | None = None
        self.last_attempt: Attempt | None = None
        self.last_rejection: Attempt | None = None
        self.rejected: Counter[str] = Counter({origin: 0 for origin in ORIGINS})
        self._refused_sha: str | None = None  # the bytes last refused: the watcher does not parse them again

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    # -- reading (any thread) ---------------------------------------------------------------------------------

    def _read(self, skip_sha: str | None) -> _Read:
        try:
            data = config_module.read(self.path)
        except ConfigError as exc:
            return None, exc.problems
        sha = hashlib.sha256(data).hexdigest()
        if sha == skip_sha:
            return sha, None
        try:
            return sha, config_module.parse_bytes(data, source=str(self.path))
        except ConfigError as exc:
            return sha, exc.problems
        except Exception as exc:  # noqa: BLE001 - a bug in reading must not end the watcher; it is reported
            log.exception("reading %s failed", self.path)
            text = config_module.show(str(exc))
            return sha, [f"{self.path}: could not be read ({type(exc).__name__}: {text}); this is a bug of the "
                         "router, the running table keeps serving"]

    # -- deciding (on the loop) -------------------------------------------------------------------------------

    def _apply(self, origin: str, read: _Read) -> Version | None:
        sha, result = read
        if result is None:
            return None  # the same bytes as the file last refused: refused and reported already
        if isinstance(result, list):
            self._reject(origin, sha, result)
            return None
        problems = [f"{self.path}: {p}" for check in self.checks if (p := check(result))]
        if problems:
            self._reject(origin, sha, problems)
            return None
        was_refused = self.last_error is not None
        self.last_error = None
        self._refused_sha = None
        if result.table.version == self.holder.current.table.version and origin == "file":
            self.last_attempt = Attempt(datetime.now(UTC), origin, True, self.holder.version.number, sha256=sha)
            if was_refused:  # the file is back to what is serving: say the refusal is over
                log.warning(json.dumps({"event": "reload_unchanged", "origin": origin,
                                        "version": self.holder.version.number,
                                        "table": result.table.version}))
            return None  # touched, not changed
        version = self.holder.swap(result, origin=origin)
        self.last_attempt = Attempt(datetime.now(UTC), origin, True, version.number, sha256=sha)
        log.warning(json.dumps({"event": "reloaded", "origin": origin, "version": version.number,
                                "table": result.table.version, "warnings": list(result.warnings)}))
        return version

    def _reject(self, origin: str, sha: str | None, problems: list[str]) -> None:
        self.last_error = problems
        self._refused_sha = sha
        self.rejected[origin] += 1
        attempt = Attempt(datetime.now(UTC), origin, False, self.holder.version.number, tuple(problems), sha)
        self.last_attempt = self.last_rejection = attempt
        log.error(json.dumps({"event": "reload_refused", "origin": origin, "problems": problems,
                              "serving_version": self.holder.version.number}))

    # -- the ways in ------------------------------------------------------------------------------------------

    def reload(self, origin: str) -> Version | None:
        """Reads, checks and swaps on the calling thread: for tools and tests. The running router uses
        ``reload_async``, which keeps the reading off the event loop."""
        # Whatever triggered it, this read of the file is the one the watcher must compare with from now on
        # (else a SIGHUP or admin reload is followed by a second, late one that undoes later admin changes).
        self._stamp = self._file_stamp()
        return self._apply(origin, self._read(self._refused_sha if origin == "file" else None))

    async def reload_async(self, origin: str) -> Version | None:
        """Reads and parses the file in a worker thread, then checks and swaps on the loop. One at a time."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._stamp = self._file_stamp()  # see reload()
            skip = self._refused_sha if origin == "file" else None
            read = await asyncio.to_thread(self._read, skip)
            return self._apply(origin, read)

    async def _guarded(self, origin: str) -> Version | None:
        try:
            return await self.reload_async(origin)
        except Exception:  # noqa: BLE001 - the process goes on serving the table it has; the bug is logged
            log.exception("reload (%s) of %s failed", origin, self.path)
            self._reject(origin, None, [f"{self.path}: the reload failed inside the router (a bug, logged); "
                                        "the running table keeps serving"])
            return None

    def _spawn(self, origin: str) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(origin))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            stamp = self._file_stamp()
            # A file that went away is reported once too ("no such file"); the table keeps serving.
            if stamp != self._stamp:
                self._stamp = stamp
                await self._guarded("file")

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self._spawn, "sighup")
        self._task = loop.create_task(self._watch())

    async def stop(self) -> None:
        tasks = [*self._pending, *([self._task] if self._task is not None else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- reporting --------------------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """What the admin API's ``GET /status`` shows of the file: whether what it holds is serving, and the
        latest refusal with its problems."""
        return {
            "file": str(self.path),
            "state": "rejected" if self.last_error is not None else "ok",
            "serving_version": self.holder.version.number,
            "rejected_total": sum(self.rejected.values()),
            "rejected": dict(self.rejected),
            "last_attempt": self.last_attempt.as_dict() if self.last_attempt else None,
            "last_rejection": self.last_rejection.as_dict() if self.last_rejection else None,
        }


class ReloadCollector(Collector):
    """The reloader's refusals for Prometheus (registered by the admin API beside the request metrics)."""

    def __init__(self, reloader: Reloader) -> None:
        self.reloader = reloader

    def collect(self) -> Iterator[Metric]:
        reloader = self.reloader
        rejected = CounterMetricFamily("router_config_reload_rejected",
                                       "Reloads of the routes file refused (the running table kept serving), "
                                       "by what asked for the reload", labels=["origin"])
        for origin, count in sorted(reloader.rejected.items()):
            rejected.add_metric([origin], count)
        yield rejected
        yield GaugeMetricFamily("router_config_last_reload_successful",
                                "1 when the latest reload of the routes file was taken (or none was tried), "
                                "0 while it is refused", value=0 if reloader.last_error is not None else 1)
        last = reloader.last_rejection
        when = GaugeMetricFamily("router_config_last_reload_rejected_timestamp_seconds",
                                 "When a reload of the routes file was last refused (Unix time)")
        if last is not None:
            when.add_metric([], last.at.timestamp())
        yield when
        info = InfoMetricFamily("router_config_last_reload_error",
                                "Why the latest reload of the routes file was refused (its first problem, "
                                "truncated), while it is", labels=[])
        if reloader.last_error:
            first = reloader.last_error[0]
            info.add_metric([], {"reason": first if len(first) <= MAX_REASON else first[:MAX_REASON - 3] + "..."})
        yield info
