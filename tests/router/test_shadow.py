"""The shadow's queues, in-process: bounded per route, replaced when the route's queue size changes."""

from __future__ import annotations

import asyncio

from router.addons.shadow import Exchange, ShadowJob, ShadowMirror
from router.config import parse
from router.control.state import TableHolder
from router.control.windows import Window

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


def job(n: int, windows: tuple[Window, ...] = ()) -> ShadowJob:
    return ShadowJob(route="r", backend="catalog", method="GET", path=f"/r/{n}", query=b"", headers=[], body=None,
                     primary=Exchange(200, [], b"{}", 1.0), request_id=f"r{n}", windows=windows)


def test_a_new_queue_size_replaces_the_queue_and_counts_what_waited_as_dropped() -> None:
    async def run() -> None:
        tables = TableHolder()
        tables.swap(parse(ROUTES), origin="test")
        mirror = ShadowMirror(tables, NeverAnswers(), lambda backend: backend.targets[0])
        window = mirror.windows.open()
        small = mirror._queue_for("r", 2)
        old_workers = [entry.worker for entry in mirror._queues["r"]]
        await asyncio.sleep(0)
        for n in range(2):
            small.put_nowait(job(n))
        await asyncio.sleep(0.01)  # both workers take one each and hang on the shadow backend
        small.put_nowait(job(2, (mirror.windows.base,)))
        small.put_nowait(job(3, (mirror.windows.base, window)))
        waiting = small.qsize()
        assert waiting == 2
        bigger = mirror._queue_for("r", 5)
        assert bigger is not small and bigger.maxsize == 5
        assert mirror._queue_for("r", 5) is bigger
        await asyncio.sleep(0)
        assert all(worker.cancelled() or worker.done() for worker in old_workers)
        assert mirror.figures["r"].dropped == waiting
        # Each dropped job counts in the windows its request started in, and only there.
        assert (mirror.windows.base.shadow["r"].dropped, window.shadow["r"].dropped) == (2, 1)
        await mirror.stop()

    asyncio.run(run())
