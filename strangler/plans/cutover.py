"""The cutover and its undo: ownership of the data moves from one side to the other, with no acknowledged
write lost whatever process dies where, and whatever is slower than planned.

Modelled on Vitess's SwitchTraffic / ReverseTraffic. Each half is a sequence of named, resumable sub-steps;
the databases' ownership guard (``datasplit.ownership``) is the truth about where a crash left things, and
the write freeze is a lease the executor renews while it works (``plans.lease``)::

    cutover                                        rollback of a cutover
    catch up (writes still flow)                   freeze (lease), drain
    freeze (lease), drain                          the service refuses writes
    the monolith refuses writes                    reverse sync, verify (service -> monolith)
    final sync, verify (monolith -> service)       the monolith accepts writes        <- the switch point
    reverse capture on the service                 lease on expiry: routes to the monolith
    the service accepts writes  <- the switch      hooks undone (recorded)
    lease on expiry: routes to the service         routes back (fenced by the lease)
    hooks (recorded sub-steps)                     reverse capture removed; unfreeze
    routes to the service (fenced); unfreeze

Snapshot tables (``snapshot: true`` in the plan) take no part in the handover: the monolith keeps owning
them, its copy takes writes throughout (the guard never refuses them there, whatever point a crash leaves),
the final sync brings the service's copy up to date but the gate verifies the other tables only, and the
reverse capture, sync and verify leave them out. Their forward sync goes on after the switch.

Before its switch point a step that fails or runs past ``freeze_seconds`` backs out: routes and data as they
were, writes flowing to the side that still owns the data. After it, a failing cutover undoes itself under
the same lease. An executor that dies anywhere leaves its lease to lapse: the router then applies the
lease's ``on_expiry`` (routes to the owner), and the side that does not own the data refuses writes, so a
write is either refused or kept, never acknowledged and lost. Running the same command again resumes from
what the guard and the recorded sub-steps say.
"""

from __future__ import annotations

from typing import Any

from strangler import crashpoints, datasplit
from strangler.datasplit import ownership
from strangler.plans import hooks
from strangler.plans.context import Context
from strangler.plans.exceptions import LeaseLost, PlanRunError, StepFailed
from strangler.plans.lease import Budget, Lease
from strangler.plans.schema import CutoverSpec

FAILURES: tuple[type[BaseException], ...] = (PlanRunError, datasplit.DataSplitError, *datasplit.DRIVER_ERRORS)


def ensure_guards(ctx: Context) -> ownership.Ownership:
    """Plans copied before the guard existed get it here (the monolith owns until the cutover says so)."""
    split = ctx.split()
    current = ownership.read(split)
    for side in ownership.SIDES:
        if not current.guarded.get(side):
            ownership.install(split, side, "monolith" if current.state in ("unguarded", "monolith") else "service")
    return ownership.read(split)


def _lease(ctx: Context, step_id: str, spec: CutoverSpec, what: str) -> Lease:
    return Lease(ctx.plan.router, state=ctx.state, plan=ctx.plan.name, step=step_id,
                 freeze=ctx.frozen_routes(spec), fence=[r for r in ctx.moved_routes()
                                                        if r not in ctx.frozen_routes(spec)],
                 ttl=spec.lease_seconds, holder=f"{ctx.plan.name} {what}", say=ctx.say)


def _switch(ctx: Context, lease: Lease, owner: str, previous_canary: float | None, point: str) -> None:
    # Writes first: from the first PATCH on, writes reach the side that owns the data.
    for route, changes in ctx.placement(owner, previous_canary).items():
        lease.patch(route, **changes)
        crashpoints.reached(f"{point}.switched.{route}")


def cutover(ctx: Context, step_id: str, spec: CutoverSpec) -> dict[str, Any]:
    # Hooks marked prepare start now, while writes still flow, and are ready (or have failed the step) before the
    # freeze; at the hook point they only act. Any that did not get its go is stood down on the way out.
    with hooks.Preparation(ctx, step_id, ctx.plan.hooks_at("cutover")) as prepared:
        return _cutover(ctx, step_id, spec, prepared)


