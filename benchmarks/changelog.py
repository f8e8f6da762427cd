"""Claim: under sustained writes the data split's changelog stays as small as the sync lag, one or two sync
intervals of writes, however long the writes go on; and the ownership guard costs a monolith write little.

Seeds a monolith (``manage.py migrate`` and ``seed_shop``, SQLite in a temporary directory by default),
then runs the catalog plan twice, each time on a fresh service database, with the public data-split API
(``provision``, ``capture``, ``copy``, the ownership guard on both sides as the plan's copy step installs it,
then ``sync`` every ``--interval`` seconds): writer threads send UPDATEs, INSERTs and DELETEs to the
monolith's catalog tables at a steady ``--rate`` (one statement per transaction) while the changelog's rows
are counted every second. The baseline, in the same run, is the same thing with pruning switched off (the
source engine's ``prune_changelog`` returns 0 without deleting), which is what the log did before: it grows
by every write. After the writes stop, a last sync and ``verify`` check that pruning lost nothing.

Then the guard's cost: single-row ``UPDATE catalog_product`` by id from one connection, with no trigger,
with capture, and with capture and the guard (the state of a split between copy and cutover), committed one
by one and 500 to a transaction; the variants alternate round by round and the medians are compared.

    .venv/bin/python benchmarks/changelog.py [--seconds 60] [--rate 200] [--writers 2] [--interval 0.5]
        [--products 2000] [--monolith-url URL] [--service-url URL] [--guard-rounds 10] [--guard-round-seconds 0.6]
        [--only changelog,guard]

``--monolith-url`` (SQLite or PostgreSQL, as the shop runs: ``postgresql://postgres@127.0.0.1:5432/bench_shop``)
and ``--service-url`` (any kind: ``mysql://root@127.0.0.1:3306/bench_catalog``) name databases that must not
exist yet: the benchmark creates them and drops them at the end. Baselines are measured in the same run
because this machine (2 cores, shared) is noisy.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
GUARD_BATCH = 500


# -- set-up ------------------------------------------------------------------------------------------------
def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def fresh(url: str, what: str) -> None:
    from strangler.datasplit.engines import open_engine

    engine = open_engine(url, what)
    if engine.exists():
        raise SystemExit(f"{what} database {engine.display} exists: the benchmark creates and drops its own "
                         "databases, name one that does not exist")


def drop(url: str) -> None:
    from strangler.datasplit.engines import open_engine

    engine = open_engine(url, "bench")
    try:
        if engine.exists():
            engine.drop()
    finally:
        engine.dispose()


def seed(url: str, env: dict[str, str], products: int) -> None:
    from strangler.datasplit.engines import open_engine

    open_engine(url, "monolith").create()
    t0 = time.monotonic()
    for argv in (["migrate", "-v0"], ["seed_shop", "-v0", "--products", str(products), "--users", "10",
                                        "--orders", "10"]):
        done = subprocess.run([PYTHON, "manage.py", *argv], cwd=ROOT, env=env, capture_output=True,  # noqa: S603
                              text=True, check=False)
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(argv)} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    print(f"seeded {products:,} products in {time.monotonic() - t0:.1f}s")


def write_plan(work: Path, service_url: str) -> Path:
    doc = yaml.safe_load((ROOT / "migration_plans" / "catalog.yaml").read_text())
    doc["service"].update(database_url_env="BENCH_CHANGELOG_UNSET", default_database_url=service_url,
                          migrations=str(ROOT / "extracted" / "catalog" / "migrations"))
    path = work / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def scalar(engine: Any, sql: str, params: list[Any] | None = None) -> Any:
    conn = engine.connect(autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(sql, params) if params else cur.execute(sql)
        return cur.fetchone()[0]
    finally:
        conn.close()


def seeded_ids(engine: Any) -> tuple[int, int]:
    """The seeded products' id range (the benchmark's own inserts come and go)."""
    lo, hi = (scalar(engine, "SELECT MIN(id) FROM catalog_product WHERE sku NOT LIKE 'CLB-%'"),
              scalar(engine, "SELECT MAX(id) FROM catalog_product WHERE sku NOT LIKE 'CLB-%'"))
    return int(lo), int(hi)


# Plain table names (the same in every dialect); "?" becomes the driver's placeholder.
WRITES = {
    "update": "UPDATE catalog_product SET stock = stock + 1, updated_at = CURRENT_TIMESTAMP WHERE id = ?",
    "category": "UPDATE catalog_category SET name = name WHERE id = ?",
    "insert": "INSERT INTO catalog_product (sku, name, description, price, stock, is_active, category_id, "
              "created_at, updated_at) VALUES (?, 'changelog bench', '', 9.99, 5, TRUE, ?, CURRENT_TIMESTAMP, "
              "CURRENT_TIMESTAMP)",
    "delete": "DELETE FROM catalog_product WHERE sku = ?",
}
GUARDED_UPDATE = "UPDATE catalog_product SET stock = stock + 1 WHERE id = ?"


# -- the load ----------------------------------------------------------------------------------------------
class Writers:
    """Threads writing the monolith's catalog tables at a steady total rate, one statement per transaction:
    75% product updates, 5% category updates, 10% product inserts, 10% deletes of products they inserted.
    Behind schedule (a lock wait), a writer catches up by at most a second's worth."""

    def __init__(self, engine: Any, rate: float, threads: int, seed: int) -> None:
        self.engine, self.rate, self.threads, self.seed = engine, rate, threads, seed
        self.stop = threading.Event()
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.ids = seeded_ids(engine)
        self.categories = (int(scalar(engine, "SELECT MIN(id) FROM catalog_category")),
                           int(scalar(engine, "SELECT MAX(id) FROM catalog_category")))
        self.sql = {op: sql.replace("?", engine.param) for op, sql in WRITES.items()}

    def start(self) -> None:
        self.started = time.monotonic()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), name=f"writer-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def finish(self) -> float:
        self.stop.set()
        for t in self._threads:
            t.join()
        return time.monotonic() - self.started

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def _run(self, index: int) -> None:
        rng = random.Random(self.seed * 100 + index)  # noqa: S311 - load, not security
        period = self.threads / self.rate
        mine: list[str] = []
        serial = 0
        conn = self.engine.connect(autocommit=True)
        try:
            cur = conn.cursor()
            due = time.monotonic()
            while not self.stop.is_set():
                roll = rng.random()
                op = ("update" if roll < 0.75 else "category" if roll < 0.80 else
                      "insert" if roll < 0.90 or not mine else "delete")
                if op == "update":
                    params: list[Any] = [rng.randint(*self.ids)]
                elif op == "category":
                    params = [rng.randint(*self.categories)]
                elif op == "insert":
                    serial += 1
                    sku = f"CLB-{self.seed}-{index}-{serial}"
                    params = [sku, rng.randint(*self.categories)]
                else:
                    params = [mine.pop(rng.randrange(len(mine)))]
                try:
                    cur.execute(self.sql[op], params)
                    if cur.rowcount != 1:
                        raise LookupError(f"{cur.rowcount} rows")
                    if op == "insert":
                        mine.append(params[0])
                    with self.lock:
                        self.counts[op] += 1
                except Exception as exc:  # noqa: BLE001 - counted and shown, the load goes on
                    with self.lock:
                        self.errors[f"{op}: {str(exc).splitlines()[0][:120]}"] += 1
                due += period
                now = time.monotonic()
                if due > now:
                    self.stop.wait(due - now)
                elif now - due > 1.0:
                    due = now - 1.0
        finally:
            conn.close()


