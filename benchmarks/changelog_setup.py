"""The set-up the changelog and guard-cost benchmarks share: a seeded monolith (``manage.py migrate`` and
``seed_shop``), the catalog plan pointed at a service database, and the databases created and dropped."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


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




def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--products", type=int, default=2000, help="seeded products (default 2000)")
    parser.add_argument("--monolith-url", help="a database to create, seed and drop (default: SQLite, temporary)")
    parser.add_argument("--service-url", help="a database to create and drop (default: SQLite, temporary)")


@contextmanager
def seeded_split(args: argparse.Namespace, prefix: str) -> Iterator[tuple[Path, str]]:
    """A monolith seeded with ``args.products`` products and the catalog plan naming the service database:
    yields (plan, service URL). Both databases and the temporary directory are dropped on the way out."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
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
        yield plan, service_url
    finally:
        drop(service_url)
        drop(monolith_url)
        shutil.rmtree(work, ignore_errors=True)
