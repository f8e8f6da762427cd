"""Claim: checkout as the durable saga is not slower than the monolith's one-transaction checkout (issue 15, "Done
means": through the router, same run, 8 and 32 concurrent clients; saga p50 <= 1.5x the monolith's, saga req/s
>= the monolith's).

In ONE run this builds both stages (``benchmarks/checkout_setup.py``: the monolith alone; the monolith, catalog,
cart and orders services for the saga; a router in front of each, the same routes file but for the checkout
route's backend), then for each concurrency warms both sides up and measures them in turn, ``--rounds`` times,
the order of the sides swapped every round (monolith, saga; saga, monolith; ...), so the machine's load drifts
over both alike.

Load: ``wrk -t1 -cC -dSs --latency --timeout 30s`` with a Lua script: every request is ``POST
/api/orders/checkout/`` with a shipping address and an ``Idempotency-Key`` (the monolith ignores it), by the next
customer of the run's list (``Authorization: Token ...``), whose cart is full: each is a real checkout that
empties its cart. The script counts the answers' statuses; anything but 201 is a failure, and a run with
failures is reported as such (exit status 2). wrk because it is the load generator of the other benchmarks here
(C, one thread, little CPU beside the servers on this 2-core machine); its latency percentiles are exact.
Afterwards the orders and shipments in the databases are counted against the 201s (every 201 an order placed
with its shipment). Besides the figures it prints the CPU time each side's processes spent per placed order
(their whole process groups, from /proc) and, from DBOS's own records, each saga step's mean duration and the
mean time before it (DBOS recording the previous step).

    .venv/bin/python benchmarks/checkout.py [--duration 8] [--warmup 2] [--rounds 2] [--connections 8,32]
        [--dbos-postgres postgresql://postgres@127.0.0.1:5432] [--orders-workers 1] [--profile-orders FILE]

Not part of the test suite. Every process it starts is stopped (and checked gone) before it exits, on failure and
Ctrl-C too; exit status 1 when a target is missed, 2 when a measurement failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.catalog_service import Processes, machine  # noqa: E402
from benchmarks.checkout_setup import Side, build, orders_made, saga_steps  # noqa: E402
from benchmarks.processes import group_cpu  # noqa: E402
from benchmarks.wrk import Run, wrk  # noqa: E402

P50_TARGET = 1.5   # saga p50 <= 1.5x the monolith's
RPS_TARGET = 1.0   # saga req/s >= the monolith's
SIDES = ("monolith", "saga")
BODY = {"shipping_address": {"full_name": "Åsa Öberg", "line1": "Storgatan 1", "city": "Malmö",
                             "postal_code": "211 22", "country": "se"}}
LUA = """\
-- One checkout a request, each by the next customer of the list in args[1] (each has a full cart).
local tokens, body = {}, %(body)s
issued, created, failed, statuses = 0, 0, 0, ""
init = function(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
end
request = function()
  issued = issued + 1
  local token = tokens[issued] or "out-of-carts"   -- refused (401): counted as a failure
  return wrk.format("POST", "/api/orders/checkout/", {["Host"] = "localhost", ["Authorization"] = "Token " .. token,
    ["Content-Type"] = "application/json", ["Idempotency-Key"] = "bench-" .. issued}, body)
end
response = function(status, headers, answer)
  if status == 201 then created = created + 1 else
    failed = failed + 1
    if failed <= 3 then
      statuses = statuses .. status .. ":" .. (string.sub(answer, 1, 160):gsub("%%s", " ")) .. " | "
    end
  end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("CHECKOUT issued=%%d created=%%d failed=%%d seen=%%s\\n", t:get("issued"),
      t:get("created"), t:get("failed"), t:get("statuses")))
  end