def _cutover(ctx: Context, step_id: str, spec: CutoverSpec, prepared: hooks.Preparation) -> dict[str, Any]:
    split = ctx.split()
    state = ensure_guards(ctx).state
    if state == "split-brain":
        raise StepFailed(f"cutover: both databases claim the data ({ownership.read(split).to_dict()}); "
                         "this run changes nothing: repair the guard table by hand")
    figures: dict[str, Any] = {"resumed_from": state} if state != "monolith" else {}
    if split.plan.snapshots:
        figures["snapshots"] = {"tables": [t.source for t in split.plan.snapshots],
                                "kept by": "the monolith (synced forward, never guarded there, never fed back)"}
    if state == "monolith":
        # Most of the catching up, while writes still flow: the freeze then only waits for the last few.
        figures["catch_up"] = ctx.sync_until_caught_up(reverse=False, rounds=spec.max_sync_rounds, strict=False)
    prepared.wait_ready()  # a hook that cannot be ready fails the step here: nothing frozen, nothing changed
    crashpoints.reached("cutover.before_freeze")
    lease = _lease(ctx, step_id, spec, "cutover")
    lease.acquire()
    budget = Budget(spec.freeze_seconds)
    ctx.say(f"cutover: writes frozen on {', '.join(lease.freeze)} (lease {lease.id}, at most "
            f"{spec.freeze_seconds:g}s)")
    crashpoints.reached("cutover.after_freeze")
    switched = state == "service"
    marks: dict[str, float] = {}
    try:
        lease.drain(budget)
        marks["drained"] = budget.elapsed
        if not switched:
            if state == "monolith":
                ownership.set_owner(split, "monolith", "service")
            crashpoints.reached("cutover.after_monolith_refuses")
            with crashpoints.scope("cutover.final"):
                figures["final_sync"] = ctx.sync_until_caught_up(reverse=False, rounds=spec.max_sync_rounds)
            crashpoints.reached("cutover.after_final_sync")
            marks["final sync"] = budget.elapsed
            budget.check("the final sync")
            with crashpoints.scope("cutover"):
                # The tables that change owner; the snapshots were synced above but change no owner, and the
                # monolith goes on writing them under the freeze (their forward sync carries on afterwards).
                figures["verify"] = ctx.verify(reverse=False, snapshots=False)
            crashpoints.reached("cutover.after_verify")
            marks["verified"] = budget.elapsed
            budget.check("verify")
            # Captured on the service before its first write: the old tables are fed back from here.
            figures["reverse_capture"] = datasplit.capture(ctx.split(reverse=True)).to_dict()
            datasplit.sync(ctx.split(reverse=True))
            crashpoints.reached("cutover.after_reverse_capture")
            marks["reverse capture"] = budget.elapsed
            budget.check("the reverse capture")
            lease.check()
            ownership.set_owner(split, "service", "service")
            switched = True
            crashpoints.reached("cutover.after_switch_point")
    except BaseException as exc:
        _back_out(ctx, lease, split)
        if isinstance(exc, FAILURES):
            raise StepFailed(f"cutover aborted before the switch ({exc}); routes and data unchanged, the "
                             "monolith owns the data and takes writes again") from exc
        raise
    # Where the freeze's time went (seconds since the freeze began, at the end of each phase): an operator whose
    # cutover ran out of it sees which phase to look at, or how large a freeze_seconds the plan needs.
    figures["freeze_marks"] = {name: round(at, 2) for name, at in marks.items()}
    ctx.say("cutover: " + "; ".join(f"{name} at {at:.1f}s" for name, at in marks.items())
            + f" of the freeze's {spec.freeze_seconds:g}s")
    try:
        lease.set_on_expiry({r: c for r, c in ctx.placement("service", None).items()})
        crashpoints.reached("cutover.on_expiry_set")
        figures["hooks"] = hooks.do_all(ctx, step_id, ctx.plan.hooks_at("cutover"),
                                        time_left=lambda: budget.remaining, prepared=prepared)
        budget.check("the hooks")
        crashpoints.reached("cutover.before_switch")
        _switch(ctx, lease, "service", None, "cutover")
        crashpoints.reached("cutover.after_switch")
    except LeaseLost:
        lease.abandon()
        raise  # the router applies on_expiry (or routes stay, refused by the guard); `run` finishes the job
    except FAILURES as exc:
        ctx.say(f"cutover: {exc}; undoing it while writes are still frozen")
        try:
            undo_cutover(ctx, step_id, spec, None, lease=lease)
        except FAILURES as undo_exc:
            lease.abandon()
            raise StepFailed(f"cutover failed after the switch point ({exc}) and its undo failed too "
                             f"({undo_exc}); `strangler rollback` goes on from here") from undo_exc
        lease.release()
        raise StepFailed(f"cutover aborted ({exc}); undone: the monolith owns the data again, routes as "
                         "before") from exc
    lease.release()
    ctx.say("cutover: the service owns the data; writes flow again")
    return figures


