"""Claim: ``seed_shop`` writes a million products in constant memory.

Runs ``python manage.py seed_shop --products N --users 1000 --orders 10000 --reset`` under ``/usr/bin/time -v``
against a fresh SQLite file under /tmp and, when PostgreSQL answers at 127.0.0.1:5432 as user postgres, against a
fresh PostgreSQL database. Each backend is measured twice in the same run: a baseline (100,000 products) and the
full size (1,000,000 products). It prints wall time, rows/s and peak RSS for each, and the ratio of the peak RSS
at full size to the baseline's: a ratio near 1 means memory does not grow with the product count.

    .venv/bin/python benchmarks/seed_shop.py [--products 1000000] [--baseline-products 100000] [--no-postgres]

Exits 1 when the memory ratio exceeds --max-rss-ratio (default 1.5).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TIME = "/usr/bin/time"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
COUNT_ROWS = (
    "from legacy_monolith.seeding import SHOP_MODELS; "
    "print(sum(m.objects.count() for m in SHOP_MODELS))"
)


@dataclass
class Measurement:
    backend: str
    products: int
    command: str
    elapsed_s: float
    peak_rss_kb: int
    rows: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.elapsed_s if self.elapsed_s else 0.0


def _wall_seconds(text: str) -> float:
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:23.45" or "1:02:03"
    value = re.search(r"Elapsed \(wall clock\) time.*?: ([\d:.]+)", text).group(1)
    seconds = 0.0
    for part in value.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _peak_rss_kb(text: str) -> int:
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - fixed argv
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def measure(backend: str, database_url: str, var_dir: Path, products: int, users: int, orders: int) -> Measurement:
    env = {**os.environ, "MONOLITH_DATABASE_URL": database_url, "SHOP_VAR_DIR": str(var_dir),
           "DJANGO_SECRET_KEY": "benchmark-only-" + uuid.uuid4().hex}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    _manage(env, "migrate", "-v0")
    argv = [PYTHON, "manage.py", "seed_shop", "--products", str(products), "--users", str(users),
            "--orders", str(orders), "--reset", "-v0"]
    done = subprocess.run(  # noqa: S603 - fixed argv
        [TIME, "-v", *argv], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"{backend}: seed_shop failed ({done.returncode}):\n{done.stderr[-3000:]}")
    rows = int(_manage(env, "shell", "-v0", "-c", COUNT_ROWS).strip())
    command = f"MONOLITH_DATABASE_URL={database_url} {TIME} -v python manage.py " + " ".join(argv[2:])
    return Measurement(backend, products, command, _wall_seconds(done.stderr), _peak_rss_kb(done.stderr), rows)


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - any failure means "no PostgreSQL to measure"
        return False


def run_sqlite(sizes: list[int], users: int, orders: int, workdir: Path) -> list[Measurement]:
    results = []
    for products in sizes:
        path = workdir / f"seed_{products}.sqlite3"
        results.append(measure("sqlite", f"sqlite:///{path}", workdir / "var", products, users, orders))
        path.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return results


def run_postgres(sizes: list[int], users: int, orders: int, workdir: Path) -> list[Measurement]:
    import psycopg

    results = []
    for products in sizes:
        name = f"bench_seed_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"postgresql://postgres@127.0.0.1:5432/{name}"
            results.append(measure("postgresql", url, workdir / "var", products, users, orders))
        finally:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--baseline-products", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--max-rss-ratio", type=float, default=1.5)
    args = parser.parse_args()

    if not Path(TIME).exists():
        sys.exit(f"{TIME} is missing: apt-get install time")
    sizes = [args.baseline_products, args.products]
    print(f"seed_shop benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, {os.cpu_count()} CPUs, "
          f"python {sys.version.split()[0]}")
    workdir = Path(tempfile.mkdtemp(prefix="seed_bench_", dir="/tmp"))
    try:
        results = run_sqlite(sizes, args.users, args.orders, workdir)
        if not args.no_postgres and postgres_answers():
            results += run_postgres(sizes, args.users, args.orders, workdir)
        elif not args.no_postgres:
            print("PostgreSQL does not answer at 127.0.0.1:5432 as postgres; measured SQLite only.")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    worst = 0.0
    for m in results:
        print(f"\n[{m.backend}] {m.command}\n  elapsed {m.elapsed_s:.2f} s, {m.rows:,} rows, "
              f"{m.rows_per_s:,.0f} rows/s, peak RSS {m.peak_rss_kb:,} kB ({m.peak_rss_kb / 1024:.1f} MiB)")
    for backend in dict.fromkeys(m.backend for m in results):
        base, full = [m for m in results if m.backend == backend]
        ratio = full.peak_rss_kb / base.peak_rss_kb
        worst = max(worst, ratio)
        print(f"\n[{backend}] products x{full.products / base.products:.0f}: peak RSS ratio {ratio:.2f} "
              f"({base.peak_rss_kb:,} kB -> {full.peak_rss_kb:,} kB), time ratio "
              f"{full.elapsed_s / base.elapsed_s:.2f}")
    verdict = "flat" if worst <= args.max_rss_ratio else "GROWS"
    print(f"\nmemory: {verdict} (worst ratio {worst:.2f}, limit {args.max_rss_ratio})")
    return 0 if worst <= args.max_rss_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
