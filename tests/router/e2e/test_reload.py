"""Hot reload of the routes file: on change and on SIGHUP, validated first, swapped atomically; a bad file
is refused (its problem in the log, with the field) and the old table keeps serving; a reload under load
drops no request."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.router.e2e.conftest import Router, Upstream
from tests.router.e2e.helpers import routes_file, wait_for
from tests.support.servers import running_router

pytestmark = pytest.mark.slow


@dataclass
class ReloadableRouter(Router):
    path: Path

    def log(self) -> str:
        return self.process.log_path.read_text(errors="replace")

    def logged_after(self, offset: int, text: str) -> Callable[[], bool]:
        return lambda: text in self.log()[offset:]

    def rewrite(self, text: str, *, keep_stamp: bool = False) -> None:
        """Replaces the routes file atomically; ``keep_stamp`` keeps its size and mtime, so only a SIGHUP
        (never the file watcher) can notice."""
        old = self.path.stat()
        if keep_stamp:
            text = _same_size(text, old.st_size)
        staged = self.path.with_suffix(".staged")
        staged.write_text(text)
        if keep_stamp:
            os.utime(staged, ns=(old.st_atime_ns, old.st_mtime_ns))
        os.replace(staged, self.path)

    def hangup(self) -> None:
        assert self.process.proc is not None
        os.kill(self.process.proc.pid, signal.SIGHUP)

    def upstream_of(self, path: str) -> str:
        response = httpx.get(f"{self.url}{path}", timeout=5)
        assert response.status_code == 200, response.text
        return response.headers["x-upstream"]


def _same_size(text: str, size: int) -> str:
    """Pads (or trims) the trailing comment line so that the file keeps ``size`` bytes."""
    lines = [line for line in text.rstrip("\n").splitlines() if not line.startswith("# pad")]
    body = "\n".join(lines) + "\n# pad "
    missing = size - len(body.encode()) - 1
    assert missing >= 0, "the original file needs a longer padding comment"
    return body + "x" * missing + "\n"


def _table(monolith: Upstream, catalog: Upstream, moved_to: str, extra: str = "") -> str:
    return routes_file(f"""\
        default: monolith
        backends:
          monolith: {{targets: ["{monolith.url}"], health: {{interval: 0}}}}
          catalog: {{targets: ["{catalog.url}"], health: {{interval: 0}}}}
        routes:
          moved:
            path: /echo/moved/
            backend: {moved_to}
          slow:
            path: /slow/
            backend: {moved_to}
        {extra}
        # pad xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
        """)


@pytest.fixture
def reloadable(tmp_path: Path, monolith: Upstream, catalog: Upstream) -> Iterator[ReloadableRouter]:
    with running_router(tmp_path, _table(monolith, catalog, "catalog")) as (url, process, path):
        yield ReloadableRouter(url, process, path)


def _current(router: ReloadableRouter, monolith: Upstream, catalog: Upstream, moved_to: str, extra: str = "") -> str:
    """The table text as the router's file has it (listen addresses filled in)."""
    listen = next(line for line in router.path.read_text().splitlines() if line.startswith("listen:"))
    admin = next(line for line in router.path.read_text().splitlines() if line.startswith("admin:"))
    text = _table(monolith, catalog, moved_to, extra)
    return "\n".join(listen if line.startswith("listen:") else admin if line.startswith("admin:") else line
                     for line in text.splitlines()) + "\n"


def test_a_changed_file_moves_the_route_within_two_seconds(reloadable: ReloadableRouter, monolith: Upstream,
                                                           catalog: Upstream) -> None:
    assert reloadable.upstream_of("/echo/moved/x") == "catalog"
    reloadable.rewrite(_current(reloadable, monolith, catalog, "monolith"))
    took = wait_for(lambda: reloadable.upstream_of("/echo/moved/x") == "monolith", timeout=2.5)
    assert took < 2.5
    assert reloadable.upstream_of("/echo/other") == "monolith"  # the rest of the table is as it was
    assert '"event": "reloaded"' in reloadable.log()
    assert '"origin": "file"' in reloadable.log()


def test_sighup_reloads_a_file_the_watcher_cannot_see_change(reloadable: ReloadableRouter, monolith: Upstream,
                                                             catalog: Upstream) -> None:
    reloadable.rewrite(_current(reloadable, monolith, catalog, "monolith"), keep_stamp=True)
    time.sleep(1.5)  # more than the watcher's poll interval: it must not have noticed (same size and mtime)
    assert reloadable.upstream_of("/echo/moved/x") == "catalog"
    reloadable.hangup()
    wait_for(lambda: reloadable.upstream_of("/echo/moved/x") == "monolith", timeout=1.0)
    assert '"origin": "sighup"' in reloadable.log()
    assert reloadable.process.running


