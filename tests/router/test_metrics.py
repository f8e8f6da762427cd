"""Per-route figures the plan executor reads: in-flight requests survive a counters reset and never go
negative, whatever answered the request."""

from __future__ import annotations

import asyncio

from router.addons.metrics import Metrics
from router.config import parse
from router.control.state import TableHolder
from router.proxy.flow import Flow
from router.proxy.health import HealthRegistry

ROUTES = """
default: monolith
backends:
  monolith: {targets: http://monolith.test}
routes:
  writes: {path: /api/w/, backend: monolith}
"""


def flow_for(tables: TableHolder, path: str) -> Flow:
    table = tables.current.table
    match = table.match("POST", path)
    return Flow(method="POST", path=path, query=b"", headers=[], client="127.0.0.1", scheme="http", host="t",
                request_id="r", match=match, backend=match.backend, default_backend=table.default)


def test_in_flight_counts_requests_between_request_and_done() -> None:
    tables = TableHolder()
    tables.swap(parse(ROUTES), origin="test")
    metrics = Metrics(HealthRegistry(), tables)
    first, second = flow_for(tables, "/api/w/1"), flow_for(tables, "/api/w/2")
    asyncio.run(metrics.request(first))
    asyncio.run(metrics.request(second))
    assert metrics.snapshot()["writes"]["in_flight"] == 2
    metrics.reset()  # a new window for the rates; what is on its way is still on its way
    assert metrics.snapshot()["writes"]["in_flight"] == 2
    first.status = second.status = 200
    metrics.done(first)
    assert metrics.snapshot()["writes"]["in_flight"] == 1
    metrics.done(second)
    metrics.done(second)  # done twice, or for a flow answered before metrics saw it: no effect
    unseen = flow_for(tables, "/api/w/3")
    unseen.status = 503
    metrics.done(unseen)
    assert "in_flight" not in metrics.snapshot()["writes"]  # nothing in flight any more
    # The new window counts the requests that started after the reset: only the last one.
    assert metrics.snapshot()["writes"]["requests"] == 1
