"""A plan that moves many routes (issue 14), run by the real executor against a real router (router_thread.py,
in a thread, fake backends) and a real data split (the Django test database as the monolith, a SQLite service
database): a table with two URL prefixes, so two reads routes and two writes routes.

Shadow mirrors both reads routes and its gate counts them together; the canary moves a share of both; the
cutover freezes both writes routes and fences both reads routes under its lease, then moves all four; rollback
brings all four back. An executor killed between the switch of the first route and the second leaves a lease
whose ``on_expiry`` moves every route once it lapses, and the run again (or a rollback) puts every route
where the owner of the data says. The kill is simulated in-process: the crash point raises, and the dead
executor's lease stops being renewed (its heartbeat dies with it), as after a SIGKILL
(tests/e2e/test_cutover_crashes.py kills real processes at these points, for one route of each kind)."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from router.config import parse_data
from strangler import crashpoints
from strangler import datasplit as ds
from strangler.datasplit import ownership
from strangler.plans import cutover as cutover_module
from strangler.plans.executor import Executor
from strangler.plans.lease import Lease
from strangler.plans.state import StateStore

from .conftest import ROOT, catalog_doc
from .router_thread import TOKEN_ENV, RouterServer, serve

pytestmark = pytest.mark.slow

READS = ["products-reads", "categories-reads"]
WRITES = ["products-writes", "categories-writes"]
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
ROUTES = {
    "default": "monolith",
    "admin": {"token_env": TOKEN_ENV},
    "parity": {"store": None},
    "backends": {"monolith": {"targets": "http://monolith.test", "health": {"interval": 0}},
                 "catalog": {"targets": "http://catalog.test", "health": {"interval": 0}}},
    "routes": {"products-reads": {"path": "/api/catalog/products/", "backend": "monolith", "methods": ["GET"]},
               "products-writes": {"path": "/api/catalog/products/", "backend": "monolith", "methods": WRITE_METHODS},
               "categories-reads": {"path": "/api/catalog/categories/", "backend": "monolith", "methods": ["GET"]},
               "categories-writes": {"path": "/api/catalog/categories/", "backend": "monolith",
                                     "methods": WRITE_METHODS},
               "orders-writes": {"path": "/api/orders/", "backend": "monolith", "methods": WRITE_METHODS}},
}
LEASE_SECONDS = 0.6
STEPS = ["provision", "capture", "copy", "sync", "verify",
         {"shadow": {"min_requests": 20, "max_mismatch_rate": 0.05, "timeout": 10, "poll": 0.02}},
         {"canary": {"percent": 10, "min_requests": 10, "max_error_rate": 0.01, "timeout": 10, "poll": 0.02}},
         {"cutover": {"freeze_seconds": 30, "lease_seconds": LEASE_SECONDS}}]


class Killed(BaseException):
    """The executor's death at a crash point (nothing of it runs after: no except clause takes it)."""


class Run:
    """The executor of the two-prefix plan, with the traffic its gates wait for and where its routes stand."""

    def __init__(self, server: RouterServer, plan: Path, state: StateStore) -> None:
        self.server, self.plan, self.state = server, plan, state
        self.said: list[str] = []
        self.leases: list[Lease] = []  # every lease an executor took (a dead one's stops renewing)

    def say(self, line: str) -> None:
        """The executor's progress lines; a gate's first one is when the traffic it waits for arrives."""
        self.said.append(line)
        if line == "shadow: 0/20 compared, 0 different":
            self.server.compared(READS[0], equal=12)
            self.server.compared(READS[1], equal=7, different=1)
        elif line == "canary-10: 0/10 requests on catalog":
            for route in READS:
                self.server.feed(route, "catalog", count=6, ms=5.0)
                self.server.feed(route, "monolith", count=30, ms=5.0)

    def executor(self) -> Executor:
        return Executor(self.plan, say=self.say, state=self.state)

    def placed(self) -> dict[str, tuple[str, float | None, str | None]]:
        """Each route of the plan (and the one it leaves alone): (backend, canary share, shadow's backend)."""
        return {name: (route["backend"], route["canary"], route["shadow"])
                for name, route in self.server.routes().items()}

    def owner(self) -> str:
        split = ds.open_split(self.plan)
        try:
            return ownership.read(split).state
        finally:
            split.close()