BAD_FILES = [
    # (what is appended to the moved route or replaces a line, what the log must name)
    ("canary", "routes.moved.canary", "140"),
    ("unknown-backend", "routes.moved.backend", "monolth"),
    ("unknown-key", "routes.moved.bakend", "unknown key"),
    ("not-yaml", "not valid YAML", "line"),
]


def _bad_text(good: str, kind: str) -> str:
    if kind == "canary":
        return good.replace("    path: /echo/moved/\n", "    path: /echo/moved/\n    canary: 140\n")
    if kind == "unknown-backend":
        return good.replace("    backend: monolith\n", "    backend: monolth\n", 1)
    if kind == "unknown-key":
        return good.replace("    path: /echo/moved/\n", "    path: /echo/moved/\n    bakend: x\n")
    return good.replace("routes:\n", "routes: [\n")


def test_a_bad_file_is_refused_and_the_old_table_keeps_serving(reloadable: ReloadableRouter, monolith: Upstream,
                                                               catalog: Upstream) -> None:
    # Each bad file would also move the route to the monolith if it were taken.
    good_move = _current(reloadable, monolith, catalog, "monolith")
    for index, (kind, field, detail) in enumerate(BAD_FILES):
        bad = _bad_text(good_move, kind)
        assert bad != good_move, kind
        before = reloadable.log()
        if index % 2:  # alternately found by the watcher and by SIGHUP
            reloadable.rewrite(bad, keep_stamp=True)
            reloadable.hangup()
        else:
            reloadable.rewrite(bad)
        wait_for(reloadable.logged_after(len(before), '"reload_refused"'), timeout=3)
        refusal = reloadable.log()[len(before):]
        assert field in refusal and detail in refusal, refusal
        assert str(reloadable.path) in refusal  # the file is named too
        for _ in range(5):
            assert reloadable.upstream_of("/echo/moved/x") == "catalog", kind
        assert reloadable.process.running
    # And a good file is still taken afterwards.
    reloadable.rewrite(good_move)
    wait_for(lambda: reloadable.upstream_of("/echo/moved/x") == "monolith", timeout=2.5)


def test_reloads_under_50_concurrent_clients_fail_no_request(reloadable: ReloadableRouter, monolith: Upstream,
                                                             catalog: Upstream) -> None:
    tables = {name: _current(reloadable, monolith, catalog, name) for name in ("catalog", "monolith")}

    async def run() -> tuple[Counter[tuple[str, int, str]], list[str], int]:
        outcomes: Counter[tuple[str, int, str]] = Counter()
        failures: list[str] = []
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=60, max_keepalive_connections=60)
        async with httpx.AsyncClient(base_url=reloadable.url, timeout=10, limits=limits) as client:

            async def clients(index: int) -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    if index < 5:  # in flight across a swap: they must finish where they started
                        method, path, body = "GET", "/slow/0.3", None
                    elif index % 3:
                        method, path, body = "GET", f"/echo/moved/{index}/{n}", None
                    else:
                        method, path, body = "POST", f"/echo/moved/{index}/{n}", b'{"n": %d}' % n
                    try:
                        response = await client.request(method, path, content=body)
                    except httpx.HTTPError as exc:
                        failures.append(f"{method} {path}: {exc!r}")
                        continue
                    outcomes[(method, response.status_code, response.headers.get("x-upstream", "-"))] += 1
                    if response.status_code != 200:
                        failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")

            async def answered(more: int) -> None:
                """Waits for ``more`` answers, so that every swap happens under traffic however slow the
                machine is (a fixed sleep let a loaded CI run swap with few requests in flight)."""
                target = sum(outcomes.values()) + more
                deadline = time.monotonic() + 20
                while sum(outcomes.values()) < target and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)

            tasks = [asyncio.create_task(clients(i)) for i in range(50)]
            reloads = 0
            try:
                for flip in range(6):
                    await answered(35)
                    target = "monolith" if flip % 2 == 0 else "catalog"
                    await asyncio.to_thread(reloadable.rewrite, tables[target], keep_stamp=True)
                    reloadable.hangup()
                    reloads += 1
                await answered(35)
            finally:
                stop.set()
                await asyncio.gather(*tasks)
        return outcomes, failures, reloads

    outcomes, failures, reloads = asyncio.run(run())
    assert failures == [], f"{len(failures)} failed, e.g. {failures[:5]}"
    served = sum(outcomes.values())
    assert served >= 7 * 35, outcomes
    assert {upstream for (_method, _status, upstream) in outcomes} == {"catalog", "monolith"}
    assert reloadable.log().count('"origin": "sighup"') == reloads
