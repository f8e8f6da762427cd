"""The changelog benchmark's load: writer threads on the monolith's catalog tables, and a sampler counting the
changelog's rows every second."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

from benchmarks.changelog_setup import scalar, seeded_ids

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
