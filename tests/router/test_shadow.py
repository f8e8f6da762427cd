"""The shadow's queues, in-process: bounded per route, replaced when the route's queue size changes."""

from __future__ import annotations

import asyncio

from router.config import parse
from router.shadow import ShadowMirror
from router.state import TableHolder

ROUTES = """
default: monolith
backends:
  monolith: {targets: http://monolith.test}
  catalog: {targets: http://catalog.test}
routes:
  r: {path: /r/, backend: monolith, shadow: {backend: catalog, queue: 2}}
"""


class NeverAnswers:
    async def handle_request(self, request):  # noqa: ANN001, ANN201 - the transport interface
        await asyncio.sleep(3600)

    async def aclose(self) -> None:
        return None


def test_a_new_queue_size_replaces_the_queue_and_counts_what_waited_as_dropped() -> None:
    async def run() -> None:
        tables = TableHolder()
        tables.swap(parse(ROUTES), origin="test")
        mirror = ShadowMirror(tables, NeverAnswers(), lambda backend: backend.targets[0])
        small = mirror._queue_for("r", 2)
        old_workers = [entry.worker for entry in mirror._queues["r"]]
        await asyncio.sleep(0)
        for _ in range(2):
            small.put_nowait(object())  # type: ignore[arg-type]
        await asyncio.sleep(0.01)  # both workers take one each and hang on the shadow backend
        for _ in range(2):
            small.put_nowait(object())  # type: ignore[arg-type]
        waiting = small.qsize()
        assert waiting == 2
        bigger = mirror._queue_for("r", 5)
        assert bigger is not small and bigger.maxsize == 5
        assert mirror._queue_for("r", 5) is bigger
        await asyncio.sleep(0)
        assert all(worker.cancelled() or worker.done() for worker in old_workers)
        assert mirror.figures["r"].dropped == waiting
        await mirror.stop()

    asyncio.run(run())