class Sampler:
    """The changelog's row count every second (its own connection)."""

    def __init__(self, engine: Any, changelog: str) -> None:
        self.engine, self.changelog = engine, changelog
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self, t0: float) -> None:
        self.t0 = t0
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        conn = self.engine.connect(autocommit=True)
        try:
            due = self.t0
            while True:
                cur = conn.cursor()
                cur.execute(f"SELECT COUNT(*) FROM {self.engine.q(self.changelog)}")  # noqa: S608 - quoted
                self.samples.append((time.monotonic() - self.t0, int(cur.fetchone()[0])))
                due += 1.0
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    return
        finally:
            conn.close()


@dataclass
class Run:
    pruning: bool
    seconds: float = 0.0
    writes: int = 0
    ops: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[tuple[float, int]] = field(default_factory=list)
    syncs: list[tuple[float, Any]] = field(default_factory=list)  # (start, SyncReport)
    final_size: int = 0
    catch_up: Any = None
    verified: bool = False
    pruned_total: int = 0

    @property
    def rate(self) -> float:
        return self.writes / self.seconds

    @property
    def max_sampled(self) -> int:
        return max(n for _, n in self.samples)

    @property
    def max_before_prune(self) -> int:
        """The log's size just before each prune: what it deleted plus what stayed after the mark."""
        return max((r.pruned + r.lag_rows for _, r in self.syncs), default=0)

    def half_max(self, second: bool) -> int:
        half = self.seconds / 2
        return max((n for t, n in self.samples if (t >= half) == second), default=0)

    def slope(self) -> tuple[float, float]:
        """Least-squares rows per second of the samples, and R²."""
        xs, ys = [t for t, _ in self.samples], [float(n) for _, n in self.samples]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
        syy = sum((y - my) ** 2 for y in ys)
        b = sxy / sxx if sxx else 0.0
        return b, (sxy * sxy / (sxx * syy) if sxx and syy else 1.0)


