"""Edits racing stock changes on one product, over real HTTP: the lost-update check shared by the monolith's
test (gunicorn) and the catalog service's (its own process).

One editor PATCHes name and price one request after the other (so "the last acknowledged edit" is well
defined) while stock changers POST +/-1 deltas to the same product from other threads. A whole-row save in
the PATCH writes back the stock it read before a concurrent delta committed, and that delta is gone.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import httpx


@dataclass
class RaceResult:
    initial_stock: int
    acknowledged_deltas: list[int] = field(default_factory=list)
    acknowledged_edits: list[tuple[str, str]] = field(default_factory=list)
    # (start, end) of every acknowledged request, to count how often the two kinds really overlapped
    edit_spans: list[tuple[float, float]] = field(default_factory=list)
    delta_spans: list[tuple[float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def expected_stock(self) -> int:
        return self.initial_stock + sum(self.acknowledged_deltas)

    @property
    def overlapping_edits(self) -> int:
        """PATCHes during which at least one stock change was acknowledged: each is a chance to lose it."""
        spans = sorted(self.delta_spans)
        return sum(1 for start, end in self.edit_spans if any(s < end and e > start for s, e in spans))

    def summary(self) -> str:
        return (f"{len(self.acknowledged_edits)} edits ({self.overlapping_edits} overlapping a stock change), "
                f"{len(self.acknowledged_deltas)} stock changes, stock {self.initial_stock} -> "
                f"expected {self.expected_stock}")


def edits_racing_stock(base_url: str, product_id: int, headers: dict[str, str], *, initial_stock: int,
                       edits: int = 80, changers: int = 3, changes: int = 120, seed: int = 3) -> RaceResult:
    result = RaceResult(initial_stock=initial_stock)
    lock = threading.Lock()
    start = threading.Barrier(changers + 1)
    path = f"/api/catalog/products/{product_id}/"

    def editor() -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            start.wait(timeout=30)
            for n in range(1, edits + 1):
                values = (f"Raced edit {n}", str(Decimal("10.00") + Decimal(n) / 100))
                began = time.monotonic()
                response = http.patch(path, json={"name": values[0], "price": values[1]})
                ended = time.monotonic()
                with lock:
                    if response.status_code == 200:
                        result.acknowledged_edits.append(values)
                        result.edit_spans.append((began, ended))
                    else:
                        result.errors.append(f"PATCH {n}: {response.status_code} {response.text[:200]}")

    def changer(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            start.wait(timeout=30)
            for n in range(changes):
                delta = rng.choice((1, -1))
                began = time.monotonic()
                response = http.post(f"{path}stock/", json={"delta": delta, "reason": f"race {index}-{n}"})
                ended = time.monotonic()
                with lock:
                    if response.status_code == 200:
                        result.acknowledged_deltas.append(delta)
                        result.delta_spans.append((began, ended))
                    else:
                        result.errors.append(f"stock {delta:+d}: {response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=editor, name="race-editor")]
    threads += [threading.Thread(target=changer, args=(i,), name=f"race-stock-{i}") for i in range(changers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if any(thread.is_alive() for thread in threads):
        result.errors.append("a racing thread hung")
    return result


def assert_nothing_lost(result: RaceResult, final: dict[str, object], *, min_overlaps: int = 5) -> None:
    assert result.errors == [], result.errors[:10]
    # Without overlaps the test would pass on the bug too: it must have raced for real.
    assert result.overlapping_edits >= min_overlaps, result.summary()
    assert final["stock"] == result.expected_stock, (
        f"stock {final['stock']}, expected {result.expected_stock}: "
        f"{final['stock'] - result.expected_stock:+d} ({result.summary()})")  # type: ignore[operator]
    assert (final["name"], final["price"]) == result.acknowledged_edits[-1], result.summary()
