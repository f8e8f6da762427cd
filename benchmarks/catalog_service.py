"""Claim: the extracted catalog service is at least 2x the monolith's speed (issue 4, "Done means").

In ONE run, on the SAME data, this:

1. seeds a scratch SQLite monolith database under a temporary directory (``manage.py migrate`` and
   ``manage.py seed_shop --products N``);
2. starts the monolith under gunicorn (``--monolith-workers`` sync workers, default 1: one worker each side,
   as issue 12's figures were taken) on a free port;
3. provisions and copies the catalog into a scratch SQLite service database with the data-split engine
   (``manage.py strangler split provision|copy migration_plans/catalog.yaml``);
4. starts the catalog service (``python -m extracted.catalog``, 1 uvicorn worker; then again with 2);
5. checks that both answer every measured URL with status 200 and the same body (byte-equal, or at least
   equal after ``json.loads``; anything else stops the run before a figure is printed);
6. measures each endpoint on each side with ``wrk -t1 -cC -dSs --latency`` (1 s warm-up first, not
   recorded): list ``?page=2``, a filtered and sorted list ``?search=oak&ordering=-price``, and detail,
   rotating over a few active product ids with a wrk Lua script.

Every request carries ``Host: localhost`` (pagination links are absolute, built from the Host), so what wrk
measures is exactly what was compared. It prints requests/s, p50 and p99 of each, the service/monolith ratio of
requests/s per endpoint, and PASS/MISS against the target (>= 2x on list and detail; the 1-worker service is the
one judged, the 2-worker one is reported beside it).

    .venv/bin/python benchmarks/catalog_service.py [--products 10000] [--duration 10] [--connections 16]

Not part of the test suite. Every process it starts is stopped (and checked gone with pgrep) before it exits;
the exit status is 1 when a target is missed, 2 when a measurement could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.wrk import WRK, Run, wrk  # noqa: E402
from strangler.processes import ManagedProcess, free_port  # noqa: E402

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PLAN = ROOT / "migration_plans" / "catalog.yaml"
HOST = "localhost"
TARGET = 2.0
P = "/api/catalog/products/"
DETAIL_IDS = 8  # active product ids the detail script rotates over

# (endpoint name, kind judged against the target, URL path or None for the rotating detail)
ENDPOINTS: list[tuple[str, str]] = [
    ("list ?page=2", "list"),
    ("list ?search=oak&ordering=-price", "list"),
    (f"detail (rotating {DETAIL_IDS} ids)", "detail"),
]
LIST_PATHS = {"list ?page=2": P + "?page=2", "list ?search=oak&ordering=-price": P + "?search=oak&ordering=-price"}


# -- processes -------------------------------------------------------------------------------------------

class Processes:
    """Every server started, so that ``stop_all`` (in a finally) leaves nothing behind."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.started: list[ManagedProcess] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], health: str) -> ManagedProcess:
        process = ManagedProcess(name, argv, log_path=self.work / f"{name}.log", env=env, cwd=ROOT)
        self.started.append(process)
        process.start()
        process.wait_healthy(health, timeout=60)
        return process

    @staticmethod
    def stop(process: ManagedProcess) -> None:
        process.stop()
        if process.proc is not None and _group_alive(process.proc.pid):  # a straggler in the group
            try:
                os.killpg(process.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _group_alive(process.proc.pid):
                time.sleep(0.05)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            self.stop(process)

    def leftovers(self) -> list[str]:
        left = [f"{p.name} (process group {p.proc.pid})" for p in self.started
                if p.proc is not None and _group_alive(p.proc.pid)]
        found = subprocess.run(["pgrep", "-af", str(self.work)], capture_output=True, text=True, check=False)  # noqa: S603, S607
        left += [line for line in found.stdout.splitlines() if line.strip()]
        for process in self.started:  # children by parent pid too (gunicorn/uvicorn workers)
            if process.proc is None:
                continue
            found = subprocess.run(["pgrep", "-P", str(process.proc.pid)], capture_output=True, text=True,  # noqa: S603, S607
                                   check=False)
            left += [f"child {pid} of {process.name}" for pid in found.stdout.split()]
        return left


def _group_alive(pgid: int) -> bool:
    found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    return bool(found.stdout.strip())


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} exited with {done.returncode}:\n"
                           f"{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return done.stdout