def changelog_run(plan: Path, service_url: str, args: argparse.Namespace, *, pruning: bool, seed: int) -> Run:
    from strangler import datasplit as ds
    from strangler.datasplit import ownership

    drop(service_url)
    split = ds.open_split(plan)
    run = Run(pruning)
    if not pruning:
        # The baseline: the engine's prune deletes nothing (what the changelog did before pruning existed).
        split.source.prune_changelog = lambda conn, changelog, upto: 0  # type: ignore[method-assign]
    changelog = split.plan.changelog_table
    try:
        ds.provision(split)
        ds.capture(split)
        ds.copy(split)
        for side in ownership.SIDES:  # as the plan's copy step does: the monolith owns, both sides guarded
            ownership.install(split, side, "monolith")
        ds.sync(split)
        writers = Writers(split.source, args.rate, args.writers, seed)
        sampler = Sampler(split.source, changelog)
        t0 = time.monotonic()
        writers.start()
        sampler.start(t0)
        due = t0
        try:
            while time.monotonic() - t0 < args.seconds:
                started = time.monotonic()
                run.syncs.append((started - t0, ds.sync(split)))
                due += args.interval
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
                else:
                    due = now
        finally:
            run.seconds = writers.finish()
            sampler.finish()
        run.writes, run.ops, run.errors = writers.total, writers.counts, writers.errors
        run.samples = sampler.samples
        run.final_size = scalar(split.source, f"SELECT COUNT(*) FROM {split.source.q(changelog)}")  # noqa: S608
        run.pruned_total = sum(r.pruned for _, r in run.syncs)
        run.catch_up = ds.sync(split)
        run.verified = ds.verify(split).ok
    finally:
        for side in ownership.SIDES:
            ownership.remove(split, side)
        ds.uncapture(split, drop_changelog=True)
        split.close()
        drop(service_url)
    return run


def report_runs(pruned: Run, baseline: Run, interval: float) -> None:
    for run in (pruned, baseline):
        periods = [b[0] - a[0] for a, b in zip(run.syncs, run.syncs[1:], strict=False)]
        took = sorted(r.seconds for _, r in run.syncs)
        ops = ", ".join(f"{k} {v:,}" for k, v in sorted(run.ops.items()))
        print(f"\n{'pruned after each sync' if run.pruning else 'baseline: pruning off'}: {run.seconds:.1f} s, "
              f"{run.writes:,} writes ({run.rate:,.1f}/s: {ops})"
              f", {len(run.syncs)} syncs (period {statistics.fmean(periods):.3f} s mean, {max(periods):.3f} s max; "
              f"a sync took {statistics.median(took):.3f} s median, {took[-1]:.3f} s max), "
              f"{run.pruned_total:,} entries pruned")
        if run.errors:
            print("  write errors:", dict(run.errors))
        marks = [run.samples[i] for i in sorted({round(i * (len(run.samples) - 1) / 6) for i in range(7)})]
        print("  changelog rows at " + " · ".join(f"{t:.0f}s {n:,}" for t, n in marks))
        print(f"  max sampled {run.max_sampled:,} (first half {run.half_max(False):,}, second half "
              f"{run.half_max(True):,}), final {run.final_size:,}; after the writes a last sync applied "
              f"{run.catch_up.changes:,} entries (lag {run.catch_up.lag_rows}); verify: "
              f"{'equal' if run.verified else 'DIFFERENT'}")
    per_interval = pruned.rate * interval
    mean_period = statistics.fmean(b[0] - a[0] for a, b in zip(pruned.syncs, pruned.syncs[1:], strict=False))
    peak = max(pruned.max_sampled, pruned.max_before_prune)
    slope, r2 = baseline.slope()
    print(f"\nwrites per sync interval ({interval} s): {per_interval:,.1f}")
    print(f"pruned:   max size {peak:,} rows (sampled {pruned.max_sampled:,}, just before a prune "
          f"{pruned.max_before_prune:,}) = {peak / per_interval:.2f} sync intervals of writes "
          f"({peak / (pruned.rate * mean_period):.2f} of the measured mean period {mean_period:.3f} s); "
          f"final {pruned.final_size:,}")
    print(f"baseline: grows {slope:,.1f} rows/s = {slope / baseline.rate:.3f} x writes/s (R² {r2:.4f}); final "
          f"{baseline.final_size:,} rows = {baseline.final_size / (baseline.rate * interval):,.0f} sync intervals of "
          f"writes; {baseline.final_size / max(pruned.final_size, 1):,.0f}x the pruned log's final size")
    print("claim: the pruned log never holds much more than one or two sync intervals of writes "
          f"(max / writes per interval = {peak / per_interval:.2f}), in the second half of the run as in the first")


