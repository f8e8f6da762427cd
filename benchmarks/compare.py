"""Claim: the comparison engine compares at least 5,000 answers a second on one core (issue 6, "Done means").

The body is a realistic catalog list page: 20 products (id, sku, name, slug, description, price as a decimal
string, currency, stock, flags, category object, tags, timestamps), about 6 KB of JSON. In ONE run,
on one core (a single thread), it times:

- ``baseline``: ``orjson.loads`` of both bodies, nothing else (the floor any structural comparison pays);
- ``identical``: ``compare()`` of two byte-identical answers (the fast path);
- ``noisy-equal``: the second answer serialised with keys in another order, other ``updated_at`` values
  and another ``request_id``, with rules ignoring those (the usual shadow case: equal after the rules);
- ``one-price``: as ``noisy-equal`` plus one product's price changed (found: one difference);
- ``unordered``: the results list reversed and compared as a multiset (``unordered: [$.results]``).

It prints comparisons/s for each, the ratio against the baseline, and PASS/MISS for the target (every
comparing case at least 5,000/s).

    .venv/bin/python benchmarks/compare.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from router.compare import Response, Rules, compare  # noqa: E402

TARGET = 5000.0


def product(i: int, stamp: str) -> dict[str, Any]:
    return {
        "id": i, "sku": f"SKU-{i:05d}", "name": f"Ceramic mug {i}", "slug": f"ceramic-mug-{i}",
        "description": "Stoneware mug, glazed by hand.",
        "price": f"{10 + i}.50", "currency": "EUR", "stock": 100 - i, "is_active": True, "featured": i % 5 == 0,
        "category": {"id": 3, "slug": "kitchen"},
        "tags": ["ceramic", "kitchen", f"batch-{i % 4}"],
        "rating": 4.5, "created_at": "2024-03-01T10:00:00Z", "updated_at": stamp,
    }


def page(stamp: str, request_id: str, *, reverse: bool = False, price_of: int | None = None) -> dict[str, Any]:
    results = [product(i, f"{stamp}{i:02d}Z") for i in range(1, 21)]
    if price_of is not None:
        results[price_of]["price"] = "99.99"
    if reverse:
        results.reverse()
    return {"count": 20, "next": "/api/catalog/products/?page=2", "previous": None, "results": results,
            "request_id": request_id}


def shuffled_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shuffled_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [shuffled_keys(v) for v in value]
    return value


def rate(work: Callable[[], object], seconds: float) -> float:
    for _ in range(200):
        work()
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(100):
            work()
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per case (default: %(default)s)")
    args = parser.parse_args(argv)
    headers = [("content-type", "application/json")]
    monolith = Response(200, headers, orjson.dumps(page("2024-05-01T12:00:", "req-a")))
    noisy = Response(200, headers, orjson.dumps(shuffled_keys(page("2024-05-02T08:30:", "req-b"))))
    price = Response(200, headers, orjson.dumps(shuffled_keys(page("2024-05-02T08:30:", "req-b", price_of=7))))
    reversed_ = Response(200, headers, orjson.dumps(page("2024-05-01T12:00:", "req-a", reverse=True)))
    rules = Rules(ignore_paths=("$.results[*].updated_at", "$..request_id"))
    unordered = Rules(unordered_lists=("$.results",))

    assert compare(monolith, noisy, rules) == []
    found = compare(monolith, price, rules)
    assert [d.path for d in found] == ["$.results[7].price"], found
    assert compare(monolith, reversed_, unordered) == []
    assert [d.kind for d in compare(monolith, reversed_)] == ["order"]

    cases: list[tuple[str, Callable[[], object]]] = [
        ("baseline", lambda: (orjson.loads(monolith.body), orjson.loads(noisy.body))),
        ("identical", lambda: compare(monolith, monolith, rules)),
        ("noisy-equal", lambda: compare(monolith, noisy, rules)),
        ("one-price", lambda: compare(monolith, price, rules)),
        ("unordered", lambda: compare(monolith, reversed_, unordered)),
    ]
    print(f"body: {len(monolith.body)} bytes, 20 products; {platform.python_implementation()} "
          f"{platform.python_version()} on {platform.machine()}, one thread")
    print(f"{'case':<12} {'per second':>12} {'x baseline':>11}")
    results = {name: rate(work, args.seconds) for name, work in cases}
    base = results["baseline"]
    for name, value in results.items():
        print(f"{name:<12} {value:>12,.0f} {value / base:>10.2f}x")
    worst = min(v for k, v in results.items() if k != "baseline")
    ok = worst >= TARGET
    print(f"{'PASS' if ok else 'MISS'}: slowest comparing case {worst:,.0f}/s (target >= {TARGET:,.0f}/s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