def _back_out(ctx: Context, lease: Lease, split: datasplit.Split) -> None:
    """Before the switch point the service never took a write: the monolith simply takes writes again."""
    try:
        if ownership.read(split).state == "handing-over":
            ownership.set_owner(split, "monolith", "monolith")
    finally:
        try:
            lease.release()
        except PlanRunError as exc:
            ctx.say(f"cutover: could not release lease {lease.id} ({exc}); it lapses by itself")
            lease.abandon()


def undo_cutover(ctx: Context, step_id: str, spec: CutoverSpec, previous_canary: float | None, *,
                 lease: Lease | None = None) -> dict[str, Any]:
    split = ctx.split()
    state = ensure_guards(ctx).state
    figures: dict[str, Any] = {"from": state}
    own_lease = lease is None
    budget: Budget | None = None
    if lease is None:
        crashpoints.reached("rollback.before_freeze")
        lease = _lease(ctx, step_id, spec, "rollback of cutover")
        lease.acquire()
        budget = Budget(spec.freeze_seconds)
        ctx.say(f"rollback of cutover: writes frozen on {', '.join(lease.freeze)} (lease {lease.id})")
        crashpoints.reached("rollback.after_freeze")
        lease.drain(budget)
    else:
        # Undoing an aborted cutover under its lease: this must finish, whatever the freeze has used up.
        budget = Budget(float("inf"))
    assert budget is not None
    try:
        if state in ("service", "handing-over"):
            try:
                if state == "service":
                    ownership.set_owner(split, "service", "monolith")
                crashpoints.reached("rollback.after_service_refuses")
                if datasplit.captured(ctx.split(reverse=True)):  # else the service never took a write
                    with crashpoints.scope("rollback"):
                        figures["reverse_sync"] = ctx.sync_until_caught_up(reverse=True,
                                                                           rounds=spec.max_sync_rounds)
                    crashpoints.reached("rollback.after_reverse_sync")
                    with crashpoints.scope("rollback"):
                        figures["verify"] = ctx.verify(reverse=True)
                    crashpoints.reached("rollback.after_verify")
                budget.check("the reverse sync and verify")
                lease.check()
            except BaseException:
                # The service keeps the data (and its writes) where the routes still send them.
                if state == "service":
                    ownership.set_owner(split, "service", "service")
                raise
            ownership.set_owner(split, "monolith", "monolith")
            crashpoints.reached("rollback.after_switch_point")
        lease.set_on_expiry(ctx.placement("monolith", previous_canary))
        figures["hooks_undone"] = hooks.undo_all(ctx, step_id, ctx.plan.hooks_at("cutover"))
        crashpoints.reached("rollback.before_switch")
        _switch(ctx, lease, "monolith", previous_canary, "rollback")
        crashpoints.reached("rollback.after_switch")
        datasplit.uncapture(ctx.split(reverse=True), drop_changelog=True)
        # What the reverse sync wrote into the monolith was captured there too: apply it (a no-op) so the
        # forward direction starts from here.
        datasplit.sync(ctx.split())
        crashpoints.reached("rollback.after_uncapture")
    except BaseException:
        if own_lease:
            lease.abandon()
        raise
    if own_lease:
        lease.release()
    return figures
