"""Claim: the data split copies, syncs and verifies 1,000,000 products within 3x of the engine's speed limit,
in under 200 MB, verify under 6 s, a sync of 10,000 changes under 2 s.

Seeds (or reuses, with --source) a SQLite monolith of N products, then for each target (SQLite, PostgreSQL,
MariaDB; a server that does not answer is skipped) runs ``manage.py strangler split`` provision, copy, sync
(after N changes: updates, inserts, deletes) and verify, each as its own process under ``/usr/bin/time -v``
(wall time and peak RSS), and, in the same run, the speed limit for the pair: ATTACH + INSERT ... SELECT
(SQLite), COPY FROM STDIN fed by sqlite3 (PostgreSQL), LOAD DATA LOCAL INFILE of a ready TSV file (MariaDB).

    .venv/bin/python benchmarks/datasplit.py [--products 1000000] [--changes 10000] [--source /tmp/x.sqlite3]
                                              [--targets sqlite,postgresql,mysql] [--profile copy]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PG = "postgresql://postgres@127.0.0.1:5432"
MY = "mysql://root@127.0.0.1:3306"
COLUMNS = ["id", "sku", "name", "description", "price", "stock", "is_active", "category_id", "created_at",
           "updated_at"]


def run(argv: list[str], env: dict[str, str], *, profile: Path | None = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS MiB, stdout) of a manage.py command under /usr/bin/time -v."""
    cmd = [PYTHON, *(["-m", "cProfile", "-o", str(profile)] if profile else []), "manage.py", *argv]
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode not in (0,):
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*?: ([\d:.]+)", done.stderr).group(1)  # type: ignore[union-attr]
    seconds = 0.0
    for part in wall.split(":"):
        seconds = seconds * 60 + float(part)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))  # type: ignore[union-attr]
    return seconds, rss // 1024, done.stdout


def seed(path: Path, products: int) -> None:
    env = {**os.environ, "MONOLITH_DATABASE_URL": f"sqlite:///{path}", "SHOP_VAR_DIR": str(path.parent / "var")}
    t0 = time.monotonic()
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([PYTHON, "manage.py", "seed_shop", "-v0", "--products", str(products), "--users", "10",
                    "--orders", "10"], cwd=ROOT, env=env, check=True)
    print(f"seeded {products:,} products in {time.monotonic() - t0:.0f}s -> {path}")


