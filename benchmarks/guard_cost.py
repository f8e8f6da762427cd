"""Claim: the ownership guard costs a monolith write little.

Single-row ``UPDATE catalog_product`` by id from one connection, with no trigger, with capture, and with
capture and the guard (the state of a split between copy and cutover), committed one by one and 500 to a
transaction; the variants alternate round by round and the medians are compared. Also shows what a legacy
writer sees once the guard refuses its write.

Part of ``benchmarks/changelog.py`` (``--only guard`` runs this alone); also runs on its own, seeding its own
monolith as that does:

    .venv/bin/python benchmarks/guard_cost.py [--products 2000] [--monolith-url URL] [--service-url URL]
        [--guard-rounds 10] [--guard-round-seconds 0.6]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.changelog_setup import add_database_options, seeded_ids, seeded_split  # noqa: E402

GUARD_BATCH = 500
GUARDED_UPDATE = "UPDATE catalog_product SET stock = stock + 1 WHERE id = ?"
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


def add_guard_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--guard-rounds", type=int, default=10)
    parser.add_argument("--guard-round-seconds", type=float, default=0.6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_options(parser)
    add_guard_options(parser)
    args = parser.parse_args()
    with seeded_split(args, "bench-guard-cost-") as (plan, _service_url):
        guard_cost(plan, args)


if __name__ == "__main__":
    main()
