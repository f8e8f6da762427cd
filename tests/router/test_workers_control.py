"""The pieces of ``--workers`` without processes: the control channel's framing and ordering, figures summed over
workers (counters, percentiles from raw samples, Prometheus families), windows, circuits and leases mirrored."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from typing import Any

from prometheus_client import generate_latest

from router.addons.metrics import Metrics
from router.addons.shadow import ShadowMirror
from router.admin.figures import Figures, merge_routes, worker_figures
from router.config import parse
from router.control.leases import Lease
from router.control.state import TableHolder
from router.control.windows import RouteFigures, Windows
from router.proxy.flow import Flow
from router.proxy.health import CircuitState, HealthRegistry
from router.server.workers.channel import Channel, ChannelClosed, encode, read_blocking
from router.server.workers.child import LeaseMirror, LineWriter

CONFIG = """\
version: 1
default: monolith
backends:
  monolith: {targets: ["http://monolith.test"], circuit: {failures: 2, reset_after: 30}, health: {interval: 0}}
routes:
  items: {path: /items/, backend: monolith}
"""


def _metrics() -> tuple[Metrics, ShadowMirror, HealthRegistry]:
    tables = TableHolder()
    tables.swap(parse(CONFIG), origin="test")
    health = HealthRegistry()
    health.sync(tables.current.table.backends)
    windows = Windows()
    shadow = ShadowMirror(tables, upstream=None, choose_target=lambda _b: None, windows=windows)  # type: ignore[arg-type]
    return Metrics(health, tables, shadow.snapshot, windows=windows), shadow, health


def _serve(metrics: Metrics, ms: float, status: int = 200) -> None:
    table = metrics.tables.current.table
    flow = Flow(method="GET", path="/items/1", query=b"", headers=[], client="c", scheme="http", host="h",
                request_id="r", match=table.match("GET", "/items/1", {}), backend="monolith",
                started=time.perf_counter() - ms / 1000)
    flow.status, flow.target = status, "http://monolith.test"
    metrics.done(flow)


def test_figures_of_workers_add_up_and_percentiles_come_from_every_sample() -> None:
    one, shadow_one, _ = _metrics()
    two, shadow_two, _ = _metrics()
    for _ in range(90):
        _serve(one, 1.0)
    for _ in range(10):
        _serve(two, 100.0, status=502)
    parts = [worker_figures(one, shadow_one, 0, families=True), worker_figures(two, shadow_two, 0, families=True)]
    summed = Figures.summed(one.registry, parts)
    items = summed.routes["items"].as_dict()
    assert items["requests"] == 100 and items["status"] == {"2xx": 90, "5xx": 10}
    backend = items["backends"]["monolith"]
    assert backend["errors"] == 10 and backend["p50_ms"] < 5 and backend["p99_ms"] >= 99
    text = generate_latest(summed.registry).decode()  # the primary's own (empty) figures plus both workers'
    assert 'router_requests_total{backend="monolith",code="200",method="GET",route="items"} 180.0' in text
    assert 'router_requests_total{backend="monolith",code="502",method="GET",route="items"} 10.0' in text
    assert 'router_request_duration_seconds_count{backend="monolith",route="items"} 190.0' in text
    assert text.count("# TYPE router_requests_total counter") == 1


def test_merged_samples_keep_every_workers_recent_ones() -> None:
    a, b = RouteFigures(), RouteFigures()
    for _ in range(4096):
        a.add(200, "m", 1.0, rejected=False, upstream_errors=0, fallback=False)
        b.add(200, "m", 9.0, rejected=False, upstream_errors=0, fallback=False)
    merged = merge_routes([{"r": a}, {"r": b}])["r"].backends["m"]
    assert len(merged.recent_ms) == 8192 and len(a.backends["m"].recent_ms) == 4096


def test_windows_follow_the_primary_keeping_their_figures() -> None:
    primary, worker = Windows(), Windows()
    opened = primary.open()
    worker.adopt(*primary.definitions())
    counted = worker.by_number(opened.number)
    assert counted is not None and counted.opened == opened.opened
    worker.adopt(*primary.definitions())
    assert worker.by_number(opened.number) is counted  # the same window, figures kept
    primary.close(opened.number)
    primary.reset()
    worker.adopt(*primary.definitions())
    assert worker.by_number(opened.number) is None and worker.base.opened == primary.base.opened


def test_a_circuit_opened_in_one_worker_is_open_in_the_others() -> None:
    _, _, seen = _metrics()
    _, _, other = _metrics()
    reported: list[Any] = []
    seen.on_circuit = reported.append
    seen.record("monolith", "http://monolith.test", ok=False)
    assert not reported
    seen.record("monolith", "http://monolith.test", ok=False)  # the second failure opens it (failures: 2)
    assert [r[2] for r in reported] == [CircuitState.OPEN]
    other.adopt_circuit(reported[0])
    assert other.state("monolith", "http://monolith.test") is CircuitState.OPEN
    assert other.usable(next(iter(_metrics()[0].tables.current.table.backends.values()))) == []
    other.adopt_circuit(("monolith", "http://monolith.test", CircuitState.CLOSED, 0.0))
    assert other.state("monolith", "http://monolith.test") is CircuitState.CLOSED


def test_a_lease_past_its_deadline_asks_the_primary_once() -> None:
    asked: list[str] = []

    class Worker:
        def note(self, kind: str, payload: Any = None) -> None:
            asked.append(kind)

    mirror = LeaseMirror(Worker())  # type: ignore[arg-type]
    lease = Lease(id="l1", freeze=("items",), fence=(), holder="t", seconds=1, deadline=time.monotonic() - 1,
                  expires_at=0, acquired_at=0)
    mirror.adopt([lease])
    assert mirror.frozen["items"] is lease
    mirror.expire_due()
    mirror.expire_due()
    assert asked == ["expire"]


def test_the_access_log_writer_tags_lines_and_never_splits_one(tmp_path: Any) -> None:
    path = tmp_path / "log"
    with path.open("ab") as handle:
        writer = LineWriter(handle.fileno())
        lines = b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"x" * (i * 97 % 3000)) for i in range(50))
        writer.write(lines)
    written = path.read_bytes().splitlines()
    assert len(written) == 50 and all(line.endswith(b',"worker_pid":%d}' % os.getpid())
                                      for line in written)


def test_the_channel_answers_calls_in_order_and_fails_them_when_closed() -> None:
    async def scenario() -> None:
        left, right = socket.socketpair()
        applied: list[int] = []

        def worker_side(kind: str, payload: Any) -> Any:
            if kind == "state":
                applied.append(payload)
                return payload
            return list(applied)

        primary = await Channel.open(left, lambda kind, payload: None, name="primary")
        worker = await Channel.open(right, worker_side, name="worker")
        tasks = [asyncio.ensure_future(primary.run()), asyncio.ensure_future(worker.run())]
        states = [primary.start_call("state", n) for n in range(5)]
        assert await primary.call("figures", timeout=2) == [0, 1, 2, 3, 4]
        assert [await s for s in states] == [0, 1, 2, 3, 4]
        worker.close()
        try:
            await primary.call("state", 9, timeout=2)
        except ChannelClosed:
            pass
        else:
            raise AssertionError("a call on a closed channel must fail")
        for task in tasks:
            task.cancel()

    asyncio.run(scenario())


def test_a_frame_reads_back_whole_from_a_blocking_socket() -> None:
    left, right = socket.socketpair()
    with left, right:
        sender = threading.Thread(target=left.sendall, args=(encode(("call", 1, "hello", {"big": "x" * 600_000})),))
        sender.start()
        assert read_blocking(right)[3]["big"] == "x" * 600_000
        sender.join()
