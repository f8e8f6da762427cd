"""Claim: the router is fast enough to stand in front of the whole shop (issue 3, "Done means").

In ONE run, against the SAME upstream (nginx, one worker, access log off, serving a static 1 KB JSON file on a
free port, with its own temporary prefix and configuration), this measures with wrk
(``wrk -t1 -c32 -d10s --latency``, then ``-c1`` for the latency one connection adds):

1. ``direct``: wrk straight to the upstream nginx;
2. ``nginx-proxy``: nginx as a reverse proxy, with the configuration ``python -m router export nginx`` writes
   for a routes file whose default backend is the upstream and one ``/api/`` route to it (used as exported:
   worker_processes auto, JSON access log on);
3. ``router``: ``python -m router serve`` full-featured (its default transport, metrics, JSON access log with
   stderr redirected to a file, admin API enabled);
4. what each choice costs: ``router --no-access-log``, ``router --transport X`` for each other transport, and
   ``router canary 50``
   (the /api/ route at canary 50%, both sides the same upstream: the cost of the canary addon);
5. ``router-shadow``: the same /api/ route with a shadow (a second backend name on the same upstream, queue
   1000, comparisons stored in a SQLite parity store): what shadowing adds to the client's p50/p99, against
   ``router`` in the same run (issue 6: under 10% at p99).

Every request goes to ``/api/data.json`` (matched by the ``/api/`` route in both proxies). It prints
requests/s, p50 and p99 of each, the ratios of requests/s against direct and against nginx-proxy, and
PASS/MISS for issue 11's targets: the full-featured router reaches at least 0.2x nginx-proxy's requests/s;
adds at most 0.3 ms at p50 with one connection (router c1 p50 minus direct c1 p50); keeps p99 under 10 ms at
32 connections. Beside requests/s it reports the CPU time each proxy spent per request in the c32 run (its
whole process group, from /proc: far less sensitive to a shared machine's noise than requests/s).

``--workers N`` is passed on to the router when ``python -m router serve --help`` lists ``--workers`` (else
the router runs as it does by default, and the report says so); every transport the help lists besides the
default one gets a variant of its own (``router-<transport>``).

    .venv/bin/python benchmarks/router.py [--duration 10] [--connections 32] [--workers N] [--only direct,...]

Not part of the test suite. Every process it starts is stopped (and checked gone) before it exits; the exit
status is 1 when a target is missed, 2 when a measurement could not be made.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.processes import group_alive  # noqa: E402
from benchmarks.router_setup import NGINX, PATH, PYTHON, Bench  # noqa: E402
from benchmarks.wrk import WRK, Run  # noqa: E402

TARGET_RATIO = 0.2  # router requests/s over nginx-proxy's (issue 11)
TARGET_ADDED_P50_MS = 0.3  # router c1 p50 minus direct c1 p50
TARGET_P99_MS = 10.0  # router p99 at 32 connections

VARIANTS = ["direct", "nginx-proxy", "router", "router-no-access-log", "router-canary50", "router-shadow"]


@dataclass(frozen=True)
class RouterOptions:
    """What this checkout's ``python -m router serve`` accepts, read from its --help."""

    workers: bool  # --workers exists
    transports: tuple[str, ...]  # --transport's choices
    default_transport: str

    @classmethod
    def read(cls) -> RouterOptions:
        done = subprocess.run([PYTHON, "-m", "router", "serve", "--help"], cwd=ROOT, capture_output=True,  # noqa: S603
                              text=True, timeout=60, check=True)
        text = " ".join(done.stdout.split())
        found = re.search(r"--transport \{([a-z0-9,]+)\}", text)
        transports = tuple(found.group(1).split(",")) if found else ("aiohttp",)
        default = re.search(r"--transport \{[a-z0-9,]+\} .*?\(default: ([a-z0-9]+)", text)
        return cls("--workers" in text, transports, default.group(1) if default else transports[0])

    def variants(self) -> list[str]:
        """Every variant, with one per transport other than the default (after ``router-no-access-log``)."""
        others = [f"router-{t}" for t in self.transports if t != self.default_transport]
        return VARIANTS[:4] + others + VARIANTS[4:]


Result = tuple[Run, Run, str, float | None]  # c32 run, c1 run, note, CPU microseconds per request (c32)


