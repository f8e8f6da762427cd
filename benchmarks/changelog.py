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
by one and 500 to a transaction; the variants alternate round by round and the medians are compared
(``benchmarks/guard_cost.py``, which also runs on its own).

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
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.changelog_load import Sampler, Writers  # noqa: E402
from benchmarks.changelog_setup import add_database_options, drop, scalar, seeded_split  # noqa: E402
from benchmarks.guard_cost import add_guard_options, guard_cost  # noqa: E402


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



# -- main --------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="writes per run (default 60)")
    parser.add_argument("--rate", type=float, default=200.0, help="writes per second, all writers (default 200)")
    parser.add_argument("--writers", type=int, default=2, help="writer threads (default 2)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between syncs (default 0.5)")
    add_database_options(parser)
    add_guard_options(parser)
    parser.add_argument("--only", default="changelog,guard", help="changelog, guard or both (default)")
    args = parser.parse_args()
    parts = set(args.only.split(","))

    with seeded_split(args, "bench-changelog-") as (plan, service_url):
        if "changelog" in parts:
            print(f"{args.writers} writers at {args.rate:g} writes/s for {args.seconds:g} s, sync every "
                  f"{args.interval} s, with pruning then without")
            pruned = changelog_run(plan, service_url, args, pruning=True, seed=1)
            baseline = changelog_run(plan, service_url, args, pruning=False, seed=2)
            report_runs(pruned, baseline, args.interval)
        if "guard" in parts:
            guard_cost(plan, args)


if __name__ == "__main__":
    main()