def answers(kind: str) -> bool:
    try:
        if kind == "postgresql":
            import psycopg

            psycopg.connect(f"{PG}/postgres", connect_timeout=3).close()
        elif kind == "mysql":
            import pymysql

            pymysql.connect(host="127.0.0.1", user="root", connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        print(f"skipping {kind}: no server answers ({exc})")
        return False
    return True


def target_url(kind: str, work: Path, tag: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{work / f'{tag}.sqlite3'}"
    name = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
    return f"{PG}/{name}" if kind == "postgresql" else f"{MY}/{name}"


def drop(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    from strangler.datasplit.engines import open_engine

    open_engine(url, "bench").drop()


def write_plan(work: Path, url: str, tag: str) -> Path:
    doc = yaml.safe_load((ROOT / "migration_plans" / "catalog.yaml").read_text())
    doc["service"].update(database_url_env=f"BENCH_UNSET_{tag.upper()}", default_database_url=url,
                          migrations=str(ROOT / "extracted" / "catalog" / "migrations"))
    path = work / f"{tag}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def make_changes(source: Path, n: int) -> None:
    """n changelog entries: 80% updates, 10% deletes, 10% inserts, spread over the table."""
    conn = sqlite3.connect(source, isolation_level=None)
    top = conn.execute("SELECT MAX(id) FROM catalog_product").fetchone()[0]
    step = max(top // n, 1)
    conn.execute("BEGIN")
    conn.execute("UPDATE catalog_product SET stock = stock + 1, updated_at = '2030-01-01 00:00:00.123456' "
                 "WHERE id IN (SELECT id FROM catalog_product WHERE id % ? = 0 LIMIT ?)", [step, n * 8 // 10])
    conn.execute("DELETE FROM catalog_product WHERE id IN (SELECT id FROM catalog_product WHERE id % ? = 1 LIMIT ?)",
                 [step, n // 10])
    cat = conn.execute("SELECT MIN(id) FROM catalog_category").fetchone()[0]
    conn.executemany("INSERT INTO catalog_product (sku, name, description, price, stock, is_active, category_id, "
                     "created_at, updated_at) VALUES (?, 'bench', '', 9.99, 1, 1, ?, '2030-01-01 00:00:00', "
                     "'2030-01-01 00:00:00')", [(f"B-{uuid.uuid4().hex[:20]}", cat) for _ in range(n // 10)])
    conn.execute("COMMIT")
    conn.close()


def limit(kind: str, source: Path, work: Path, env: dict[str, str]) -> float:
    """Seconds to move catalog_product into an empty provisioned table the engine's fastest way."""
    url = target_url(kind, work, "limit")
    plan = write_plan(work, url, "limit")
    run(["strangler", "split", "provision", str(plan), "--quiet"], env)
    cols = ", ".join(COLUMNS)
    try:
        if kind == "sqlite":
            conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("ATTACH DATABASE ? AS src", [str(source)])
            t0 = time.monotonic()
            conn.execute("BEGIN")
            conn.execute(f"INSERT INTO products ({cols}) SELECT {cols} FROM src.catalog_product")
            conn.execute("COMMIT")
            seconds = time.monotonic() - t0
            conn.close()
        elif kind == "postgresql":
            import psycopg

            src = sqlite3.connect(source)
            with psycopg.connect(url) as conn:
                conn.execute("SET TIME ZONE 'UTC'")
                conn.execute("SET session_replication_role = replica")  # as the copy does: no FK checks
                t0 = time.monotonic()
                cur = src.execute(f"SELECT {cols} FROM catalog_product")
                with conn.cursor().copy(f"COPY products ({cols}) FROM STDIN") as cp:
                    while rows := cur.fetchmany(10000):
                        for row in rows:
                            cp.write_row(row)
                conn.commit()
                seconds = time.monotonic() - t0
        else:
            import pymysql

            src = sqlite3.connect(source)
            tsv = Path(tempfile.mkstemp(suffix=".tsv")[1])
            with tsv.open("w", encoding="utf-8") as fh:
                for row in src.execute(f"SELECT {cols} FROM catalog_product"):
                    fh.write("\t".join("\\N" if v is None else str(v).replace("\\", "\\\\").replace("\t", "\\t")
                                       .replace("\n", "\\n") for v in row) + "\n")
            db = url.rsplit("/", 1)[1]
            conn = pymysql.connect(host="127.0.0.1", user="root", database=db, local_infile=True, charset="utf8mb4")
            with conn.cursor() as cur:
                cur.execute("SET SESSION foreign_key_checks = 0, time_zone = '+00:00'")
                t0 = time.monotonic()
                cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE products CHARACTER SET utf8mb4 ({cols})", [str(tsv)])
                conn.commit()
                seconds = time.monotonic() - t0
            conn.close()
            tsv.unlink()
    finally:
        drop(url)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--source", type=Path, help="a seeded monolith SQLite file to reuse (copied first)")
    parser.add_argument("--targets", default="sqlite,postgresql,mysql")
    parser.add_argument("--profile", choices=["copy", "sync", "verify"], help="cProfile that operation")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-datasplit-"))
    source = work / "shop.sqlite3"
    if args.source:
        subprocess.run(["cp", str(args.source), str(source)], check=True)
    else:
        seed(source, args.products)
    rows = sqlite3.connect(source).execute("SELECT COUNT(*) FROM catalog_product").fetchone()[0]
    env = {**os.environ, "MONOLITH_DATABASE_URL": f"sqlite:///{source}", "SHOP_VAR_DIR": str(work / "var")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    results = []
    for kind in args.targets.split(","):
        if not answers(kind):
            continue
        url = target_url(kind, work, "catalog")
        plan = str(write_plan(work, url, "catalog"))
        try:
            run(["strangler", "split", "provision", plan, "--quiet"], env)
            run(["strangler", "split", "capture", plan, "--quiet"], env)
            def prof(op: str, kind: str = kind) -> Path | None:
                return work / f"{kind}-{op}.prof" if args.profile == op else None

            copy_s, copy_rss, out = run(["strangler", "split", "copy", plan, "--json"], env, profile=prof("copy"))
            copy_own = json.loads(out)["seconds"]
            make_changes(source, args.changes)
            sync_s, sync_rss, out = run(["strangler", "split", "sync", plan, "--json"], env, profile=prof("sync"))
            sync = json.loads(out)
            verify_s, verify_rss, out = run(["strangler", "split", "verify", plan, "--json"], env,
                                            profile=prof("verify"))
            verified = json.loads(out)
            assert verified["ok"], out
            run(["strangler", "split", "uncapture", plan, "--quiet", "--drop-changelog"], env)
        finally:
            drop(url)
        lim = limit(kind, source, work, env)
        results.append((kind, copy_own, copy_s, copy_rss, lim, sync, sync_rss, verified["seconds"], verify_s,
                        verify_rss))
        if args.profile:
            import pstats

            pstats.Stats(str(work / f"{kind}-{args.profile}.prof")).sort_stats("cumulative").print_stats(25)

    print(f"\n{rows:,} products, SQLite monolith -> target; times are the operation's own (process wall time in "
          "brackets, with Django start-up); peak RSS per process")
    print(f"{'target':<11} {'copy':>22} {'limit':>8} {'ratio':>6} {'rss':>7} | {'sync ' + str(args.changes):>16} "
          f"{'rss':>7} | {'verify':>16} {'rss':>7}")
    for kind, copy_own, copy_s, copy_rss, lim, sync, sync_rss, ver_own, ver_s, ver_rss in results:
        print(f"{kind:<11} {copy_own:6.2f}s ({copy_s:5.1f}s) {rows / copy_own / 1000:4.0f}k/s {lim:7.2f}s "
              f"{copy_own / lim:5.2f}x {copy_rss:5d}MB | {sync['seconds']:5.2f}s ({sync['changes']:,}) {sync_rss:5d}MB"
              f" | {ver_own:5.2f}s ({ver_s:5.1f}s) {ver_rss:5d}MB")
    print("targets: copy <= 3x limit, peak RSS < 200 MB, verify < 6 s, sync of 10,000 changes < 2 s")


if __name__ == "__main__":
    main()