end
"""


class Measured:
    def __init__(self, run: Run, issued: int, created: int, failed: int, seen: str, cpu: dict[str, float]) -> None:
        self.run, self.issued, self.created, self.failed, self.seen = run, issued, created, failed, seen
        self.cpu = cpu   # CPU seconds each of the side's processes (its whole group) used during the run


def cpu_of(procs: Processes, side: Side) -> dict[str, float]:
    return {p.name: group_cpu(p.proc.pid) for p in procs.started if p.proc is not None and p.name in side.processes}


def measure(procs: Processes, side: Side, work: Path, script: Path, connections: int, duration: float) -> Measured:
    tokens = work / f"tokens-{side.name}.txt"
    tokens.write_text("\n".join(side.tokens[side.used:]) + "\n")
    before = cpu_of(procs, side)
    run = wrk(side.router + "/api/orders/checkout/", connections, duration, script=script,
              script_args=[str(tokens)], timeout=30)
    found = re.search(r"CHECKOUT issued=(\d+) created=(\d+) failed=(\d+) seen=(.*)", run.output)
    if found is None:
        raise RuntimeError(f"the Lua script's counts are missing from wrk's report:\n{run.output}")
    after = cpu_of(procs, side)
    issued, created, failed = (int(found.group(i)) for i in (1, 2, 3))
    side.used += issued
    side.created += created
    time.sleep(1.0)   # the checkouts in flight when wrk stopped finish before the next run
    socket_errors = sum(int(n) for n in re.findall(r"\d+", run.errors.split("Non-2xx")[0]))  # timeouts, resets
    return Measured(run, issued, created, failed + socket_errors, found.group(4).strip(),
                    {name: after[name] - before.get(name, 0.0) for name in after})


def summary(runs: list[Measured]) -> tuple[float, float, float]:
    """req/s, p50 and p99 of a side at a concurrency: the medians of its rounds."""
    return (statistics.median(m.run.rps for m in runs), statistics.median(m.run.p50_ms for m in runs),
            statistics.median(m.run.p99_ms for m in runs))


def report(console: Console, results: dict[int, dict[str, list[Measured]]]) -> list[tuple[str, bool]]:
    table = Table(title="checkout through the router (medians of the rounds; each round's figures in brackets)")
    for column in ("clients", "side", "req/s", "p50 ms", "p99 ms", "201s", "failures"):
        table.add_column(column, justify="left" if column == "side" else "right")
    verdicts: list[tuple[str, bool]] = []
    for connections, sides in results.items():
        for name in SIDES:
            runs = sides[name]
            rps, p50, p99 = summary(runs)
            table.add_row(str(connections), name, f"{rps:,.1f} ({', '.join(f'{m.run.rps:.0f}' for m in runs)})",
                          f"{p50:.1f} ({', '.join(f'{m.run.p50_ms:.0f}' for m in runs)})", f"{p99:.1f}",
                          str(sum(m.created for m in runs)), str(sum(m.failed for m in runs)))
        (m_rps, m_p50, _), (s_rps, s_p50, _) = summary(sides["monolith"]), summary(sides["saga"])
        verdicts.append((f"c{connections}: saga p50 / monolith p50 = {s_p50 / m_p50:.2f} (target <= {P50_TARGET:g})",
                         s_p50 / m_p50 <= P50_TARGET))
        verdicts.append((f"c{connections}: saga req/s / monolith req/s = {s_rps / m_rps:.2f} (target >= "
                         f"{RPS_TARGET:g})", s_rps / m_rps >= RPS_TARGET))
    console.print(table)
    cpu = Table(title="CPU ms per placed order, by process (all measured rounds of both concurrencies)")
    for column in ("side", "process", "CPU ms / order"):
        cpu.add_column(column, justify="right" if column.startswith("CPU") else "left")
    for name in SIDES:
        runs = [m for sides in results.values() for m in sides[name]]
        placed = sum(m.created for m in runs) or 1
        for process in sorted({p for m in runs for p in m.cpu}):
            cpu.add_row(name, process, f"{1000 * sum(m.cpu.get(process, 0.0) for m in runs) / placed:.1f}")
        cpu.add_row(name, "all", f"{1000 * sum(sum(m.cpu.values()) for m in runs) / placed:.1f}")
    console.print(cpu)
    return verdicts


def drop_database(url: str) -> None:
    from sqlalchemy import create_engine, make_url, text

    parsed = make_url(url)
    engine = create_engine(parsed.set(drivername="postgresql+psycopg", database="postgres"),
                           isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measured run (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per side and concurrency")
    parser.add_argument("--rounds", type=int, default=2, help="measured runs per side and concurrency")
    parser.add_argument("--connections", default="8,32", help="concurrent clients, comma-separated (default 8,32)")
    parser.add_argument("--customers", type=int, default=15_000,
                        help="customers (one full cart each) per side; a run that uses them up fails")
    parser.add_argument("--products", type=int, default=20, help="products the carts take from")
    parser.add_argument("--shop-workers", type=int, default=2, help="gunicorn workers of each shop (default 2)")
    parser.add_argument("--dbos-postgres", metavar="URL", default="",
                        help="the saga's system database on this PostgreSQL server (postgresql://user@host:port; a "
                             "database of its own, dropped at the end) instead of SQLite")
    parser.add_argument("--orders-workers", type=int, default=1,
                        help="uvicorn worker processes of the orders service (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (databases, logs)")
    parser.add_argument("--profile-orders", metavar="FILE", type=Path,
                        help="run the orders service under py-spy (its threads on CPU) and write "
                             "its collapsed stacks to FILE; the figures are then not the service's own")
    args = parser.parse_args(argv)
    concurrencies = [int(c) for c in args.connections.split(",") if c.strip()]
    console = Console()
    print(f"date     {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"command  {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine  {machine()}")
    print(f"load     {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min) at the start")
    work = Path(tempfile.mkdtemp(prefix="checkout-bench-"))
    dbos_url = ""
    procs = Processes(work)
    status = 0
    try:
        started = time.monotonic()
        spy = None if args.profile_orders is None else [
            shutil.which("py-spy") or "py-spy", "record", "--threads", "--rate", "100", "--format", "raw",
            "--output", str(args.profile_orders.resolve()), "--"]
        if args.dbos_postgres:
            dbos_url = f"{args.dbos_postgres.rstrip('/')}/bench_checkout_dbos_{uuid.uuid4().hex[:12]}"
            print(f"dbos     system database {dbos_url} (PostgreSQL)")
        sides = build(procs, work, args.customers, args.products, args.shop_workers, spy, dbos_url, args.orders_workers)
        print(f"stages   both built in {time.monotonic() - started:.0f} s ({args.customers} customers a side, "
              f"{args.products} products; shops: gunicorn {args.shop_workers} sync workers; orders service: "
              f"{args.orders_workers} worker(s), other services and routers: 1 worker each; SQLite everywhere"
              f"{' but the saga system database' if dbos_url else ''})")
        script = work / "checkout.lua"
        script.write_text(LUA % {"body": json.dumps(json.dumps(BODY, ensure_ascii=False), ensure_ascii=False)})
        results: dict[int, dict[str, list[Measured]]] = {}
        for connections in concurrencies:
            for name in SIDES:
                warm = measure(procs, sides[name], work, script, connections, args.warmup)
                print(f"warm-up  c{connections} {name}: {warm.created} placed, {warm.failed} failed {warm.seen}")
            results[connections] = {name: [] for name in SIDES}
            for round_ in range(args.rounds):
                for name in SIDES if round_ % 2 == 0 else tuple(reversed(SIDES)):
                    measured = measure(procs, sides[name], work, script, connections, args.duration)
                    results[connections][name].append(measured)
                    print(f"run      c{connections} {name} round {round_ + 1}: {measured.run.rps:.1f} req/s, p50 "
                          f"{measured.run.p50_ms:.1f} ms, {measured.created} placed, {measured.failed} failed "
                          f"{measured.seen}  (load {os.getloadavg()[0]:.2f})")
        print(f"load     {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min) at the end")
        verdicts = report(console, results)
        for text, ok in verdicts:
            print(f"{'PASS' if ok else 'MISS'}  {text}")
        failures = sum(m.failed for sides_ in results.values() for runs in sides_.values() for m in runs)
        time.sleep(2)
        steps = saga_steps(work)
        if steps:
            print("saga     its steps (every checkout of the run, warm-ups included), from DBOS's records: step: "
                  "mean ms (mean ms before it, since the previous step ended)")
            print("         " + "; ".join(f"{name} {step:.1f} ({gap:.1f})" for name, _n, step, gap in steps))
        for name in SIDES:
            side = sides[name]
            made = orders_made(side)
            print(f"data     {name}: {side.used} checkouts sent, {side.created} answered 201, {made}")
            if not side.created <= made.get("orders placed", 0) == made["shipments"] <= side.used:
                print(f"FAILED   {name}: the databases do not hold one placed order and one shipment per 201")
                failures += 1
            if side.used > len(side.tokens):
                print(f"FAILED   {name}: the carts ran out (raise --customers)")
                failures += 1
        if failures:
            print(f"\nFAILED   {failures} checkouts were not 201: the figures above are not a clean measurement")
            status = 2
        else:
            status = 0 if all(ok for _, ok in verdicts) else 1
            print(f"\nOVERALL {'PASS' if status == 0 else 'MISS'}")
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - reported as "no measurement", with its cause
        print(f"\nERROR: {type(exc).__name__}: {exc}", file=sys.stderr)
        for process in procs.started:
            print(f"--- {process.name} log tail ---\n{process.log_tail()}", file=sys.stderr)
        status = 2
    finally:
        if args.profile_orders is not None:   # py-spy writes its file on SIGINT (SIGTERM would lose it)
            for process in procs.started:
                if process.name == "orders" and process.proc is not None and process.proc.poll() is None:
                    os.kill(process.proc.pid, signal.SIGINT)
                    try:
                        process.proc.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        pass
        procs.stop_all()
        if dbos_url:
            drop_database(dbos_url)
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
