"""Issue 11, against the running router (a real process) under live traffic: each broken routes file a careless
operator might save (duplicate key, duplicate route name, alias bomb, 200-level nesting, non-UTF-8 bytes,
true where seconds are meant, a resolve_url that is not a URL, a 2 MB file) is refused; no request fails or
stalls, the old table keeps serving, the reason is in the admin API's /status and /metrics and logged once,
and the file watcher still takes a good file afterwards."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.router.broken_routes import broken_files
from tests.router.e2e.conftest import Upstream
from tests.router.e2e.helpers import routes_file, wait_for
from tests.support.servers import running_router

pytestmark = pytest.mark.slow

TOKEN = f"reload-admin-{uuid.uuid4().hex}"
CLIENTS = 4


def _table(monolith: Upstream, catalog: Upstream, moved_to: str) -> str:
    return routes_file(f"""\
        default: monolith
        backends:
          monolith: {{targets: ["{monolith.url}"], health: {{interval: 0}}}}
          catalog: {{targets: ["{catalog.url}"], health: {{interval: 0}}}}
        routes:
          moved:
            path: /echo/moved/
            backend: {moved_to}
        """)


@dataclass
class Traffic:
    """A few client threads asking for the moved route all the time; every answer must come from one of
    ``allowed`` (the old table's backend until the test says otherwise)."""

    url: str
    allowed: set[str]
    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[str] = field(default_factory=list)
    served: dict[str, int] = field(default_factory=dict)
    slowest: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, index: int) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                started = time.monotonic()
                try:
                    response = client.get(f"/echo/moved/{index}/{n}")
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.failures.append(f"GET {index}/{n}: {exc!r}")
                    continue
                took = time.monotonic() - started
                upstream = response.headers.get("x-upstream", "-")
                with self.lock:
                    self.slowest = max(self.slowest, took)
                    self.served[upstream] = self.served.get(upstream, 0) + 1
                    if response.status_code != 200 or upstream not in self.allowed:
                        self.failures.append(f"GET {index}/{n}: {response.status_code} from {upstream} "
                                             f"(allowed: {sorted(self.allowed)})")


@dataclass
class Running:
    url: str
    admin_url: str
    path: Path
    log_path: Path

    def admin(self, method: str, path: str) -> httpx.Response:
        return httpx.request(method, self.admin_url + path, headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=10)

    def status(self) -> dict[str, Any]:
        response = self.admin("GET", "/status")
        assert response.status_code == 200, response.text
        reload: dict[str, Any] = response.json()["reload"]
        return reload

    def metrics(self) -> str:
        response = self.admin("GET", "/metrics")
        assert response.status_code == 200, response.text
        return response.text

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def write(self, data: bytes) -> None:
        staged = self.path.with_suffix(".staged")
        staged.write_bytes(data)
        os.replace(staged, self.path)


def _metric(text: str, name: str, labels: str = "") -> float | None:
    found = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


@pytest.fixture
def running(tmp_path: Path, monolith: Upstream, catalog: Upstream) -> Iterator[Running]:
    with running_router(tmp_path, _table(monolith, catalog, "catalog"),
                        env={"ROUTER_ADMIN_TOKEN": TOKEN}) as (url, process, path):
        yield Running(url, process.admin_url, path, process.log_path)  # type: ignore[attr-defined]


def test_broken_files_under_live_traffic_change_nothing_and_are_reported(running: Running, monolith: Upstream,
                                                                         catalog: Upstream) -> None:
    listen = next(line for line in running.path.read_text().splitlines() if line.startswith("listen:"))
    admin = next(line for line in running.path.read_text().splitlines() if line.startswith("admin:"))

    def filled(text: str) -> str:  # the router's own ports, as its file has them
        return "\n".join(listen if line.startswith("listen:") else admin if line.startswith("admin:") else line
                         for line in text.splitlines()) + "\n"

    # Every broken file would also move the route to the monolith, if it were taken.
    moved = filled(_table(monolith, catalog, "monolith"))
    traffic = Traffic(running.url, allowed={"catalog"})
    threads = [threading.Thread(target=traffic.run, args=(i,), daemon=True) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        assert running.status()["state"] == "ok"
        for count, broken in enumerate(broken_files(moved, "moved"), start=1):
            offset = len(running.log())
            running.write(broken.data)
            wait_for(lambda: running.status()["rejected"]["file"] >= count, timeout=5)  # noqa: B023 - called now
            status = running.status()
            assert status["state"] == "rejected", broken.name
            problems = status["last_rejection"]["problems"]
            assert any(broken.reason in p for p in problems), (broken.name, problems)
            assert all(str(running.path) in p for p in problems), problems  # the file is named
            assert all(len(p) <= 300 for p in problems), problems  # nothing echoed back whole
            assert status["serving_version"] == 1, broken.name  # the old table is untouched

            metrics = running.metrics()
            assert _metric(metrics, "router_config_reload_rejected_total", '{origin="file"}') == count
            assert _metric(metrics, "router_config_last_reload_successful") == 0
            reason = re.search(r'^router_config_last_reload_error_info\{reason="(.*)"\} 1\.0$', metrics,
                               re.MULTILINE)
            assert reason is not None, (broken.name, metrics[-600:])
            first = problems[0] if len(problems[0]) <= 200 else problems[0][:197] + "..."
            assert reason.group(1).replace('\\"', '"').replace("\\\\", "\\") == first, broken.name
            assert _metric(metrics, "router_table_version") == 1

            assert traffic.served.get("catalog", 0) > 0 and not traffic.failures, traffic.failures[:5]
            log = running.log()[offset:]
            assert log.count('"reload_refused"') == 1, (broken.name, log[-2000:])
            if count == 1:
                # Touched, or the same bytes saved again: not read, logged or counted again, poll after poll.
                os.utime(running.path)
                running.write(broken.data)
                time.sleep(2.5)
                assert running.log()[offset:].count('"reload_refused"') == 1
                assert running.status()["rejected"]["file"] == 1

        # Asked for explicitly, the last broken file is answered again (and counted as the admin's).
        answer = running.admin("POST", "/reload")
        assert answer.status_code == 400, answer.text
        assert any("larger than 1,000,000 bytes" in p for p in answer.json()["problems"])
        assert running.status()["rejected"]["admin"] == 1

        # The watcher is alive: a good file is taken within its poll interval, and the refusal is over.
        traffic.allowed.add("monolith")
        running.write(moved.encode())
        wait_for(lambda: httpx.get(f"{running.url}/echo/moved/x", timeout=5).headers.get("x-upstream")
                 == "monolith", timeout=5)
        status = running.status()
        assert (status["state"], status["serving_version"]) == ("ok", 2)
        assert status["last_attempt"]["accepted"] is True
        metrics = running.metrics()
        assert _metric(metrics, "router_config_last_reload_successful") == 1
        assert "router_config_last_reload_error_info{" not in metrics
        assert _metric(metrics, "router_config_reload_rejected_total", '{origin="file"}') == 8
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(timeout=15)
    assert traffic.failures == [], f"{len(traffic.failures)} failed, e.g. {traffic.failures[:5]}"
    assert sum(traffic.served.values()) > 200, traffic.served
    # No stall: an alias bomb used to hold every request for seconds.
    assert traffic.slowest < 2.0, traffic.slowest
    assert "Traceback" not in running.log()
