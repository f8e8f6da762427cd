"""``python -m router serve --workers N`` (N > 1): N worker processes serve the public socket; this process,
the primary, runs the admin API and the one control plane, and supervises them.

The primary binds both sockets, builds the whole router as a single process would (table and its history,
reloader and file watcher, leases and their expiry, counting windows, active health checks, parity store,
admin API), and starts each worker (``child.py``) with the public socket and one end of a
socketpair (``channel.py``). Workers are forked from a multiprocessing fork server that has imported
the router once: a clean process (no event loop, no threads) to fork from, so a restart costs a fork and
building the app, not a fresh interpreter importing everything (seconds on a loaded machine). A worker
serves only once it has the primary's current state.

Consistency: whatever changes what workers must agree on (a PATCH, reload or rollback; a lease acquired,
renewed, released or expired, with its ``on_expiry``; a window opened, closed or reset; an active check's
verdict) is pushed to every worker, each applies it in one step between requests and acknowledges, and the
admin API answers only after every acknowledgement (``settle``). A worker that does not acknowledge within
``ACK_SECONDS`` is killed and restarted, and a restarted one gets the current state before it serves.
Changes made without an admin request (the file watcher, SIGHUP, a lease lapsing) are pushed at once too.

Circuits opened or closed by requests are reported by the worker that saw it and told to the others
without waiting (bound: one hop through the primary, about a millisecond on one machine); meanwhile each
worker's own circuit still counts its failures. A half-open circuit lets one probe through per worker.

A worker that dies is restarted (logged, counted in ``router_worker_restarts_total``); its requests in
flight are lost with it, and so is what it counted since the primary last asked (its Prometheus families as
last scraped stay in the sums, so counters never go down; its windows' figures are gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import socket
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from router.admin.figures import Figures, WorkerFigures, sum_families
from router.server.running import GRACEFUL_SECONDS
from router.server.workers.channel import Channel, ChannelClosed, ControlState, WorkerOptions
from router.server.workers.child import run_worker

if TYPE_CHECKING:
    from router.server.assembly import Router

log = logging.getLogger("router.workers")

ACK_SECONDS = 2.0  # a worker that has not applied a change by then is killed (and restarted)
START_SECONDS = 30.0  # for every worker to be serving when the router starts
RESTART_PAUSE = 1.0  # before restarting a worker that died within its first second (no busy loop)
FORKS = multiprocessing.get_context("forkserver")
FORKS.set_forkserver_preload(["router.server.workers.child"])


def _event(event: str, **fields: Any) -> None:
    log.warning(json.dumps({"event": event, **fields}))


class WorkerProcess:
    """One worker as the primary sees it."""

    def __init__(self, index: int, proc: BaseProcess, channel: Channel) -> None:
        self.index = index
        self.proc = proc
        self.channel = channel
        self.started = time.monotonic()
        self.joined = False  # it has its first state: every push includes it from then on
        self.serving = False  # it said it is about to serve
        self.known_version = 0  # the table version it has (a push resends the table only when it differs)
        self.acked_version = 0
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None


class Supervisor(Collector):
    """Starts, feeds, watches and stops the workers; the admin API's ``Cluster``."""

    def __init__(self, router: Router, public: socket.socket, options: WorkerOptions) -> None:
        self.router = router
        self.public = public
        self.options = options
        self.workers: dict[int, WorkerProcess] = {}
        self.stopping = False
        self.restarts = 0
        self._lock = asyncio.Lock()
        self._pushed: object = None
        self._kicker: asyncio.Task[None] | None = None
        # Prometheus counters must not go down when a worker dies: its families as last scraped stay counted.
        self._scraped: dict[int, list[Metric]] = {}
        self.retired: list[Metric] = []
        router.app.tables.listeners.append(lambda _config: self._kick())
        router.leases.listeners.append(self._kick)
        router.windows.listeners.append(self._kick)
        router.app.health.on_checks = self._kick
        router.metrics.registry.register(self)

    # -- starting and restarting --------------------------------------------------------------------------------

    async def launch(self) -> None:
        """Starts every worker and waits until each serves; SystemExit naming the one that could not."""
        for index in range(self.options.workers):
            await self._spawn(index)
        deadline = time.monotonic() + START_SECONDS
        for worker in list(self.workers.values()):
            try:
                await asyncio.wait_for(asyncio.shield(worker.ready), max(0.1, deadline - time.monotonic()))
            except (TimeoutError, ChannelClosed) as exc:
                self.stopping = True
                await self.stop()
                why = (f"did not start within {START_SECONDS:g}s" if isinstance(exc, TimeoutError)
                       else f"exited with status {worker.proc.exitcode}")
                raise SystemExit(f"router worker {worker.index} {why} (its messages are above)") from None

    async def _spawn(self, index: int) -> WorkerProcess:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # The sockets travel to the fork server as file descriptors (multiprocessing passes them).
            proc = FORKS.Process(target=run_worker, args=(index, child, self.public), name=f"router-worker-{index}")
            await asyncio.to_thread(proc.start)  # the first start waits for the fork server's imports
        finally:
            child.close()
        channel = await Channel.open(parent, lambda kind, payload: None, name=f"router worker {index}")
        worker = WorkerProcess(index, proc, channel)
        channel.handler = lambda kind, payload: self._handle(worker, kind, payload)
        self.workers[index] = worker
        worker.task = asyncio.get_running_loop().create_task(self._watch(worker))
        _event("worker_started", worker=index, pid=proc.pid)
        return worker

    async def _watch(self, worker: WorkerProcess) -> None:
        await worker.channel.run()  # until the worker goes away (or is killed for not acknowledging)
        worker.joined = worker.serving = False
        if not worker.ready.done():
            worker.ready.set_exception(ChannelClosed(f"router worker {worker.index} went away"))
        await asyncio.to_thread(worker.proc.join, GRACEFUL_SECONDS + 5)
        if worker.proc.exitcode is None:  # its channel broke, yet it lives on: it cannot be told anything
            worker.proc.kill()
            await asyncio.to_thread(worker.proc.join)
        status = worker.proc.exitcode
        self._retire(self._scraped.pop(worker.index, []))
        if self.stopping:
            return
        self.restarts += 1
        _event("worker_exited", worker=worker.index, pid=worker.proc.pid, status=status, restarting=True)
        if time.monotonic() - worker.started < RESTART_PAUSE:
            await asyncio.sleep(RESTART_PAUSE)
        while not self.stopping:
            try:
                await self._spawn(worker.index)
                return
            except Exception:  # noqa: BLE001 - keep trying: one worker fewer is not a reason to stop serving
                log.exception("restarting router worker %d failed", worker.index)
                await asyncio.sleep(RESTART_PAUSE)

    def _kill(self, worker: WorkerProcess, why: str) -> None:
        _event("worker_killed", worker=worker.index, pid=worker.proc.pid, reason=why)
        worker.joined = worker.serving = False
        worker.proc.kill()

    # -- what workers tell ----------------------------------------------------------------------------------------

    def _handle(self, worker: WorkerProcess, kind: str, payload: Any) -> Any:
        router = self.router
        if kind == "hello":  # its first state, synchronously: nothing pushed later can arrive before it
            worker.joined = True
            return self.options, self._state(worker, circuits=True)
        if kind == "ready":
            worker.serving = True
            if not worker.ready.done():
                worker.ready.set_result(None)
            _event("worker_serving", worker=worker.index, pid=worker.proc.pid, table_version=worker.known_version)
            return None
        if kind == "circuit":
            router.app.health.adopt_circuit(payload)
            for other in self.workers.values():
                if other is not worker and other.joined:
                    other.channel.note("circuit", payload)
        elif kind == "parity":
            row, store = payload
            router.parity.keep(row, store)
        elif kind == "expire":  # a write met a lease past its deadline before the timer here fired
            router.leases.expire_due()
        return None

    # -- pushing the state ----------------------------------------------------------------------------------------

    def _signature(self) -> object:
        router = self.router
        return (router.app.tables.version.number,
                tuple((lease.id, lease.deadline, lease.freeze) for lease in router.leases.live.values()),
                router.windows.definitions(), router.app.health.checks())

    def _state(self, worker: WorkerProcess, *, circuits: bool = False) -> ControlState:
        router = self.router
        version = router.app.tables.version
        state = ControlState(version_number=version.number,
                             version=version if worker.known_version != version.number else None,
                             leases=tuple(router.leases.live.values()), windows=router.windows.definitions(),
                             checks=router.app.health.checks(),
                             circuits=router.app.health.circuits() if circuits else ())
        worker.known_version = version.number
        return state

    def _kick(self) -> None:
        """A change outside an admin request (file watcher, SIGHUP, lease timer, health check): push it now."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # still building: the workers' first state will have it
        if self._kicker is None or self._kicker.done():
            self._kicker = loop.create_task(self._push_changes())

    async def _push_changes(self) -> None:
        while self._signature() != self._pushed and not self.stopping:
            await self.settle()

    async def settle(self) -> None:
        async with self._lock:
            signature = self._signature()
            if signature == self._pushed:
                return
            # Built and sent in one step, in the order of the changes: no await before every send is written.
            sent = [(worker, worker.channel.start_call("state", self._state(worker)))
                    for worker in self.workers.values() if worker.joined]
            self._pushed = signature
            deadline = time.monotonic() + ACK_SECONDS
            for worker, answer in sent:
                try:
                    worker.acked_version = await asyncio.wait_for(answer, max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    self._kill(worker, f"did not apply a change within {ACK_SECONDS:g}s")
                    # Gone before the answer, so no request of the old state is served after it.
                    await asyncio.to_thread(worker.proc.join, 1.0)
                except ChannelClosed:
                    pass  # it died: restarted with the current state

    # -- figures ----------------------------------------------------------------------------------------------------

    async def figures(self, window: int) -> Figures:
        asked = [(worker, worker.channel.start_call("figures", window))
                 for worker in self.workers.values() if worker.serving]
        parts: list[WorkerFigures] = []
        deadline = time.monotonic() + ACK_SECONDS
        for worker, answer in asked:
            try:
                part = await asyncio.wait_for(answer, max(0.0, deadline - time.monotonic()))
                parts.append(part)
                self._scraped[worker.index] = part.families
            except (TimeoutError, ChannelClosed):
                log.warning(json.dumps({"event": "worker_figures_missing", "worker": worker.index}))
        if self.retired:
            parts.append(WorkerFigures({}, {}, {}, {}, families=self.retired))
        return Figures.summed(self.router.metrics.registry, parts)

    def _retire(self, families: list[Metric]) -> None:
        """A dead worker's Prometheus families as last scraped, added to those of the workers dead before."""
        known = {family.name: family for family in self.retired}
        for family in families:
            known[family.name] = sum_families([known[family.name], family]) if family.name in known else family
        self.retired = list(known.values())

    def status(self) -> dict[str, Any]:
        return {"count": self.options.workers, "serving": sum(w.serving for w in self.workers.values()),
                "restarts": self.restarts,
                "processes": [{"index": w.index, "pid": w.proc.pid, "serving": w.serving,
                               "table_version": w.acked_version or w.known_version}
                              for w in sorted(self.workers.values(), key=lambda w: w.index)]}

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("router_workers", "Worker processes serving the public socket",
                                value=sum(w.serving for w in self.workers.values()))
        yield CounterMetricFamily("router_worker_restarts", "Worker processes restarted after they died or "
                                  "were killed for not applying a change in time", value=self.restarts)

    # -- stopping ---------------------------------------------------------------------------------------------------

    def start(self) -> None:
        return None  # launched before the admin API opens (primary.py)

    async def stop(self) -> None:
        """Stops every worker gracefully (requests in flight finish): first of the router's background jobs to
        stop, so the shadow comparisons they still send land in the parity store."""
        self.stopping = True
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                worker.proc.terminate()
        for worker in self.workers.values():
            await asyncio.to_thread(worker.proc.join, GRACEFUL_SECONDS + 5)
            if worker.proc.exitcode is None:
                worker.proc.kill()
        tasks = [w.task for w in self.workers.values() if w.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
