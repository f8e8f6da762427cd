"""A copy killed with SIGKILL at several points (a real ``manage.py strangler split copy`` subprocess, with live
writes to the monolith in between) resumes from its checkpoints and ends equal to the source, no duplicate."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strangler import datasplit as ds

from .conftest import ROOT, write_plan

pytestmark = pytest.mark.slow
PRODUCTS = 3000


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded monolith database file (made once; each test copies it)."""
    base = tmp_path_factory.mktemp("monolith")
    path = base / "shop.sqlite3"
    env = {**os.environ, "MONOLITH_DATABASE_URL": f"sqlite:///{path}", "SHOP_VAR_DIR": str(base / "var"),
           "DJANGO_SECRET_KEY": "datasplit-tests"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for args in (["migrate", "-v0"], ["seed_shop", "-v0", "--products", str(PRODUCTS), "--users", "2",
                                      "--orders", "2"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=300)
    return path


def checkpoint(split: ds.Split, table: str = "products") -> str | None:
    conn = split.target.connect(autocommit=True)
    try:
        value = split.target.read_state(conn, split.plan.checkpoint_table, split.plan.name).get(f"copy:{table}")
    finally:
        conn.close()
    return value[0] if value else None


def key_of(value: str | None) -> int:
    if value is None:
        return 0
    return int(value.removeprefix("done:") or 0)


def test_killed_copy_resumes_and_verifies_clean(seeded_file: Path, target_url: str, tmp_path: Path) -> None:
    shop = tmp_path / "shop.sqlite3"
    shutil.copy(seeded_file, shop)
    plan = write_plan(tmp_path, target_url, source={"url": f"sqlite:///{shop}"})
    split = ds.open_split(plan)
    ds.provision(split)
    ds.capture(split)
    env = {**os.environ, "MONOLITH_DATABASE_URL": f"sqlite:///{shop}", "SHOP_VAR_DIR": str(tmp_path / "var"),
           "DJANGO_SECRET_KEY": "datasplit-tests"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    argv = [sys.executable, "manage.py", "strangler", "split", "copy", str(plan), "--quiet"]
    monolith = sqlite3.connect(shop, timeout=30, isolation_level=None)
    seen: list[int] = []
    try:
        # Kill once the products copy has started, then deeper in, then later again. The points are keys, not
        # distances from the last kill: on a loaded machine the kill lands late, and each run must still find
        # rows left to copy (a run that has passed the next point is killed as soon as it has made progress).
        for stop_at in (1, PRODUCTS // 4, PRODUCTS // 2):
            start = seen[-1] if seen else 0
            proc = subprocess.Popen([*argv, "--batch-size", "100", "--throttle", "1000"], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while key_of(checkpoint(split)) < max(stop_at, start + 1) and proc.poll() is None:
                assert time.monotonic() < deadline, "the copy made no progress"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert proc.returncode == -signal.SIGKILL, proc.stdout.read().decode() if proc.stdout else ""
            seen.append(key_of(checkpoint(split)))
            # Live writes while the copy is down: behind and ahead of the checkpoint.
            monolith.execute("UPDATE catalog_product SET stock = stock + 7, name = name || ' ✓' WHERE id % 97 = 0")
            monolith.execute("DELETE FROM catalog_product WHERE id IN (?, ?)", [seen[-1] - 1, seen[-1] + 50])
            monolith.execute("INSERT INTO catalog_product (sku, name, description, price, stock, is_active, "
                             "category_id, created_at, updated_at) SELECT 'LIVE-' || ?, 'live', '', 5.5, 1, 1, "
                             "MIN(id), '2024-01-01 00:00:00', '2024-01-01 00:00:00' FROM catalog_category",
                             [len(seen)])
        assert seen == sorted(seen) and seen[0] > 0 and seen[-1] < PRODUCTS + 10, seen
        done = subprocess.run([*argv, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f'"resumed_after": "{seen[-1]}"' in done.stdout
        assert ds.sync(split).lag_rows == 0
        report = ds.verify(split, chunk_size=500)
        assert report.ok, report.to_dict()
        conn = split.target.connect(autocommit=True)
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT sku) FROM products")
        count, skus = cur.fetchone()
        conn.close()
        assert count == skus == monolith.execute("SELECT COUNT(*) FROM catalog_product").fetchone()[0]
    finally:
        monolith.close()
        split.close()


def test_live_writes_during_a_throttled_copy_all_arrive(seeded_file: Path, target_url: str, tmp_path: Path) -> None:
    shop = tmp_path / "shop.sqlite3"
    shutil.copy(seeded_file, shop)
    plan = write_plan(tmp_path, target_url, source={"url": f"sqlite:///{shop}"})
    split = ds.open_split(plan)
    ds.provision(split)
    ds.capture(split)
    import threading

    stop = threading.Event()

    def writer() -> None:
        conn = sqlite3.connect(shop, timeout=30, isolation_level=None)
        n = 0
        while not stop.is_set():
            n += 1
            conn.execute("UPDATE catalog_product SET stock = stock + 1 WHERE id = ?", [(n * 37) % PRODUCTS + 1])
            conn.execute("DELETE FROM catalog_product WHERE id = ?", [(n * 53) % PRODUCTS + 1])
            conn.execute("INSERT INTO catalog_product (sku, name, description, price, stock, is_active, category_id, "
                         "created_at, updated_at) SELECT 'W-' || ?, 'w', '', 1, 1, 1, MIN(id), '2024-01-01 00:00:00', "
                         "'2024-01-01 00:00:00' FROM catalog_category", [n])
            time.sleep(0.002)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        ds.copy(split, batch_size=200, throttle=6000)
        ds.sync(split)          # while the writes go on
    finally:
        stop.set()
        thread.join()
    try:
        assert ds.sync(split).lag_rows == 0
        assert ds.verify(split).ok
    finally:
        split.close()