def run_variant(bench: Bench, name: str, options: RouterOptions) -> Result:
    """Start the variant's proxy (if any), measure it, stop it."""
    if name == "direct":
        loaded, single, _ = bench.measure(bench.upstream_url + PATH)
        return loaded, single, "nginx 1 worker, static file", None
    if name == "nginx-proxy":
        process, url = bench.start_nginx_proxy()
        try:
            loaded, single, cpu = bench.measure(url + PATH, process)
        finally:
            process.stop()
        return loaded, single, "exported conf as is (workers auto, access log on)", cpu
    transport = name.removeprefix("router-")
    if transport in options.transports:
        extra, canary = ["--transport", transport], None
    else:
        extra, canary = {
            "router": ([], None),
            "router-no-access-log": (["--no-access-log"], None),
            "router-canary50": ([], 50.0),
            "router-shadow": ([], None),
        }[name]
    shadow = name == "router-shadow"
    process, url = bench.start_router(name, extra, canary, shadow=shadow)
    try:
        loaded, single, cpu = bench.measure(url + PATH, process)
        counters = bench.counters(process)
    finally:
        process.stop()
    note = " ".join(extra) or ("canary 50 on /api/" if canary else "shadow on /api/, parity store" if shadow
                               else f"{options.default_transport}, access log, metrics")
    if bench.router_args:
        note += " " + " ".join(bench.router_args)
    if counters is not None:
        routes = counters.get("routes", {})
        counted = sum(int(r.get("requests", 0)) for r in routes.values()) if isinstance(routes, dict) else 0
        note += f"; {counted} requests counted"
        figures = routes.get("api", {}).get("shadow") if isinstance(routes, dict) else None
        if shadow and isinstance(figures, dict):
            note += (f"; shadow: {figures.get('compared', 0)} compared, {figures.get('equal', 0)} equal, "
                     f"{figures.get('dropped', 0)} dropped, {figures.get('errors', 0)} errors")
    # Access lines only: with --workers the log also holds the workers' events ({"event": "worker_started"...}),
    # which made 2 workers look like 4 requests logged and not counted.
    log_lines = sum(1 for line in process.log.read_text(errors="replace").splitlines()
                    if line.startswith("{") and '"request_id"' in line)
    if log_lines:
        note += f", {log_lines} log lines"
    return loaded, single, note, cpu


# -- report ----------------------------------------------------------------------------------------------

def machine() -> str:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    nginx_version = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False).stderr.strip()  # noqa: S603
    wrk_version = subprocess.run([WRK, "-v"], capture_output=True, text=True, check=False).stdout.split("\n")[0]  # noqa: S603
    return (f"nproc {os.cpu_count()} ({cpu or platform.machine()}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {nginx_version}, {wrk_version.split(' Copyright')[0]}")


def report(results: dict[str, Result], connections: int) -> list[tuple[str, bool | None, str]]:
    direct = results.get("direct")
    proxy = results.get("nginx-proxy")

    def ratio(run: Run, base: Result | None) -> str:
        return f"{run.rps / base[0].rps:.3f}x" if base else "-"

    c = connections
    header = (f"{'variant':<21} {f'c{c} req/s':>10} {'x direct':>9} {'x nginx':>8} {f'c{c} p50':>9} {f'c{c} p99':>9}"
              f" {'c1 req/s':>9} {'c1 p50':>8} {'c1 p99':>8} {'c1 +p50':>8} {'CPU us/req':>10}  notes")
    print(header)
    print("-" * len(header))
    for name, (loaded, single, note, cpu) in results.items():
        added_text = f"{single.p50_ms - direct[1].p50_ms:+.3f}" if direct else "-"
        errors = [e for e in (loaded.errors, single.errors) if e]
        cpu_text = f"{cpu:.1f}" if cpu is not None else "-"
        print(f"{name:<21} {loaded.rps:>10.0f} {ratio(loaded, direct):>9} {ratio(loaded, proxy):>8}"
              f" {loaded.p50_ms:>9.3f} {loaded.p99_ms:>9.3f} {single.rps:>9.0f} {single.p50_ms:>8.3f}"
              f" {single.p99_ms:>8.3f} {added_text:>8} {cpu_text:>10}  {note}"
              + (f"; ERRORS: {' | '.join(errors)}" if errors else ""))
    print(f"(latencies in ms; 'c1 +p50' = c1 p50 minus direct's c1 p50; ratios are of requests/s; 'CPU us/req' ="
          f" CPU time of the proxy's processes (all workers) during the c{c} run over its requests)")

    verdicts: list[tuple[str, bool | None, str]] = []
    router = results.get("router")
    if router is None:
        return verdicts
    if proxy:
        value = router[0].rps / proxy[0].rps
        verdicts.append((f"router req/s >= {TARGET_RATIO}x nginx-proxy", value >= TARGET_RATIO,
                         f"{router[0].rps:.0f} / {proxy[0].rps:.0f} = {value:.3f}x"))
    if direct:
        added = router[1].p50_ms - direct[1].p50_ms
        verdicts.append((f"router adds <= {TARGET_ADDED_P50_MS:g} ms at p50 (c1)", added <= TARGET_ADDED_P50_MS,
                         f"{router[1].p50_ms:.3f} - {direct[1].p50_ms:.3f} = {added:.3f} ms"))
    verdicts.append((f"router p99 < {TARGET_P99_MS:g} ms (c{c})", router[0].p99_ms < TARGET_P99_MS,
                     f"{router[0].p99_ms:.3f} ms"))
    shadowed = results.get("router-shadow")
    if shadowed is not None:
        for label, base, with_shadow in ((f"c{c}", router[0], shadowed[0]), ("c1", router[1], shadowed[1])):
            added_p99 = with_shadow.p99_ms / base.p99_ms - 1 if base.p99_ms else float("inf")
            print(f"shadow {label}: p50 {base.p50_ms:.3f} -> {with_shadow.p50_ms:.3f} ms, "
                  f"p99 {base.p99_ms:.3f} -> {with_shadow.p99_ms:.3f} ms ({added_p99 * 100:+.1f}%)")
            # One run each, one after the other: p99 moves more than that between runs on this machine.
            # The verdict on the shadow's cost is benchmarks/shadow_overhead.py's (interleaved rounds).
            verdicts.append((f"shadow's p99 cost ({label}), single run", None,
                             f"{with_shadow.p99_ms:.3f} / {base.p99_ms:.3f} ms = {added_p99 * 100:+.1f}%"))
    if router[0].errors or router[1].errors:
        verdicts.append(("router answered without errors", False, f"{router[0].errors} {router[1].errors}"))
    print()
    for label, ok, detail in verdicts:
        print(f"{'INFO' if ok is None else 'PASS' if ok else 'MISS'}  {label:<42} {detail}")
    return verdicts


