"""Real processes for the router's end-to-end tests: two fake backends shared by the whole session, and a
router in front of them with a plain table (tests that kill, reconfigure or overload start their own); and
``upstreams``, a pair of fake backends of a test module's own, for the feature tests' routers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from strangler.processes import ManagedProcess
from tests.router.e2e.helpers import routes_file
from tests.support.servers import running_router, running_upstream


@dataclass
class Upstream:
    name: str
    url: str
    process: ManagedProcess


@dataclass
class Router:
    url: str
    process: ManagedProcess


@pytest.fixture(scope="session")
def monolith(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    with running_upstream(tmp_path_factory.mktemp("monolith"), "monolith") as (url, process):
        yield Upstream("monolith", url, process)


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    with running_upstream(tmp_path_factory.mktemp("catalog"), "catalog") as (url, process):
        yield Upstream("catalog", url, process)


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """"monolith" and "catalog" by name, for one test module: its journals and circuits are its own."""
    with running_upstream(tmp_path_factory.mktemp("features-monolith"), "monolith") as (monolith, _), \
            running_upstream(tmp_path_factory.mktemp("features-catalog"), "catalog") as (catalog, _):
        yield {"monolith": monolith, "catalog": catalog}


@pytest.fixture(scope="session")
def router(tmp_path_factory: pytest.TempPathFactory, monolith: Upstream, catalog: Upstream) -> Iterator[Router]:
    """/api/catalog/ and /echo/catalog/ (and the exact path /ws) go to "catalog", the rest to "monolith";
    bodies up to 1 MiB."""
    config = routes_file(f"""\
        default: monolith
        backends:
          monolith: {{targets: ["{monolith.url}"], health: {{interval: 0}}}}
          catalog: {{targets: ["{catalog.url}"], health: {{interval: 0}}}}
        routes:
          catalog-api: {{path: /api/catalog/, backend: catalog}}
          catalog-echo: {{path: /echo/catalog/, backend: catalog}}
          catalog-ws: {{path: /ws, match: exact, backend: catalog}}
        """)
    with running_router(tmp_path_factory.mktemp("router"), config) as (url, process, _path):
        yield Router(url, process)
