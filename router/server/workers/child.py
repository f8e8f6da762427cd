"""One worker process of ``python -m router serve --workers N``: forked for the primary (``supervisor.py``),
it serves the public socket with the router's app and follows the primary's state over its control channel
(``channel.py``).

What a worker has of its own: the requests it serves and their figures (summed by the primary when asked),
its upstream connection pools and balancers (round robin and least-busy count per worker), its passive
circuits (an opening or closing is reported and shared), and its identity cache (a credential is looked up
once per worker, within ``cache_seconds``). What it follows: the table (with its version number), the
leases' freezes, the counting windows and the active checks' verdicts, all pushed by the primary and applied
in one step between requests. Shadow comparisons go to the primary, which keeps the one parity store; each
worker mirrors 1/N of a route's shadow rate.

The access log is written line by line on stderr, several lines per write() but never more than PIPE_BUF
bytes, so lines of different workers never interleave on a pipe (a regular file is appended to whole); each
line carries the worker's pid.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
import socket
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO, cast

import uvicorn
import uvloop

from router.addons.identity import IdentityBridge
from router.addons.metrics import Metrics
from router.addons.shadow import ParityRecorder, ShadowMirror
from router.admin.figures import worker_figures
from router.control.leases import Lease
from router.control.windows import Windows
from router.parity.store import ParityRow
from router.proxy.access_log import AccessLog
from router.proxy.app import RouterApp
from router.proxy.health import CircuitDef
from router.server.assembly import pipeline
from router.server.running import tune_gc, uvicorn_config
from router.server.workers.channel import Channel, ChannelClosed, ControlState, WorkerOptions, encode, read_blocking
from router.upstream.transports import make_upstream

log = logging.getLogger("router.workers")


class LineWriter:
    """The access log's stream in a worker: whole lines, at most PIPE_BUF bytes per write() (a longer line
    alone), each tagged with this worker's pid."""

    def __init__(self, fd: int = 2) -> None:
        self.fd = fd
        self.tag = b',"worker_pid":%d}\n' % os.getpid()

    def write(self, data: bytes) -> int:
        chunk = bytearray()
        for line in data.splitlines(keepends=True):
            if line.endswith(b"}\n"):  # one JSON object a line (AccessLog's): the pid goes in as a last field
                line = line[:-2] + self.tag
            if chunk and len(chunk) + len(line) > select.PIPE_BUF:
                self._write_all(chunk)
                chunk = bytearray()
            chunk += line
        if chunk:
            self._write_all(chunk)
        return len(data)

    def _write_all(self, data: bytearray) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def flush(self) -> None:
        return None


class LeaseMirror:
    """The primary's live leases as the write freeze reads them; a write meeting one past its deadline asks
    the primary to expire it (once per lease), and is refused meanwhile."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.frozen: Mapping[str, Lease] = {}
        self._asked: set[str] = set()

    def adopt(self, leases: Sequence[Lease]) -> None:
        self.frozen = {route: lease for lease in leases for route in lease.freeze}
        self._asked &= {lease.id for lease in leases}

    def expire_due(self) -> None:
        due = {lease.id for lease in self.frozen.values() if lease.remaining() <= 0} - self._asked
        if due:
            self._asked |= due
            self.worker.note("expire")


class RemoteParity(ParityRecorder):
    """Shadow outcomes go to the primary: its latest differences and its parity store."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(None)
        self.worker = worker

    def keep(self, row: ParityRow, store: bool) -> None:
        self.worker.note("parity", (row, store))


class Worker:
    """The router app of one worker, as ``router.server.assembly.Router`` builds it minus the admin side."""

    def __init__(self, options: WorkerOptions, state: ControlState) -> None:
        if state.version is None:
            raise RuntimeError("the primary's first state has no table")
        self.app = RouterApp(state.version.config, upstream=make_upstream(options.transport), addons=[])
        tables = self.app.tables
        self.channel: Channel | None = None
        self.windows = Windows()
        self.leases = LeaseMirror(self)
        self.identity = IdentityBridge(tables)
        self.shadow = ShadowMirror(tables, self.app.upstream, self.app.choose_target, windows=self.windows)
        self.shadow.rate_share = 1 / options.workers
        self.shadow.listeners.append(RemoteParity(self))
        self.metrics = Metrics(self.app.health, tables, self.shadow.snapshot, windows=self.windows)
        addons = pipeline(self.leases, self.metrics, self.identity, tables, self.shadow)
        background: list[Any] = [self.identity, self.shadow]  # no active checker: the primary's verdicts come
        if options.access_log:
            access = AccessLog(cast(BinaryIO, LineWriter()))
            addons.append(access)
            background.insert(0, access)
        self.app.addons.extend(addons)
        self.app.background = background
        self.app.health.on_circuit = self._report_circuit
        self.apply(state)

    def note(self, kind: str, payload: Any = None) -> None:
        if self.channel is not None:
            self.channel.note(kind, payload)

    def _report_circuit(self, circuit: CircuitDef) -> None:
        self.note("circuit", circuit)

    def apply(self, state: ControlState) -> int:
        """Takes the primary's state, in one step (no await): the next request sees all of it."""
        tables = self.app.tables
        if state.version is not None:  # sent only when this worker does not have it yet
            tables.adopt(state.version)
        elif state.version_number != tables.version.number:
            log.error("router worker: told of table version %d without it (serving %d)", state.version_number,
                      tables.version.number)
        self.leases.adopt(state.leases)
        self.windows.adopt(*state.windows)
        self.app.health.adopt_checks(state.checks)
        for circuit in state.circuits:
            self.app.health.adopt_circuit(circuit)
        return tables.version.number

    def handle(self, kind: str, payload: Any) -> Any:
        if kind == "state":
            try:
                return self.apply(payload)
            except Exception:  # noqa: BLE001 - serving a state other workers do not have is worse than dying
                log.exception("router worker: applying the primary's state failed; exiting to be restarted")
                os._exit(70)
        if kind == "figures":
            return worker_figures(self.metrics, self.shadow, payload, families=True)
        if kind == "circuit":
            self.app.health.adopt_circuit(payload)
        return None


async def _run(worker: Worker, control: socket.socket, public: socket.socket, server: uvicorn.Server) -> None:
    channel = await Channel.open(control, worker.handle, name="router primary")
    worker.channel = channel
    reader = asyncio.get_running_loop().create_task(channel.run())
    # Every push sent before this answer has been applied when it arrives (one channel, in order).
    await channel.call("ready", None, timeout=30)
    reader.add_done_callback(lambda _task: setattr(server, "should_exit", True))  # the primary is gone: stop
    await server.serve(sockets=[public])
    reader.cancel()


def run_worker(index: int, control: socket.socket, public: socket.socket) -> None:
    """The worker process's whole life (the target the primary forks): the primary's state first, then
    serving until SIGTERM/SIGINT or until the primary goes away."""
    # SIGHUP is the primary's (reload the routes file): sent to the whole process group, it must not end us.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    control.setblocking(True)
    try:
        control.sendall(encode(("call", 1, "hello", os.getpid())))
        tag, _number, answer = read_blocking(control)
    except (OSError, ChannelClosed):
        raise SystemExit(f"router worker {index}: the primary went away before this worker started") from None
    if tag != "reply":
        raise SystemExit(f"router worker {index}: the primary answered {tag!r} to hello")
    options, state = answer
    worker = Worker(options, state)
    server = uvicorn.Server(uvicorn_config(worker.app, options.limits))
    tune_gc()
    uvloop.run(_run(worker, control, public, server))
