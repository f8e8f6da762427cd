"""Rejected reloads, in-process (issue 11): every broken file leaves the running table as it was, is logged
once, kept for the admin API's /status and counted in /metrics; the file is read and parsed off the event
loop, and nothing a file (or a bug of the reader) does ends the file watcher."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from pathlib import Path

import httpx
import pytest

from router import config as config_module
from router.config import RouterConfig, load
from router.control.reload import Reloader
from router.control.state import TableHolder
from router.server.assembly import Router
from tests.router.broken_routes import Broken, broken_files
from tests.router.inprocess import TOKEN, TOKEN_ENV, FakeBackends

GOOD = f"""\
default: monolith
admin: {{token_env: {TOKEN_ENV}}}
parity: {{store: null}}
backends:
  monolith: {{targets: http://monolith.test, health: {{interval: 0}}}}
  catalog: {{targets: http://catalog.test, health: {{interval: 0}}}}
routes:
  moved: {{path: /api/catalog/, backend: catalog}}
"""
MOVED = GOOD.replace("backend: catalog}", "backend: monolith}")
BROKEN = broken_files(MOVED, "moved")


def write(path: Path, data: bytes | str) -> None:
    staged = path.with_suffix(".staged")
    staged.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(staged, path)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(GOOD)
    return path


def holder_for(path: Path) -> TableHolder:
    holder = TableHolder()
    holder.swap(load(path), origin="start")
    return holder


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if '"reload_refused"' in r.getMessage()]


@pytest.mark.parametrize("broken", BROKEN, ids=[b.name for b in BROKEN])
def test_a_broken_file_leaves_the_table_and_is_reported(path: Path, broken: Broken,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    holder = holder_for(path)
    serving = holder.current
    reloader = Reloader(holder, path)
    write(path, broken.data)
    started = time.perf_counter()
    assert reloader.reload("file") is None
    assert time.perf_counter() - started < 1.0
    assert holder.current is serving and holder.version.number == 1
    assert reloader.last_error is not None
    assert any(broken.reason in p for p in reloader.last_error), reloader.last_error
    assert all(p.startswith(f"{path}: ") and len(p) <= 300 for p in reloader.last_error)
    status = reloader.status()
    assert status["state"] == "rejected"
    assert status["rejected"] == {"file": 1, "sighup": 0, "admin": 0} and status["rejected_total"] == 1
    assert status["last_rejection"]["problems"] == reloader.last_error
    assert status["last_rejection"]["serving_version"] == 1
    assert len(refusals(caplog)) == 1
    # and the good file with the same move is taken
    write(path, MOVED)
    version = reloader.reload("file")
    assert version is not None and version.number == 2
    assert reloader.status()["state"] == "ok" and reloader.last_error is None


def test_an_unchanged_broken_file_is_logged_once(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reloader = Reloader(holder_for(path), path)
    write(path, BROKEN[0].data)
    reloader.reload("file")
    for _ in range(3):  # touched, or saved again with the same bytes: the watcher does not read it again
        os.utime(path)
        assert reloader.reload("file") is None
    write(path, BROKEN[0].data)
    reloader.reload("file")
    assert len(refusals(caplog)) == 1
    assert reloader.status()["rejected"]["file"] == 1
    assert reloader.status()["state"] == "rejected"
    # Asked for by hand, it is answered (and logged) again.
    reloader.reload("sighup")
    assert len(refusals(caplog)) == 2
    assert reloader.status()["rejected"] == {"file": 1, "sighup": 1, "admin": 0}
    # Another broken file is news.
    write(path, BROKEN[1].data)
    reloader.reload("file")
    assert len(refusals(caplog)) == 3
    # Once a good file was taken, the first broken one is news again.
    write(path, MOVED)
    assert reloader.reload("file") is not None
    write(path, BROKEN[0].data)
    reloader.reload("file")
    assert len(refusals(caplog)) == 4


def test_back_to_the_serving_file_ends_the_refusal(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    holder = holder_for(path)
    reloader = Reloader(holder, path)
    write(path, BROKEN[0].data)
    reloader.reload("file")
    write(path, GOOD)
    assert reloader.reload("file") is None  # nothing to swap: it is the table serving
    assert reloader.status()["state"] == "ok" and holder.version.number == 1
    assert any('"reload_unchanged"' in r.getMessage() for r in caplog.records)


def test_the_file_is_parsed_off_the_event_loop(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    holder = holder_for(path)
    real = config_module.parse_bytes
    threads: list[int] = []

    def slow_parse(data: bytes, *, source: str = "<routes>") -> RouterConfig:
        threads.append(threading.get_ident())
        time.sleep(0.5)  # a big file
        return real(data, source=source)

    monkeypatch.setattr(config_module, "parse_bytes", slow_parse)

    async def scenario() -> float:
        reloader = Reloader(holder, path)
        write(path, MOVED)
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        version = await reloader.reload_async("file")
        done.set()
        await tick
        assert version is not None and version.number == 2
        return max(gaps)

    worst = asyncio.run(scenario())
    assert len(threads) == 1 and threads[0] != threading.get_ident()
    assert worst < 0.2, f"the event loop stalled for {worst:.3f}s"


def test_the_watcher_survives_a_failing_reader_and_takes_a_good_file_after(
        path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real = config_module.parse_bytes

    def fragile(data: bytes, *, source: str = "<routes>") -> RouterConfig:
        if b"boom" in data:
            raise RecursionError("maximum recursion depth exceeded")  # what deep YAML used to do
        return real(data, source=source)

    monkeypatch.setattr(config_module, "parse_bytes", fragile)

    async def scenario() -> None:
        holder = holder_for(path)
        reloader = Reloader(holder, path, poll_interval=0.02)
        reloader.start()
        try:
            for data in (MOVED + "# boom\n", BROKEN[3].data, MOVED + "# boom again\n"):
                before = reloader.status()["rejected_total"]
                write(path, data)
                for _ in range(200):
                    if reloader.status()["rejected_total"] > before:
                        break
                    await asyncio.sleep(0.01)
                assert reloader.status()["rejected_total"] == before + 1
                assert reloader._task is not None and not reloader._task.done()
                assert holder.version.number == 1
            problems = reloader.status()["last_rejection"]["problems"]
            assert problems == [f"{path}: could not be read (RecursionError: 'maximum recursion depth exceeded'); "
                                "this is a bug of the router, the running table keeps serving"]
            write(path, MOVED)
            for _ in range(200):
                if holder.version.number == 2:
                    break
                await asyncio.sleep(0.01)
            assert holder.version.number == 2 and reloader.status()["state"] == "ok"
        finally:
            await reloader.stop()

    asyncio.run(scenario())


def test_a_vanished_file_is_reported_once(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        holder = holder_for(path)
        reloader = Reloader(holder, path, poll_interval=0.02)
        reloader.start()
        try:
            path.unlink()
            await asyncio.sleep(0.3)
            assert reloader.status()["rejected"]["file"] == 1
            assert reloader.last_error == [f"{path}: no such file"]
            write(path, MOVED)
            for _ in range(200):
                if holder.version.number == 2:
                    break
                await asyncio.sleep(0.01)
            assert holder.version.number == 2
        finally:
            await reloader.stop()

    asyncio.run(scenario())
    assert len(refusals(caplog)) == 1


def test_reloads_run_one_at_a_time_in_order(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = config_module.parse_bytes

    def slow_first(data: bytes, *, source: str = "<routes>") -> RouterConfig:
        if b"# first" in data:
            time.sleep(0.3)
        return real(data, source=source)

    monkeypatch.setattr(config_module, "parse_bytes", slow_first)

    async def scenario() -> None:
        holder = holder_for(path)
        reloader = Reloader(holder, path)
        write(path, MOVED + "# first\n")
        first = asyncio.create_task(reloader.reload_async("sighup"))
        await asyncio.sleep(0.05)
        write(path, GOOD + "# second\n")
        second = asyncio.create_task(reloader.reload_async("sighup"))
        await asyncio.gather(first, second)
        # The later read is the one serving, whatever the first one's parsing cost.
        route = holder.current.table.route("moved")
        assert route is not None and route.backend == "catalog"

    asyncio.run(scenario())


# -- the admin API -------------------------------------------------------------------------------------------

def _metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_status_and_metrics_show_the_refusal(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)

    async def scenario() -> None:
        router = Router(load(path), path, access_log=False, upstream=FakeBackends())
        assert router.reloader is not None
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=router.admin), base_url="http://admin",
                                     headers=headers) as admin:
            status = (await admin.get("/status")).json()
            assert status["version"] == 1
            assert status["reload"]["state"] == "ok" and status["reload"]["last_rejection"] is None
            metrics = (await admin.get("/metrics")).text
            assert _metric(metrics, 'router_config_reload_rejected_total{origin="file"}') == 0
            assert _metric(metrics, "router_config_last_reload_successful") == 1
            assert "router_config_last_reload_error_info{" not in metrics

            write(path, next(b for b in BROKEN if b.name == "bool-as-seconds").data)
            answer = await admin.post("/reload")
            assert answer.status_code == 400
            problem = (f"{path}: backends.spare.timeouts.connect: expected a number, got True")
            assert answer.json() == {"detail": "the routes file is invalid; the current table keeps serving",
                                     "problems": [problem]}
            status = (await admin.get("/status")).json()
            assert status["version"] == 1
            reload = status["reload"]
            assert reload["state"] == "rejected" and reload["rejected"]["admin"] == 1
            assert reload["last_rejection"]["problems"] == [problem]
            assert reload["last_rejection"]["origin"] == "admin"
            metrics = (await admin.get("/metrics")).text
            assert _metric(metrics, 'router_config_reload_rejected_total{origin="admin"}') == 1
            assert _metric(metrics, "router_config_last_reload_successful") == 0
            assert _metric(metrics, "router_config_last_reload_rejected_timestamp_seconds") is not None
            assert f'router_config_last_reload_error_info{{reason="{problem}"}} 1.0' in metrics

            write(path, MOVED)
            answer = await admin.post("/reload")
            assert answer.status_code == 200 and answer.json()["version"] == 2
            assert (await admin.get("/status")).json()["reload"]["state"] == "ok"
            metrics = (await admin.get("/metrics")).text
            assert _metric(metrics, "router_config_last_reload_successful") == 1
            assert "router_config_last_reload_error_info{" not in metrics

    asyncio.run(scenario())


def test_status_of_a_router_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)

    async def scenario() -> None:
        router = Router(config_module.parse(GOOD), None, access_log=False, upstream=FakeBackends())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=router.admin), base_url="http://admin",
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as admin:
            status = (await admin.get("/status")).json()
            assert status["version"] == 1 and status["reload"] is None
            assert (await admin.post("/reload")).status_code == 409
            assert (await admin.get("/status", headers={"Authorization": "Bearer nope"})).status_code == 401

    asyncio.run(scenario())