# -- the guard's cost --------------------------------------------------------------------------------------
VARIANTS = ("no triggers", "capture", "capture + guard")
MODES = ("commit each", f"{GUARD_BATCH} per transaction")


def set_variant(split: Any, variant: str) -> None:
    from strangler import datasplit as ds
    from strangler.datasplit import ownership

    ownership.remove(split, "monolith")
    if variant == "no triggers":
        ds.uncapture(split, drop_changelog=True)
        return
    ds.capture(split)
    if variant == "capture + guard":
        ownership.install(split, "monolith", "monolith")


def empty_changelog(split: Any) -> None:
    """Every measurement starts with an empty log (nothing syncs it here)."""
    engine = split.source
    conn = engine.connect(autocommit=True)
    try:
        if engine.table_exists(conn, split.plan.changelog_table):
            engine.prune_changelog(conn, split.plan.changelog_table, 2**62)
    finally:
        conn.close()


def backend_cpu(engine: Any, conn: Any) -> Any:
    """A function returning the CPU seconds the database spent on this connection so far, where this machine
    can see it: SQLite runs in this process; a local PostgreSQL backend's time is in /proc (ns resolution)."""
    if engine.kind == "sqlite":
        return time.process_time
    if engine.kind == "postgresql" and (engine.url.host or "127.0.0.1") in ("127.0.0.1", "localhost", "::1"):
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        stat = Path(f"/proc/{pid}/schedstat")
        if stat.exists():
            return lambda: int(stat.read_text().split()[0]) / 1e9
    return None


def measure_updates(engine: Any, ids: tuple[int, int], mode: str, seconds: float,
                    seed: int) -> tuple[float, float | None]:
    """(UPDATEs per second, the database's CPU microseconds per UPDATE when this machine can see them)."""
    rng = random.Random(seed)  # noqa: S311 - load, not security
    sql = GUARDED_UPDATE.replace("?", engine.param)
    batched = mode != MODES[0]
    conn = engine.connect(autocommit=not batched)
    try:
        cpu = backend_cpu(engine, conn)
        cur = conn.cursor()
        n = 0
        t0, c0 = time.monotonic(), cpu() if cpu else 0.0
        while time.monotonic() - t0 < seconds:
            if batched:
                engine.begin(conn)
                for _ in range(GUARD_BATCH):
                    cur.execute(sql, [rng.randint(*ids)])
                conn.commit()
                n += GUARD_BATCH
            else:
                cur.execute(sql, [rng.randint(*ids)])
                n += 1
        rate = n / (time.monotonic() - t0)
        return rate, ((cpu() - c0) * 1e6 / n if cpu else None)
    finally:
        conn.close()


def refused_message(split: Any, ids: tuple[int, int]) -> str:
    """What a legacy writer sees once the monolith's copy belongs to the service."""
    from strangler.datasplit import ownership

    set_variant(split, "capture + guard")
    ownership.set_owner(split, "monolith", "service")
    conn = split.source.connect(autocommit=True)
    try:
        conn.cursor().execute(GUARDED_UPDATE.replace("?", split.source.param), [ids[0]])
        return "(not refused!)"
    except Exception as exc:  # noqa: BLE001 - the refusal is what we want to show
        return f"{type(exc).__module__}.{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        conn.close()
        ownership.set_owner(split, "monolith", "monolith")


