"""Running wrk and reading its report: shared by the benchmarks that load an HTTP server."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WRK = shutil.which("wrk") or "/usr/bin/wrk"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str  # socket errors and non-2xx/3xx responses as wrk reports them, "" when none
    command: str
    output: str = ""  # wrk's whole report (what a script's done() printed included)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, connections: int, duration: float, *, headers: Sequence[str] = (),
        script: Path | None = None, script_args: Sequence[str] = (), timeout: float | None = None) -> Run:
    """``wrk -t1 -cN -dS --latency``: one load thread, the machine's other core left to the server. ``timeout``:
    wrk's ``--timeout`` (its default, 2 s, counts slower answers as errors and leaves them out of the latency)."""
    argv = [WRK, "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency"]
    if timeout is not None:
        argv.append(f"--timeout={timeout:g}s")
    for header in headers:
        argv += ["-H", header]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]  # the script's init(args)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=False)  # noqa: S603
    out = done.stdout
    if done.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{out}\n{done.stderr}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = [line.strip() for line in out.splitlines()
              if line.strip().startswith(("Socket errors", "Non-2xx or 3xx"))]
    return Run(rps, p50, p99, requests, "; ".join(errors), " ".join(argv), out)