# -- HTTP ------------------------------------------------------------------------------------------------

def get(base: str, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(base + path, headers={"Host": HOST})  # noqa: S310 - our own loopback URL
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback URL
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def compare(mono: str, svc: str, paths: list[str]) -> list[str]:
    """Each path answered 200 with the same body on both sides; returns a line per path (how equal)."""
    lines = []
    for path in paths:
        (m_status, m_body), (s_status, s_body) = get(mono, path), get(svc, path)
        if m_status != 200 or s_status != 200:
            raise RuntimeError(f"GET {path}: monolith {m_status}, service {s_status} (both must be 200):\n"
                               f" monolith {m_body[:300]!r}\n service  {s_body[:300]!r}")
        if m_body == s_body:
            how = "byte-equal"
        elif json.loads(m_body) == json.loads(s_body):
            how = "equal after json.loads"
        else:
            raise RuntimeError(f"GET {path}: the bodies differ:\n monolith {m_body[:600]!r}\n"
                               f" service  {s_body[:600]!r}")
        lines.append(f"  {path:<52} {how} ({len(m_body)} / {len(s_body)} bytes)")
    return lines


def detail_ids(mono: str, count: int, products: int) -> list[int]:
    """Active product ids spread over the table (inactive ones answer 404 to anonymous clients)."""
    ids: list[int] = []
    step = max(1, products // count)
    candidate = 1
    while len(ids) < count and candidate <= products:
        for probe in range(candidate, min(candidate + 50, products + 1)):
            if get(mono, f"{P}{probe}/")[0] == 200:
                ids.append(probe)
                break
        candidate += step
    if not ids:
        raise RuntimeError("no active product answers 200 on the monolith")
    return ids


# -- wrk -------------------------------------------------------------------------------------------------



def detail_script(path: Path, ids: list[int]) -> Path:
    paths = ", ".join(f'"{P}{i}/"' for i in ids)
    path.write_text(
        "-- Rotates over a few active product ids: one detail URL per request, in turn.\n"
        f"local paths = {{{paths}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n % #paths + 1\n"
        "  return wrk.format(\"GET\", paths[n])\n"
        "end\n")
    return path


def measure(base: str, connections: int, duration: float, script: Path,
            endpoints: list[tuple[str, str]]) -> dict[str, Run]:
    runs = {}
    for name, kind in endpoints:
        url, lua = (base + LIST_PATHS[name], None) if kind == "list" else (base + P, script)
        wrk(url, connections, 1, headers=[f"Host: {HOST}"], script=lua)  # warm-up: nothing recorded
        runs[name] = wrk(url, connections, duration, headers=[f"Host: {HOST}"], script=lua)
    return runs


# -- report ----------------------------------------------------------------------------------------------

def machine() -> str:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    wrk_version = subprocess.run([WRK, "-v"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    return (f"nproc {os.cpu_count()} ({cpu or platform.machine()}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {wrk_version.splitlines()[0].split(' Copyright')[0]}")


def report(results: dict[str, dict[str, Run]], endpoints: list[tuple[str, str]]) -> list[tuple[str, bool]]:
    mono = results["monolith"]
    header = (f"{'endpoint':<34} {'side':<20} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x monolith':>10}  verdict")
    print(header)
    print("-" * len(header))
    verdicts: list[tuple[str, bool]] = []
    for name, _kind in endpoints:
        base = mono[name].rps
        for side, runs in results.items():
            run = runs[name]
            ratio = run.rps / base if base else 0.0
            verdict = ""
            if side == "service-1w":
                ok = ratio >= TARGET and not run.errors
                verdict = "PASS" if ok else "MISS"
                verdicts.append((name, ok))
            elif side == "service-2w":
                verdict = "(" + ("PASS" if ratio >= TARGET and not run.errors else "MISS") + ")"
            extra = f"  ERRORS: {run.errors}" if run.errors else ""
            print(f"{name:<34} {side:<20} {run.rps:>8.0f} {run.p50_ms:>8.2f} {run.p99_ms:>8.2f}"
                  f" {ratio:>9.2f}x  {verdict}{extra}")
    print(f"(target: service req/s >= {TARGET:g}x monolith's; judged on the 1-worker service, 2 workers in brackets)")
    return verdicts


# -- main ------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=10_000, help="seeded products (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default: %(default)s)")
    parser.add_argument("--monolith-workers", type=int, default=1,
                        help="gunicorn sync workers of the monolith (default: %(default)s, like the service's)")
    parser.add_argument("--only", default="", help="comma-separated endpoint names to measure (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, logs)")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    endpoints = [e for e in ENDPOINTS if not wanted or any(w in e[0] for w in wanted)]
    if not endpoints:
        parser.error(f"--only {args.only!r} names none of: " + ", ".join(name for name, _ in ENDPOINTS))

    print(f"date     {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"command  {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine  {machine()}")
    print(f"setup    {args.products} products, SQLite both sides; monolith gunicorn {args.monolith_workers} sync "
          f"worker(s); service uvicorn 1 worker (then 2); wrk -t1 -c{args.connections} -d{args.duration:g}s --latency"
          f" -H 'Host: {HOST}'")

    work = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
    procs = Processes(work)
    status = 0
    try:
        env = {**os.environ,
               "MONOLITH_DATABASE_URL": f"sqlite:///{work / 'shop.sqlite3'}",
               "CATALOG_DATABASE_URL": f"sqlite:///{work / 'catalog.sqlite3'}",
               "SHOP_VAR_DIR": str(work / "var"),
               "DJANGO_SECRET_KEY": "catalog-benchmark-only-" + uuid.uuid4().hex}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env.pop("DJANGO_DEBUG", None)

        started = time.monotonic()
        manage(env, "migrate", "-v0")
        manage(env, "seed_shop", "-v0", "--products", str(args.products), "--reset")
        print(f"seeded   {args.products} products in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        for operation in ("provision", "copy"):
            manage(env, "strangler", "split", operation, str(PLAN))
        print(f"split    provision + copy in {time.monotonic() - started:.1f} s")

        port = free_port()
        mono = f"http://127.0.0.1:{port}"
        procs.start("monolith", [GUNICORN, "legacy_monolith.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
                                 str(args.monolith_workers), "--graceful-timeout", "5"], env, mono + "/healthz")
        ids = detail_ids(mono, DETAIL_IDS, args.products)
        script = detail_script(work / "detail.lua", ids)
        paths = [*LIST_PATHS.values(), *(f"{P}{i}/" for i in ids)]

        results: dict[str, dict[str, Run]] = {}
        compared: list[str] = []
        for workers in (1, 2):
            port = free_port()
            svc = f"http://127.0.0.1:{port}"
            service = procs.start(f"service-{workers}w", [PYTHON, "-m", "extracted.catalog", "--port", str(port),
                                                          "--workers", str(workers), "--log-level", "warning"],
                                  env, svc + "/healthz")
            try:
                lines = compare(mono, svc, paths)
                if workers == 1:
                    compared = lines
                    print(f"same answers (Host: {HOST}), checked before measuring:")
                    print("\n".join(compared))
                    print(f"detail ids: {ids}")
                    print()
                    results["monolith"] = measure(mono, args.connections, args.duration, script, endpoints)
                results[f"service-{workers}w"] = measure(svc, args.connections, args.duration, script, endpoints)
            finally:
                procs.stop(service)

        verdicts = report(results, endpoints)
        print()
        for name, ok in verdicts:
            print(f"{'PASS' if ok else 'MISS'}  service >= {TARGET:g}x monolith req/s: {name}")
        missed = [name for name, ok in verdicts if not ok]
        print(f"\nOVERALL {'PASS' if not missed else 'MISS'}"
              + (f" ({len(missed)} of {len(verdicts)} missed)" if missed else f" (all {len(verdicts)} endpoints)"))
        status = 1 if missed else 0
    except Exception as exc:  # noqa: BLE001 - any failure is reported as "no measurement", with its cause
        print(f"\nERROR: {exc}", file=sys.stderr)
        for process in procs.started:
            print(f"--- {process.name} log tail ---\n{process.log_tail()}", file=sys.stderr)
        status = 2
    finally:
        procs.stop_all()
        left = procs.leftovers()
        if left:
            print("LEFT RUNNING: " + "; ".join(left), file=sys.stderr)
            status = 2
        else:
            print("cleanup  every process stopped (pgrep: nothing left)")
        if args.keep:
            print(f"kept     {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