def guard_cost(plan: Path, args: argparse.Namespace) -> None:
    from strangler import datasplit as ds
    from strangler.datasplit import ownership

    split = ds.open_split(plan)
    ids = seeded_ids(split.source)
    results: dict[tuple[str, str], list[tuple[float, float | None]]] = {(v, m): [] for v in VARIANTS for m in MODES}
    try:
        message = refused_message(split, ids)
        for r in range(args.guard_rounds):
            order = VARIANTS[r % 3:] + VARIANTS[:r % 3]  # each variant takes each position in turn
            for variant in order:
                set_variant(split, variant)
                for mode in MODES:
                    empty_changelog(split)
                    results[variant, mode].append(
                        measure_updates(split.source, ids, mode, args.guard_round_seconds, seed=r))
    finally:
        ownership.remove(split, "monolith")
        ds.uncapture(split, drop_changelog=True)
        split.close()
    print(f"\nownership guard on a monolith write ({split.source.kind}): single-row UPDATE catalog_product by id, "
          f"one connection, median of {args.guard_rounds} alternating rounds of {args.guard_round_seconds} s")
    print(f"{'':<30}" + "".join(f"{v:>17}" for v in VARIANTS) + f"{'guard/capture':>15}{'capture/none':>14}")
    for mode in MODES:
        rates = {v: [rate for rate, _ in results[v, mode]] for v in VARIANTS}
        med = {v: statistics.median(rates[v]) for v in VARIANTS}
        print(f"{mode + ', UPDATE/s':<30}" + "".join(f"{med[v]:>17,.0f}" for v in VARIANTS)
              + f"{med['capture + guard'] / med['capture']:>15.3f}{med['capture'] / med['no triggers']:>14.3f}")
        print(f"{'  min-max':<30}" + "".join(f"{f'{min(rates[v]):,.0f}-{max(rates[v]):,.0f}':>17}" for v in VARIANTS))
        if all(c is not None for v in VARIANTS for _, c in results[v, mode]):
            cpu = {v: statistics.median(float(c or 0) for _, c in results[v, mode]) for v in VARIANTS}
            where = "in process" if split.source.kind == "sqlite" else "server backend"
            print(f"{f'  CPU µs/UPDATE ({where})':<30}" + "".join(f"{cpu[v]:>17.2f}" for v in VARIANTS)
                  + f"{cpu['capture + guard'] / cpu['capture']:>15.3f}{cpu['capture'] / cpu['no triggers']:>14.3f}")
    print(f"a write refused by the guard (owner set to the service): {message}")


# -- main --------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="writes per run (default 60)")
    parser.add_argument("--rate", type=float, default=200.0, help="writes per second, all writers (default 200)")
    parser.add_argument("--writers", type=int, default=2, help="writer threads (default 2)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between syncs (default 0.5)")
    parser.add_argument("--products", type=int, default=2000, help="seeded products (default 2000)")
    parser.add_argument("--monolith-url", help="a database to create, seed and drop (default: SQLite, temporary)")
    parser.add_argument("--service-url", help="a database to create and drop (default: SQLite, temporary)")
    parser.add_argument("--guard-rounds", type=int, default=10)
    parser.add_argument("--guard-round-seconds", type=float, default=0.6)
    parser.add_argument("--only", default="changelog,guard", help="changelog, guard or both (default)")
    args = parser.parse_args()
    parts = set(args.only.split(","))

    work = Path(tempfile.mkdtemp(prefix="bench-changelog-"))
    monolith_url = args.monolith_url or sqlite_url(work / "shop.sqlite3")
    service_url = args.service_url or sqlite_url(work / "catalog.sqlite3")
    fresh(monolith_url, "monolith")
    fresh(service_url, "service")
    env = {**os.environ, "MONOLITH_DATABASE_URL": monolith_url, "SHOP_VAR_DIR": str(work / "var"),
           "DJANGO_SETTINGS_MODULE": "legacy_monolith.settings"}
    os.environ.update({k: env[k] for k in ("MONOLITH_DATABASE_URL", "SHOP_VAR_DIR", "DJANGO_SETTINGS_MODULE")})
    try:
        seed(monolith_url, env, args.products)
        import django

        django.setup()
        logging.getLogger("alembic").setLevel(logging.WARNING)  # provision's migration lines
        plan = write_plan(work, service_url)
        print(f"monolith {monolith_url.split('@')[-1]} -> service {service_url.split('@')[-1]}")
        if "changelog" in parts:
            print(f"{args.writers} writers at {args.rate:g} writes/s for {args.seconds:g} s, sync every "
                  f"{args.interval} s, with pruning then without")
            pruned = changelog_run(plan, service_url, args, pruning=True, seed=1)
            baseline = changelog_run(plan, service_url, args, pruning=False, seed=2)
            report_runs(pruned, baseline, args.interval)
        if "guard" in parts:
            guard_cost(plan, args)
    finally:
        drop(service_url)
        drop(monolith_url)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
