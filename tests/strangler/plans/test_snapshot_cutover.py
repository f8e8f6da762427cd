"""A plan with one table the service takes over and one snapshot it only reads (``snapshot: true``), run by the real
executor through its real cutover sub-steps, rollback and decommission, against a real router (router_thread.py)
and real databases of every kind (a monolith and a service database of the test's own, both SQLite, PostgreSQL
or MariaDB: tests/strangler/datasplit/snapshots.py).

Through the cutover the monolith keeps writing its snapshot table (the guard never refuses it, also while the
moved table is refused mid-handover), the final sync brings the service's copy up to date, and the gate verifies
the moved table only; afterwards the monolith's writes to the snapshot reach the service by the forward sync
while the service's writes to the moved table flow back, and the snapshot never does; rollback leaves the
snapshot as it was; an executor SIGKILLed at a cutover point (``STRANGLER_CRASH_AT``) and run again leaves it
writable on the monolith; the decommission keeps feeding it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from router.config import parse_data
from strangler import crashpoints
from strangler import datasplit as ds
from strangler.datasplit import ownership
from strangler.plans.executor import Executor
from strangler.plans.state import StateStore
from tests.strangler.datasplit.conftest import require
from tests.strangler.datasplit.snapshots import INVOICES, PARCELS, PLAN_NAME, World, make_world

from .conftest import ROOT
from .router_thread import TOKEN_ENV, RouterServer, serve

pytestmark = pytest.mark.slow

WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
ROUTES = {
    "default": "monolith",
    "admin": {"token_env": TOKEN_ENV},
    "parity": {"store": None},
    "backends": {"monolith": {"targets": "http://monolith.test", "health": {"interval": 0}},
                 "billing": {"targets": "http://billing.test", "health": {"interval": 0}}},
    "routes": {"billing-reads": {"path": "/api/billing/", "backend": "monolith", "methods": ["GET"]},
               "billing-writes": {"path": "/api/billing/", "backend": "monolith", "methods": WRITE_METHODS}},
}
LEASE_SECONDS = 0.6
STEPS = ["provision", "capture", "copy", "sync", "verify",
         {"cutover": {"freeze_seconds": 60, "lease_seconds": LEASE_SECONDS, "max_sync_rounds": 3}}, "decommission"]
REFUSED_INVOICE = "read-only: table billing_invoice is owned by the service"
REFUSED_PARCEL = "read-only: table parcels is owned by the monolith"


@dataclass
class Run:
    world: World
    server: RouterServer
    plan: Path
    state: StateStore

    def executor(self) -> Executor:
        return Executor(self.plan, say=lambda line: None, state=self.state)

    def owner(self) -> str:
        split = ds.open_split(self.plan)
        try:
            return ownership.read(split).state
        finally:
            split.close()

    def placed(self) -> dict[str, str]:
        return {name: route["backend"] for name, route in self.server.routes().items()}


@pytest.fixture(scope="module")
def server() -> Iterator[RouterServer]:
    with serve(ROUTES) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def run(request: pytest.FixtureRequest, server: RouterServer, tmp_path: Path) -> Iterator[Run]:
    require(request.param)
    server.router.app.tables.swap(parse_data(ROUTES, source="test"), origin="test")
    with make_world(request.param, tmp_path) as world:
        plan = world.write_plan(steps=STEPS, router={"admin_url": server.url, "token_env": TOKEN_ENV,
                                                     "service_backend": "billing"})
        running = Run(world, server, plan, StateStore(tmp_path / "state.sqlite3"))
        try:
            yield running
        finally:
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


def writes(run: Run, *, snapshot_to: str, invoice_to: str | None = None, parcel: int = 1, invoice: int = 1) -> None:
    """The monolith writes its parcel (always taken); and its invoice, refused while the service owns it."""
    world = run.world
    world.mono("UPDATE shipping_parcel SET status = ? WHERE id = ?", [snapshot_to, parcel])
    assert world.mono("SELECT status FROM shipping_parcel WHERE id = ?", [parcel]) == [(snapshot_to,)]
    if invoice_to is not None:
        with pytest.raises(Exception, match=REFUSED_INVOICE):
            world.mono("UPDATE billing_invoice SET status = ? WHERE id = ?", [invoice_to, invoice])


def service_refuses_its_snapshot(run: Run) -> None:
    with pytest.raises(Exception, match=REFUSED_PARCEL):
        run.world.svc("UPDATE \"parcels\" SET \"status\" = 'written by the service' WHERE \"id\" = 8")


def test_cutover_and_rollback_hand_over_the_moved_table_and_leave_the_snapshot_the_monoliths(
        run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    world = run.world
    assert run.executor().run("verify", yes=True).ok
    assert world.parcels("service") == world.parcels("monolith")
    service_refuses_its_snapshot(run)

    seen: list[str] = []
    slices: list[str] = []

    def during(name: str) -> None:
        if name == "cutover.after_monolith_refuses":  # mid-handover: invoices refused, parcels taken
            writes(run, snapshot_to="picked up", invoice_to="mid-handover", parcel=1)
            seen.append(name)
        elif name == "sync.after_slice" and seen == ["cutover.after_monolith_refuses"]:  # the final sync's slices
            # Shipping goes on writing under the freeze: the final sync need not chase the snapshot's lag to zero.
            world.mono("UPDATE shipping_parcel SET carrier = ? WHERE id = 6", [f"slice {len(slices)}"])
            slices.append(name)
        elif name == "cutover.after_final_sync":  # written after the final sync: the gate must not count it
            writes(run, snapshot_to="after the final sync", parcel=2)
            seen.append(name)
        elif name == "cutover.after_switch_point":
            writes(run, snapshot_to="after the switch point", invoice_to="after", parcel=3)
            seen.append(name)

    reached = crashpoints.reached
    monkeypatch.setattr(crashpoints, "reached", lambda name: (reached(name), during(name)))
    outcome = run.executor().run("cutover", yes=True)
    monkeypatch.setattr(crashpoints, "reached", reached)
    assert outcome.ok, outcome.message
    assert seen == ["cutover.after_monolith_refuses", "cutover.after_final_sync", "cutover.after_switch_point"]
    assert run.owner() == "service" and run.placed() == {"billing-reads": "billing", "billing-writes": "billing"}
    figures = run.state.get(PLAN_NAME).figures["cutover"]
    assert len(slices) == 1  # one round: the moved table was at zero lag, the snapshot's lag is the follower's
    assert figures["final_sync"]["lag_rows"] == figures["final_sync"]["snapshot_lag_rows"] == 1
    assert [t["target"] for t in figures["verify"]["tables"]] == [INVOICES[1]]
    assert figures["reverse_capture"]["tables"] == {INVOICES[1]: True}
    assert figures["snapshots"]["tables"] == [PARCELS[0]]
    # The final sync carried the write made mid-handover; the later ones wait for the forward sync.
    service = dict((r[0], r[3]) for r in world.parcels("service"))
    assert (service[1], service[2], service[3]) == ("picked up", "pending", "pending")

    # After the cutover: each side writes what it owns; the monolith its parcels, the service its invoices.
    writes(run, snapshot_to="delivered", invoice_to="refused", parcel=4, invoice=4)
    service_refuses_its_snapshot(run)
    world.svc("UPDATE \"invoices\" SET \"status\" = 'void' WHERE \"id\" = 4")
    executor = run.executor()
    assert executor.sync_direction() == "reverse" and executor.snapshot_sync()
    executor.follow(interval=0, rounds=1)  # the reverse sync, and the snapshots' forward one
    assert world.invoices("monolith") == world.invoices("service")
    assert world.mono("SELECT status FROM billing_invoice WHERE id = 4") == [("void",)]
    assert world.parcels("service") == world.parcels("monolith")
    live = executor.status()["live"]
    assert live["sync"]["direction"] == "reverse"
    assert live["snapshots"] == {"tables": [PARCELS[0]], "direction": "forward", "lag_rows": 0}
    assert live["ownership"]["snapshots"] == {"monolith": {PARCELS[0]: None}, "service": {PARCELS[1]: "monolith"}}
    back = ds.open_split(run.plan, reverse=True)
    try:  # nothing of the snapshot is captured on the service's side
        assert [t["source"] for t in ds.status(back)["tables"]] == [INVOICES[1]]
        conn = back.source.connect(autocommit=True)
        try:
            assert not back.source.capture_installed(conn, back.plan.changelog_table, PARCELS[1])
        finally:
            conn.close()
    finally:
        back.close()

    # Rollback: the invoices are the monolith's again; the snapshot is as the monolith left it.
    before = world.parcels("monolith")
    outcome = run.executor().rollback("verify")
    assert outcome.ok, outcome.message
    assert run.owner() == "monolith" and run.placed() == {"billing-reads": "monolith", "billing-writes": "monolith"}
    assert world.parcels("monolith") == before
    world.mono("UPDATE billing_invoice SET status = 'paid' WHERE id = 4")
    writes(run, snapshot_to="returned", parcel=5)
    service_refuses_its_snapshot(run)
    with pytest.raises(Exception, match="read-only: table invoices is owned by the monolith"):
        world.svc("UPDATE \"invoices\" SET \"status\" = 'void' WHERE \"id\" = 5")
    executor = run.executor()
    assert executor.sync_direction() == "forward" and not executor.snapshot_sync()
    executor.follow(interval=0, rounds=1)
    assert world.invoices("service") == world.invoices("monolith")
    assert world.parcels("service") == world.parcels("monolith")


@pytest.mark.parametrize("point", ["cutover.after_monolith_refuses", "cutover.after_switch_point"])
def test_a_cutover_killed_and_resumed_leaves_the_snapshot_writable_on_the_monolith(run: Run, point: str) -> None:
    world = run.world
    assert run.executor().run("verify", yes=True).ok
    env = {**os.environ, "STRANGLER_CRASH_AT": point, "STRANGLER_STATE_DB": str(run.state.path),
           "SHOP_VAR_DIR": str(world.tmp / "var"), "DJANGO_SECRET_KEY": "snapshot-tests"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("STRANGLER_PAUSE_AT", None)
    killed = subprocess.run([sys.executable, "manage.py", "strangler", "run", str(run.plan), "--to", "cutover",  # noqa: S603
                             "--yes", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert f"crashpoint {point}" in killed.stderr
    assert run.state.get(PLAN_NAME).running == "do:cutover"
    # Dead mid-cutover: the moved table refused on the monolith, the snapshot taken.
    writes(run, snapshot_to="while it lay dead", invoice_to="refused", parcel=6, invoice=6)
    service_refuses_its_snapshot(run)
    time.sleep(LEASE_SECONDS * 2)  # its lease lapses

    outcome = run.executor().run("cutover", yes=True)
    assert outcome.ok and outcome.position == "cutover", outcome.message
    assert run.owner() == "service"
    writes(run, snapshot_to="after the resume", invoice_to="refused", parcel=7, invoice=7)
    service_refuses_its_snapshot(run)
    split = ds.open_split(run.plan)
    try:
        guard = ownership.read(split)
        assert guard.guarded == {"monolith": True, "service": True}
        conn = split.monolith.connect(autocommit=True)
        try:
            assert not split.monolith.guard_installed(conn, PLAN_NAME, PARCELS[0])
        finally:
            conn.close()
    finally:
        split.close()
    run.executor().follow(interval=0, rounds=1)
    assert world.parcels("service") == world.parcels("monolith")


def test_the_decommission_keeps_feeding_the_snapshot(run: Run) -> None:
    world = run.world
    outcome = run.executor().run(yes=True)
    assert outcome.ok and outcome.position == "decommission", outcome.message
    figures = run.state.get(PLAN_NAME).figures["decommission"]
    assert figures["forward"]["kept"] == [PARCELS[0]] and not figures["forward"]["changelog_dropped"]
    assert PARCELS[0] in figures["snapshots"]
    split = ds.open_split(run.plan)
    try:
        status = ds.status(split)
        assert {t["source"]: t["capture"] for t in status["tables"]} == {INVOICES[0]: False, PARCELS[0]: True}
    finally:
        split.close()
    writes(run, snapshot_to="after the decommission", invoice_to="refused", parcel=2, invoice=2)
    service_refuses_its_snapshot(run)
    world.svc("UPDATE \"invoices\" SET \"status\" = 'unguarded now' WHERE \"id\" = 2")
    executor = run.executor()
    assert executor.sync_direction() is None and executor.snapshot_sync()
    executor.follow(interval=0, rounds=1)
    assert world.parcels("service") == world.parcels("monolith")
    assert world.mono("SELECT status FROM billing_invoice WHERE id = 2") == [("open",)]  # no longer fed back
    assert json.loads(json.dumps(executor.status()["live"]["snapshots"])) == {
        "tables": [PARCELS[0]], "direction": "forward", "lag_rows": 0}
