"""The shadow router that the shadow's and the metrics' tests each start (one per module)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest

from tests.router.e2e.features import DEAD, Running, router_for, routes_file, two_backends


@pytest.fixture(scope="module")
def shadow_router(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Running]:
    """Routes answered by "monolith" and mirrored to "catalog", a route with a fallback, one for error rates
    and one to a backend where nothing listens (its circuit opens after two failures)."""
    with router_for(tmp_path_factory, "shadow-router", routes_file(
        "default: monolith\nbackends:\n" + two_backends(upstreams) + textwrap.dedent(f"""\
          dead: {{targets: ["{DEAD}"], health: {{interval: 0}}, timeouts: {{connect: 0.5}},
                  circuit: {{failures: 2, reset_after: 300}}}}
        routes:
          mirror: {{path: /echo/mirror/, backend: monolith, shadow: catalog}}
          mirror-bytes: {{path: /bytes/, backend: monolith, shadow: catalog}}
          writes: {{path: /echo/writes/, backend: monolith, shadow: catalog, shadow_writes: true}}
          slow-shadow: {{path: /slow/2, match: exact, backend: monolith, shadow: catalog}}
          tight: {{path: /slow/3, match: exact, backend: monolith, shadow: {{backend: catalog, queue: 2, rate: 1000}}}}
          flaky: {{path: /status/, methods: [GET], backend: catalog, fallback: monolith}}
          rates: {{path: /status/, methods: [PUT], backend: catalog}}
          dead: {{path: /echo/dead/, backend: dead}}
        """))) as running:
        yield running
