"""``strangler record``: mitmdump as a reverse proxy in front of a backend, writing a redacted flow file.

mitmdump runs as a child process in the caller's process group (a signal to the group reaches both; a
SIGKILL of the group leaves nothing behind) with :mod:`strangler.parity.mitm_addon` loaded. Recording ends
after ``duration`` seconds, on SIGINT/SIGTERM, or when mitmdump exits; the addon's summary (flows, bytes,
dropped flows, which bound stopped the writing) is returned.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import strangler
from strangler.parity import mitm_addon
from strangler.parity.exceptions import RecordError
from strangler.parity.recorder import STATUS_PATH


@dataclass
class RecordSettings:
    to: Path
    upstream: str
    listen_host: str = "127.0.0.1"
    listen_port: int = 8090
    max_bytes: int = 0  # 0: no bound
    max_flows: int = 0
    duration: float | None = None
    redact_headers: tuple[str, ...] = ()
    redact_fields: tuple[str, ...] = ()

    @property
    def listen_url(self) -> str:
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"http://{host}:{self.listen_port}"


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise RecordError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8090")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def check_upstream(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RecordError(f"--upstream {url!r}: expected an http(s) URL such as http://127.0.0.1:8000")
    if parts.path not in ("", "/") or parts.query:
        raise RecordError(f"--upstream {url!r}: give the backend's origin only (no path or query)")
    return f"{parts.scheme}://{parts.netloc}"


def mitmdump_binary() -> str:
    beside = Path(sys.executable).with_name("mitmdump")
    found = str(beside) if beside.exists() else shutil.which("mitmdump")
    if not found:
        raise RecordError("mitmdump not found beside this Python or on PATH (pip install mitmproxy)")
    return found


def mitmdump_argv(settings: RecordSettings, summary: Path) -> list[str]:
    options = {
        "strangler_record_to": str(settings.to),
        "strangler_max_bytes": str(settings.max_bytes),
        "strangler_max_flows": str(settings.max_flows),
        "strangler_summary": str(summary),
        "strangler_redact_headers": ",".join(settings.redact_headers),
        "strangler_redact_fields": ",".join(settings.redact_fields),
        "flow_detail": "0",
        "termlog_verbosity": "warn",  # no connect/disconnect lines; warnings (a bound reached) still show
        # The backend sees the Host the client sent (ALLOWED_HOSTS, absolute links), and so does the file:
        # replay sends it again, so links in recorded and live answers agree.
        "keep_host_header": "true",
    }
    argv = [mitmdump_binary(), "--mode", f"reverse:{check_upstream(settings.upstream)}",
            "--listen-host", settings.listen_host, "--listen-port", str(settings.listen_port),
            "-s", mitm_addon.__file__]  # not --quiet: the addon's warnings (bound reached) must show
    for key, value in options.items():
        argv += ["--set", f"{key}={value}"]
    return argv


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def record(settings: RecordSettings, *, say: Callable[[str], None] = print, ready_timeout: float = 30.0
           ) -> dict[str, Any]:
    """Record until ``settings.duration`` passes, a SIGINT/SIGTERM arrives or mitmdump exits."""
    if _listening(settings.listen_host, settings.listen_port):
        raise RecordError(f"--listen {settings.listen_host}:{settings.listen_port} is already in use")
    settings.to.parent.mkdir(parents=True, exist_ok=True)
    package_root = str(Path(strangler.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    stop: dict[str, int | None] = {"signal": None}
    exited_alone = False

    def on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum

    with tempfile.TemporaryDirectory(prefix="strangler-record-") as tmp:
        summary_path = Path(tmp) / "summary.json"
        argv = mitmdump_argv(settings, summary_path)
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            proc = subprocess.Popen(argv, env=env)  # noqa: S603 - argv built here, no shell
        except OSError as exc:
            raise RecordError(f"could not start mitmdump: {exc}") from exc
        try:
            deadline = time.monotonic() + ready_timeout
            while not _listening(settings.listen_host, settings.listen_port):
                if proc.poll() is not None:
                    raise RecordError(f"mitmdump exited with status {proc.returncode} before listening")
                if time.monotonic() > deadline or stop["signal"] is not None:
                    raise RecordError(f"mitmdump did not listen on {settings.listen_url} within {ready_timeout:.0f}s")
                time.sleep(0.05)
            say(f"strangler record: {settings.listen_url} -> {settings.upstream}, writing {settings.to}"
                + (f" (at most {settings.max_bytes} bytes)" if settings.max_bytes else "")
                + (f" (at most {settings.max_flows} flows)" if settings.max_flows else "")
                + f"; status at {settings.listen_url}{STATUS_PATH}; stop with Ctrl-C")
            ends = time.monotonic() + settings.duration if settings.duration else None
            while proc.poll() is None and stop["signal"] is None and (ends is None or time.monotonic() < ends):
                time.sleep(0.05)
            exited_alone = proc.poll() is not None
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # mitmdump shuts down cleanly: the addon's done() runs
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for s, handler in previous.items():
                signal.signal(s, handler)
        if not summary_path.exists():
            raise RecordError(f"mitmdump exited with status {proc.returncode} without a summary; "
                              f"{settings.to} may be incomplete")
        summary: dict[str, Any] = json.loads(summary_path.read_text())
    summary["stopped_by"] = (signal.Signals(stop["signal"]).name if stop["signal"] is not None
                             else f"mitmdump exited ({proc.returncode})" if exited_alone else "duration")
    return summary