def leftovers(bench: Bench) -> list[str]:
    left = []
    for process in bench.processes:
        if process.proc is not None and group_alive(process.pid):
            left.append(f"{process.name} (process group {process.pid})")
    found = subprocess.run(["pgrep", "-af", str(bench.work)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    left += [line for line in found.stdout.splitlines() if line.strip()]
    return left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default: %(default)s)")
    parser.add_argument("--workers", type=int, help="router worker processes, passed as --workers N when the "
                        "router has that option (default: the router's own default)")
    parser.add_argument("--only", help="comma-separated variants to run, in this order (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs)")
    args = parser.parse_args(argv)
    options = RouterOptions.read()
    known = options.variants()
    variants = [v.strip() for v in (args.only or ",".join(known)).split(",") if v.strip()]
    unknown = sorted(set(variants) - set(known))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(known)}")
    for tool in (WRK, NGINX):
        if not os.access(tool, os.X_OK):
            print(f"{tool} is not installed", file=sys.stderr)
            return 2

    print(f"# router benchmark, {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"# command: {' '.join([Path(PYTHON).name, *sys.argv])}")
    print(f"# machine: {machine()}")
    print(f"# load: wrk -t1 -c{args.connections} -d{args.duration:g}s --latency, then -c1 (1 s warm-up at "
          f"c{args.connections} first); GET {PATH} (1 KB JSON), same upstream for all")
    if args.workers is not None and not options.workers:
        print(f"# --workers {args.workers} not passed: this router has no --workers option (one process)")
    router_args = ["--workers", str(args.workers)] if args.workers is not None and options.workers else []
    print(f"# router: transports {', '.join(options.transports)} (default {options.default_transport}); "
          f"{' '.join(router_args) or 'its default worker count'}")
    work = Path(tempfile.mkdtemp(prefix="router-bench-"))
    bench = Bench(work, args.duration, args.connections, router_args=router_args)
    results: dict[str, Result] = {}
    failed = False
    try:
        bench.start_upstream()
        for name in variants:
            print(f"# measuring {name} ...", file=sys.stderr, flush=True)
            try:
                results[name] = run_variant(bench, name, options)
            except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                failed = True
                print(f"# {name}: not measured: {exc}", file=sys.stderr)
    finally:
        for process in reversed(bench.processes):
            process.stop()
        left = leftovers(bench)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    verdicts = report(results, args.connections)
    if left:
        print(f"\nLEFT RUNNING: {left}", file=sys.stderr)
        return 2
    print(f"\n# every process started was stopped (pgrep finds none){'; kept ' + str(work) if args.keep else ''}")
    if failed:
        return 2
    return 1 if any(ok is False for _, ok, _ in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
