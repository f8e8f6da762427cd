"""The benchmarks' processes: started in a process group of their own, stopped with all their children.

``free_port`` is the toolkit's own (``strangler.processes``). ``strangler.processes.ManagedProcess`` does not
fit here: its ``stop()`` waits for the group leader only, while a benchmark must see the whole group (nginx's
workers) gone before it reports; it appends to its log and leaves stdin open; and its health check looks at the
status only, where these check the body too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from strangler.processes import free_port

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ROOT", "Process", "free_port", "group_alive", "group_cpu", "wait_healthy"]


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of process group ``pgid``."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # fields[0] is the state: pgrp is the 5th field of stat, here index 2
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def group_alive(pgid: int) -> bool:
    found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    return bool(found.stdout.strip())


@dataclass
class Process:
    """A process started in its own process group, so stopping it takes its children (nginx workers) too."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    admin_url: str = ""  # routers only
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: S603
                                         cwd=ROOT, env=self.env, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and group_alive(self.proc.pid):
                self.proc.poll()
                time.sleep(0.05)
            if not group_alive(self.proc.pid):
                break
        self.proc.wait(timeout=5)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_healthy(process: Process, url: str, expect: bytes | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited before it was healthy:\n{process.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                body = response.read()
                if response.status == 200 and (expect is None or body == expect):
                    return
                last = f"status {response.status}, {len(body)} bytes"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} not healthy at {url} within {timeout:g}s ({last}):\n{process.tail()}")
