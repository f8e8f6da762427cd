"""Starting and stopping the real processes of a migration (monolith, router, services).

Used by the demo, by the plan executor to start a service, and by the tests, which must never leave a
server behind: every process starts in its own session so the whole group can be signalled, and
``stop()`` escalates from SIGTERM to SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


class ProcessFailed(RuntimeError):
    """The process exited or never became healthy; the message carries the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) == 0


class ManagedProcess:
    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - argv is built by the toolkit, never by a shell
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                start_new_session=True,
            )
        finally:
            log.close()
        return self

    def wait_healthy(self, url: str, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"   # what the last try got: the failure says it (a refused connection, a 404...)
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProcessFailed(f"{self.name} exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status = httpx.get(url, timeout=1.0).status_code
                if status == 200:
                    return
                last = f"answered {status}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}".rstrip(": ")
            time.sleep(0.1)
        raise ProcessFailed(f"{self.name} did not answer {url} within {timeout:.0f}s (last try: {last}):\n"
                            f"{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
