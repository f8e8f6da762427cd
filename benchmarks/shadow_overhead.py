"""What a shadow costs the client: the router with and without a shadow on the same route, interleaved.

`.venv/bin/python benchmarks/shadow_overhead.py [--rounds 6] [--duration 8] [--connections 32]`

One upstream (tests/support/upstream.py), one routes file rewritten per variant, the router restarted for
each measurement; the variants alternate (plain, shadow, plain, shadow, ...) so that the machine's drift
falls on both alike, and the medians are compared. Target (issue 6): shadowing adds under 10% to p99.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.wrk import Run, wrk  # noqa: E402
from strangler.processes import ManagedProcess, free_port  # noqa: E402

ROUTES = """default: up
backends:
  up: {{targets: ["{upstream}"], health: {{interval: 0}}}}
  shadow: {{targets: ["{upstream}"], health: {{interval: 0}}}}
routes:
  api: {route}
parity: {{store: {store}}}
"""
VARIANTS = {
    "plain": "{path: /bytes/, backend: up}",
    "shadow": "{path: /bytes/, backend: up, shadow: {backend: shadow, queue: 1000}}",  # default rate: 10/s
}


def measure(work: Path, upstream: str, variant: str, connections: int, duration: float) -> Run:
    config = work / "routes.yaml"
    config.write_text(ROUTES.format(upstream=upstream, route=VARIANTS[variant], store=work / "parity.sqlite3"))
    port, admin = free_port(), free_port()
    router = ManagedProcess("router", [sys.executable, "-m", "router", "serve", "--config", str(config),
                                       "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}"],
                            log_path=work / f"router-{variant}.log", env={"ROUTER_ADMIN_TOKEN": "bench"}, cwd=ROOT)
    with router:
        router.wait_healthy(f"http://127.0.0.1:{port}/__router/health")
        url = f"http://127.0.0.1:{port}/bytes/1024"
        wrk(url, connections, 2)  # warm-up
        return wrk(url, connections, duration)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-shadow-") as tmp:
        work = Path(tmp)
        port = free_port()
        upstream = ManagedProcess("upstream", [sys.executable, "-m", "tests.support.upstream", "--port", str(port)],
                                  log_path=work / "upstream.log", cwd=ROOT)
        runs: dict[str, list[Run]] = {name: [] for name in VARIANTS}
        with upstream:
            upstream.wait_healthy(f"http://127.0.0.1:{port}/healthz")
            for _ in range(args.rounds):
                for name in VARIANTS:
                    runs[name].append(measure(work, f"http://127.0.0.1:{port}", name, args.connections,
                                              args.duration))
        with sqlite3.connect(work / "parity.sqlite3") as store:
            compared = store.execute("SELECT COUNT(*), SUM(outcome = 'equal') FROM comparisons").fetchone()
    print(f"date     {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"command  {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"machine  nproc {os.cpu_count()}; wrk -t1 -c{args.connections} -d{args.duration:g}s, "
          f"{args.rounds} interleaved rounds")
    medians = {}
    for name, measured in runs.items():
        p99 = statistics.median(r.p99_ms for r in measured)
        rps = statistics.median(r.rps for r in measured)
        medians[name] = (p99, rps)
        print(f"{name:<8} p99 {', '.join(f'{r.p99_ms:.2f}' for r in measured)} ms (median {p99:.2f}); "
              f"req/s median {rps:,.0f}")
    print(f"shadowed {compared[0]} requests in all (the route's default rate, 10/s), {compared[1]} equal")
    added = medians["shadow"][0] / medians["plain"][0] - 1
    ok = added < 0.10
    print(f"{'PASS' if ok else 'MISS'}  shadow adds < 10% to p99: {medians['shadow'][0]:.2f} / "
          f"{medians['plain'][0]:.2f} ms = {added:+.1%}; req/s {medians['shadow'][1] / medians['plain'][1] - 1:+.1%}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
