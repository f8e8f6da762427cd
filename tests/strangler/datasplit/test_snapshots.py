"""Snapshot tables (``snapshot: true``): a table the service reads and never owns, on every kind of database (the
monolith and the service of one kind: SQLite files, PostgreSQL or MariaDB databases of the test's own).

The snapshot is copied, synced and verified forward with the other tables; the ownership guard never refuses
the monolith's writes to it (before, during and after a handover, and after one undone) and the service's copy
takes writes from the forward sync only; the reverse split leaves it out (capture, sync, verify), so the service's
copy is never fed back; once the service owns the other tables, a forward sync feeds the snapshot alone; the
decommission's uncapture keeps it captured and guarded on the service's side. (The executor's cutover and
rollback over the same world: tests/strangler/plans/test_snapshot_cutover.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from strangler import datasplit as ds
from strangler.datasplit import ownership
from strangler.datasplit.ownership import SyncGuard

from .snapshots import INVOICES, PARCELS, PLAN_NAME, World, make_world

pytestmark = pytest.mark.slow

READ_ONLY_PARCELS = r"read-only: table parcels is owned by the monolith"


@pytest.fixture
def world(target_kind: str, tmp_path: Path) -> Iterator[World]:
    with make_world(target_kind, tmp_path) as made:
        yield made


def copied(world: World, plan: Path) -> ds.Split:
    """Provisioned, captured, copied, guarded on both sides with the monolith as owner (the copy step's work)."""
    split = ds.open_split(plan)
    ds.provision(split)
    ds.capture(split)
    ds.copy(split)
    for side in ownership.SIDES:
        ownership.install(split, side, "monolith")
    return split


def capture_on(engine_split: ds.Split, table: str) -> bool:
    engine = engine_split.source
    conn = engine.connect(autocommit=True)
    try:
        return engine.capture_installed(conn, engine_split.plan.changelog_table, table)
    finally:
        conn.close()


def guard_on(split: ds.Split, side: ownership.Side, table: str) -> bool:
    engine = ownership.engine_of(split, side)
    conn = engine.connect(autocommit=True)
    try:
        return engine.guard_installed(conn, PLAN_NAME, table)
    finally:
        conn.close()


def test_the_plan_marks_snapshots_and_the_reverse_split_leaves_them_out(world: World) -> None:
    split = ds.open_split(world.write_plan())
    back = ds.open_split(split.plan, reverse=True)
    try:
        assert [(t.source, t.snapshot) for t in split.plan.tables] == [(INVOICES[0], False), (PARCELS[0], True)]
        assert [t.source for t in split.plan.snapshots] == [PARCELS[0]]
        assert [t.source for t in split.plan.owned] == [INVOICES[0]]
        assert [(t.source, t.target) for t in back.plan.tables] == [(INVOICES[1], INVOICES[0])]
        assert back.plan.snapshots == ()
        ds.provision(split)
        checked = ds.check(split)
        assert [(t["target"], t["snapshot"]) for t in checked["tables"]] == [(INVOICES[1], False), (PARCELS[1], True)]
        assert [t["source"] for t in ds.check(back)["tables"]] == [INVOICES[1]]
    finally:
        split.close()
        back.close()


def test_a_snapshot_stays_the_monoliths_through_a_handover_and_its_undo(world: World) -> None:
    plan = world.write_plan()
    split = copied(world, plan)
    back = ds.open_split(plan, reverse=True)
    try:
        assert world.parcels("service") == world.parcels("monolith")
        guard = ownership.read(split)
        assert guard.state == "monolith" and guard.guarded == {"monolith": True, "service": True}
        assert guard.snapshots == {"monolith": {PARCELS[0]: None}, "service": {PARCELS[1]: "monolith"}}
        assert not guard_on(split, "monolith", PARCELS[0]) and guard_on(split, "service", PARCELS[1])
        # Before the handover: the monolith writes both; the service's copies refuse anyone but the sync.
        world.mono("UPDATE shipping_parcel SET status = 'packed' WHERE id = 1")
        world.mono("UPDATE billing_invoice SET status = 'paid' WHERE id = 1")
        with pytest.raises(Exception, match=READ_ONLY_PARCELS):
            world.svc("UPDATE \"parcels\" SET \"status\" = 'lost' WHERE \"id\" = 2")
        with pytest.raises(Exception, match="read-only: table invoices is owned by the monolith"):
            world.svc("UPDATE \"invoices\" SET \"status\" = 'void' WHERE \"id\" = 2")

        # Handing over: the monolith refuses its invoices, never its parcels.
        ownership.set_owner(split, "monolith", "service")
        assert ownership.read(split).state == "handing-over"
        with pytest.raises(Exception, match="read-only: table billing_invoice is owned by the service"):
            world.mono("UPDATE billing_invoice SET status = 'late' WHERE id = 2")
        world.mono("UPDATE shipping_parcel SET status = 'shipped' WHERE id = 2")
        final = ds.sync(split)  # the final sync: every table, the snapshot too
        assert final.skipped == [] and final.lag_rows == 0
        assert world.parcels("service") == world.parcels("monolith")
        # The gate verifies the tables that change owner; a snapshot written after the final sync is no difference.
        world.mono("UPDATE shipping_parcel SET status = 'out for delivery' WHERE id = 2")
        gate = ds.verify(split, snapshots=False)
        assert gate.ok and [t.target for t in gate.tables] == [INVOICES[1]]
        assert not ds.verify(split).ok  # (the snapshot does differ: the full verify sees it)
        ds.capture(back)
        assert capture_on(back, INVOICES[1]) and not capture_on(back, PARCELS[1])
        ownership.set_owner(split, "service", "service")
        guard = ownership.read(split)
        assert guard.state == "service"
        assert guard.recorded == {"monolith": {INVOICES[0]: "service"}, "service": {INVOICES[1]: "service"}}
        assert guard.snapshots["service"] == {PARCELS[1]: "monolith"}

        # The service owns its invoices: it writes them, the monolith refuses them; the parcels the other way.
        world.svc("UPDATE \"invoices\" SET \"status\" = 'void' WHERE \"id\" = 3")
        with pytest.raises(Exception, match=READ_ONLY_PARCELS):
            world.svc("UPDATE \"parcels\" SET \"status\" = 'lost' WHERE \"id\" = 3")
        with pytest.raises(Exception, match="read-only: table billing_invoice is owned by the service"):
            world.mono("UPDATE billing_invoice SET status = 'late' WHERE id = 3")
        # A forward sync now feeds the snapshot alone (it was refused whole before snapshots existed).
        world.mono("UPDATE shipping_parcel SET status = 'delivered' WHERE id = 3")
        forward = ds.sync(split)
        assert forward.skipped == [INVOICES[1]] and forward.upserted == 2 and forward.lag_rows == 0
        assert world.parcels("service") == world.parcels("monolith")
        assert ds.status(split)["snapshot_lag_rows"] == 0
        world.mono("UPDATE shipping_parcel SET carrier = 'courier' WHERE id = 4")
        assert ds.status(split)["snapshot_lag_rows"] == 1
        # The reverse sync feeds the monolith's invoices, and never writes its parcels back: the forward sync's
        # write into the service's copy comes back to no one (on SQLite and MariaDB the sync's writes fire the
        # service's triggers; a captured snapshot would overwrite the monolith's newer row with it).
        assert ds.sync(split).upserted == 1
        world.mono("UPDATE shipping_parcel SET carrier = 'van' WHERE id = 4")
        reverse = ds.sync(back)
        assert reverse.upserted == 1
        assert world.mono("SELECT status FROM billing_invoice WHERE id = 3") == [("void",)]
        assert world.mono("SELECT carrier FROM shipping_parcel WHERE id = 4") == [("van",)]
        verified = ds.verify(back)
        assert verified.ok and [t.target for t in verified.tables] == [INVOICES[0]]

        # Undone the same way back: the snapshot is as the monolith left it, and stays its own.
        before = world.parcels("monolith")
        ownership.set_owner(split, "service", "monolith")
        ds.sync(back)
        ownership.set_owner(split, "monolith", "monolith")
        assert ownership.read(split).state == "monolith"
        assert world.parcels("monolith") == before
        world.mono("UPDATE billing_invoice SET status = 'paid' WHERE id = 3")
        world.mono("UPDATE shipping_parcel SET status = 'returned' WHERE id = 5")
        again = ds.sync(split)
        assert again.skipped == []
        assert world.invoices("service") == world.invoices("monolith")
        assert world.parcels("service") == world.parcels("monolith")
    finally:
        for side in ownership.SIDES:
            ownership.remove(split, side)
        ds.uncapture(back, drop_changelog=True)
        ds.uncapture(split, drop_changelog=True)
        split.close()
        back.close()


def test_the_decommission_leaves_a_snapshot_captured_guarded_and_fed(world: World) -> None:
    plan = world.write_plan()
    split = copied(world, plan)
    back = ds.open_split(plan, reverse=True)
    try:
        ownership.set_owner(split, "monolith", "service")
        ds.sync(split)
        ds.capture(back)
        ownership.set_owner(split, "service", "service")
        # What the decommission does: capture of the moved tables goes both ways, the service's guard of them too.
        gone = ds.uncapture(split, drop_changelog=True, keep_snapshots=True)
        assert gone.tables == {INVOICES[0]: False} and gone.kept == [PARCELS[0]] and not gone.changelog_dropped
        ds.uncapture(back, drop_changelog=True)
        ownership.remove(split, "service", snapshots=False)
        assert capture_on(split, PARCELS[0]) and not capture_on(split, INVOICES[0])
        assert ownership.read(split).state == "service"
        assert guard_on(split, "service", PARCELS[1]) and not guard_on(split, "service", INVOICES[1])
        with pytest.raises(Exception, match=READ_ONLY_PARCELS):
            world.svc("DELETE FROM \"parcels\" WHERE \"id\" = 6")
        world.svc("DELETE FROM \"invoices\" WHERE \"id\" = 6")  # the service's own now, unguarded
        # The snapshot is still fed forward; the old invoices are not (and refuse writes).
        world.mono("UPDATE shipping_parcel SET status = 'delivered' WHERE id = 6")
        world.mono("DELETE FROM shipping_parcel WHERE id = 7")
        fed = ds.sync(split)
        assert fed.skipped == [INVOICES[1]] and (fed.upserted, fed.deleted) == (1, 1)
        assert world.parcels("service") == world.parcels("monolith")
        with pytest.raises(Exception, match="read-only: table billing_invoice is owned by the service"):
            world.mono("UPDATE billing_invoice SET status = 'late' WHERE id = 1")
        # The explicit command removes the snapshot's capture and the changelog with it.
        stopped = ds.uncapture(split, drop_changelog=True)
        assert stopped.tables[PARCELS[0]] is False and stopped.changelog_dropped and stopped.kept == []
    finally:
        for side in ownership.SIDES:
            ownership.remove(split, side)
        ds.uncapture(back, drop_changelog=True)
        ds.uncapture(split, drop_changelog=True)
        split.close()
        back.close()


def test_a_guard_from_before_the_table_was_a_snapshot_goes_from_the_monolith(world: World) -> None:
    """Copied (and half handed over) while the plan still moved the parcels: the snapshot plan's guard removes the
    monolith's guard of them, leaves the service's, and hands over the invoices alone."""
    earlier = copied(world, world.write_plan("before.yaml", snapshot=False))
    split = ds.open_split(world.write_plan())
    try:
        ownership.set_owner(earlier, "monolith", "service")
        with pytest.raises(Exception, match="read-only: table shipping_parcel is owned by the service"):
            world.mono("UPDATE shipping_parcel SET status = 'stuck' WHERE id = 1")
        found = ownership.read(split)
        assert found.guarded == {"monolith": False, "service": True}
        assert found.snapshots["monolith"] == {PARCELS[0]: "service"}
        assert found.state == "handing-over"  # the invoices' state: the parcels take no part
        ownership.install(split, "monolith", "monolith")
        world.mono("UPDATE shipping_parcel SET status = 'moving' WHERE id = 1")
        assert not guard_on(split, "monolith", PARCELS[0])
        found = ownership.read(split)
        assert found.guarded == {"monolith": True, "service": True} and found.state == "handing-over"
        assert found.snapshots["monolith"] == {PARCELS[0]: None}
        with pytest.raises(Exception, match="read-only: table billing_invoice is owned by the service"):
            world.mono("UPDATE billing_invoice SET status = 'late' WHERE id = 1")
        ownership.set_owner(split, "service", "service")
        assert ownership.read(split).recorded["service"] == {INVOICES[1]: "service"}
        assert ownership.read(split).snapshots["service"] == {PARCELS[1]: "monolith"}
    finally:
        for side in ownership.SIDES:
            ownership.remove(split, side)
        ds.uncapture(split, drop_changelog=True)
        earlier.close()
        split.close()


def test_a_snapshot_sync_stops_when_the_tables_it_passes_are_no_longer_the_services(world: World) -> None:
    """The forward sync of the snapshots passes the changelog entries of the service's tables; should a rollback
    hand them back between its look at the guard and its transaction, it stops rather than lose them."""
    split = copied(world, world.write_plan())
    try:
        ownership.set_owner(split, "monolith", "service")
        ownership.set_owner(split, "service", "service")
        conn = split.service.connect(autocommit=False)
        try:
            guard = SyncGuard.for_target(split, conn, tables=[PARCELS[1]], handed_over=[INVOICES[1]])
            conn.commit()
            ownership.set_owner(split, "service", "monolith")  # a rollback gets through
            split.service.begin(conn)
            with pytest.raises(ds.OwnershipError, match=r"the service no longer owns invoices \(plan billing\)"):
                guard.enter(conn)
            conn.rollback()
            # Owned by the service again: a sync of the parcels passes; one of every table is refused.
            ownership.set_owner(split, "service", "service")
            SyncGuard.for_target(split, conn, tables=[PARCELS[1]], handed_over=[INVOICES[1]])
            conn.commit()
            with pytest.raises(ds.OwnershipError, match="the service owns invoices"):
                SyncGuard.for_target(split, conn)
            conn.rollback()
        finally:
            conn.close()
    finally:
        for side in ownership.SIDES:
            ownership.remove(split, side)
        ds.uncapture(split, drop_changelog=True)
        split.close()