MONOLITH = ("monolith", None, None)
SERVICE = ("catalog", None, None)


def everywhere(reads: tuple[str, float | None, str | None], writes: tuple[str, float | None, str | None]
               ) -> dict[str, tuple[str, float | None, str | None]]:
    return {**dict.fromkeys(READS, reads), **dict.fromkeys(WRITES, writes), "orders-writes": MONOLITH}


@pytest.fixture(scope="module")
def server() -> Iterator[RouterServer]:
    with serve(ROUTES) as running:
        yield running


@pytest.fixture
def run(transactional_db: None, server: RouterServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """The catalog plan moving two prefixes, its data split between the test database and a SQLite file, the
    router's table as the routes file has it; the executor's leases recorded."""
    server.router.app.tables.swap(parse_data(ROUTES, source="test"), origin="test")
    server.router.metrics.reset()
    call_command("seed_shop", "--products", "30", "--users", "2", "--orders", "2", "-v", "0")
    doc = copy.deepcopy(catalog_doc())
    doc["service"].update(database_url_env=f"STRANGLER_TEST_UNSET_{uuid.uuid4().hex[:8].upper()}",
                          default_database_url=f"sqlite:///{tmp_path / 'catalog.sqlite3'}",
                          migrations=str(ROOT / "extracted" / "catalog" / "migrations"))
    doc["router"].update(admin_url=server.url, token_env=TOKEN_ENV)
    doc["endpoints"] = {"reads": READS, "writes": WRITES}
    doc["steps"] = copy.deepcopy(STEPS)
    del doc["hooks"]  # the catalog gateway is the shop's, not this table's
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    running = Run(server, plan, StateStore(tmp_path / "state.sqlite3"))

    class Recorded(Lease):
        def acquire(self) -> dict[str, Any]:
            running.leases.append(self)
            return super().acquire()

    monkeypatch.setattr(cutover_module, "Lease", Recorded)
    try:
        yield running
    finally:
        for lease in running.leases:
            lease.abandon()
        for lease in list(server.router.leases.live):
            server.router.leases.release(lease)
        split, back = ds.open_split(plan), ds.open_split(plan, reverse=True)
        try:
            for side in ownership.SIDES:
                ownership.remove(split, side)
            ds.uncapture(split, drop_changelog=True)
            ds.uncapture(back, drop_changelog=True)
        finally:
            split.close()
            back.close()


def kill_at(monkeypatch: pytest.MonkeyPatch, run: Run, point: str,
            seen: Callable[[], None] | None = None) -> None:
    """The executor dies at crash point ``point``: ``seen`` looks at the world there, then its leases stop."""
    reached = crashpoints.reached

    def die(name: str) -> None:
        reached(name)
        if name == point:
            if seen is not None:
                seen()
            for lease in run.leases:
                lease.abandon()
            raise Killed(point)

    monkeypatch.setattr(crashpoints, "reached", die)


def lapse(run: Run) -> None:
    """Waits out the dead executor's lease: the router then applies its on_expiry (on the next look)."""
    time.sleep(LEASE_SECONDS * 2)
    run.server.routes()
    assert run.server.router.leases.live == {}


def test_every_route_moves_on_cutover_and_comes_back_on_rollback(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    executor = run.executor()
    assert run.placed() == everywhere(MONOLITH, MONOLITH)

    outcome = executor.run("shadow", yes=True)
    assert outcome.ok, outcome.message
    assert run.placed() == everywhere(("monolith", None, "catalog"), MONOLITH)
    shadow = run.state.get("catalog").figures["shadow"]
    assert (shadow["compared"], shadow["different"]) == (20, 1)  # both routes' comparisons, together
    assert {route: f["compared"] for route, f in shadow["routes"].items()} == {READS[0]: 12, READS[1]: 8}

    outcome = executor.run("canary-10", yes=True)
    assert outcome.ok, outcome.message
    at_canary = everywhere(("catalog", 10, None), MONOLITH)
    assert run.placed() == at_canary
    assert run.state.get("catalog").figures["canary-10"]["service"]["requests"] == 12  # 6 on each route

    frozen: list[tuple[tuple[str, ...], tuple[str, ...]]] = []

    def lease_at_freeze(name: str) -> None:
        if name == "cutover.after_freeze":
            frozen.extend((lease.freeze, lease.fence) for lease in run.server.router.leases.live.values())

    reached = crashpoints.reached
    monkeypatch.setattr(crashpoints, "reached", lambda name: (reached(name), lease_at_freeze(name)))
    outcome = executor.run(yes=True)
    assert outcome.ok, outcome.message
    assert frozen == [(tuple(WRITES), tuple(READS))]  # every writes route frozen, every reads route fenced
    assert run.placed() == everywhere(SERVICE, SERVICE)
    assert run.owner() == "service" and run.server.router.leases.live == {}

    outcome = executor.rollback("canary-10")
    assert outcome.ok, outcome.message
    assert run.placed() == at_canary  # the readers back at the share that held, the writes on the monolith
    assert run.owner() == "monolith"
    outcome = executor.rollback("verify")
    assert outcome.ok, outcome.message
    assert run.placed() == everywhere(MONOLITH, MONOLITH)


@pytest.mark.parametrize("then", ["resume", "rollback"])
def test_a_kill_between_two_routes_of_the_cutovers_switch(run: Run, monkeypatch: pytest.MonkeyPatch,
                                                          then: str) -> None:
    executor = run.executor()
    assert executor.run("canary-10", yes=True).ok
    at_kill: dict[str, Any] = {}
    # The first route the switch moves (writes first); the second still stands where it was.
    kill_at(monkeypatch, run, f"cutover.switched.{WRITES[0]}", lambda: at_kill.update(run.placed()))
    with pytest.raises(Killed):
        executor.run(yes=True)
    assert at_kill[WRITES[0]] == SERVICE and at_kill[WRITES[1]] == MONOLITH
    assert at_kill[READS[0]] == at_kill[READS[1]] == ("catalog", 10, None)
    assert run.state.get("catalog").running == "do:cutover"

    lapse(run)  # the lease's on_expiry: every route to the service, which owns the data
    assert run.placed() == everywhere(SERVICE, SERVICE)
    assert run.owner() == "service"

    monkeypatch.setattr(crashpoints, "reached", lambda name: None)
    if then == "resume":
        outcome = run.executor().run(yes=True)
        assert outcome.ok and outcome.position == "cutover", outcome.message
        assert run.placed() == everywhere(SERVICE, SERVICE)
        assert run.owner() == "service"
    else:
        outcome = run.executor().rollback("canary-10")
        assert outcome.ok and outcome.position == "canary-10", outcome.message
        assert run.placed() == everywhere(("catalog", 10, None), MONOLITH)
        assert run.owner() == "monolith"
    assert run.server.router.leases.live == {}


def test_a_kill_between_two_routes_of_the_rollbacks_switch(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    executor = run.executor()
    assert executor.run(yes=True).ok
    assert run.placed() == everywhere(SERVICE, SERVICE)
    at_kill: dict[str, Any] = {}
    kill_at(monkeypatch, run, f"rollback.switched.{WRITES[0]}", lambda: at_kill.update(run.placed()))
    with pytest.raises(Killed):
        executor.rollback("canary-10")
    assert at_kill[WRITES[0]] == MONOLITH and at_kill[WRITES[1]] == SERVICE
    assert run.state.get("catalog").running == "undo:cutover"

    lapse(run)  # on_expiry: every route where the monolith's ownership puts it
    assert run.placed() == everywhere(("catalog", 10, None), MONOLITH)
    assert run.owner() == "monolith"

    monkeypatch.setattr(crashpoints, "reached", lambda name: None)
    outcome = run.executor().rollback("verify")
    assert outcome.ok and outcome.position == "verify", outcome.message
    assert run.placed() == everywhere(MONOLITH, MONOLITH)
    assert run.owner() == "monolith" and run.server.router.leases.live == {}
