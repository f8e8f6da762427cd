"""What each step does, and how it is undone.

Every ``do`` and ``undo`` is idempotent: a step interrupted by a crash is simply run (or undone) again.
Traffic only ever moves through the router's admin API; data only through the data-split engine.

    step          do                                                    undo
    provision     service database at its migrations' head              (kept)
    capture       triggers on the monolith's tables                     triggers removed
    copy          rows copied, resumable; ownership guard (monolith owns)  (kept; unused)
    sync          changelog applied                                      -
    verify        sync, then counts and checksums equal                  -
    contract      generated requests to scratch copies of both sides     - (nothing real was touched)
    shadow        reads mirrored to the service; parity gate             mirror removed
    canary-P      P% of readers on the service; error and p99 gates      back to the previous share
    cutover       ownership to the service under a leased write freeze   ownership back, the same way
                  (see cutover.py), hooks, all traffic to the service     (hooks undone, traffic back)
    decommission  capture removed both ways: the old tables are no         reverse capture, copy and verify,
                  longer fed (kept, and they refuse writes)               forward capture
    capture (undo) also removes the ownership guard on both sides.
"""

from __future__ import annotations

from typing import Any

from strangler import datasplit
from strangler.datasplit import ownership
from strangler.plans.context import Context
from strangler.plans.cutover import cutover, undo_cutover
from strangler.plans.exceptions import StepFailed
from strangler.plans.gates import canary_gate, shadow_gate
from strangler.plans.schema import CanaryGate, ShadowGate, Step

# -- the steps ---------------------------------------------------------------------------------------------

def do(step: Step, ctx: Context, previous_canary: float | None) -> dict[str, Any]:
    kind = step.kind
    if kind == "provision":
        return datasplit.provision(ctx.split()).to_dict()
    if kind == "capture":
        return datasplit.capture(ctx.split()).to_dict()
    if kind == "copy":
        copied = datasplit.copy(ctx.split()).to_dict()
        # From here the service's copy takes writes from the forward sync only (and the monolith's from
        # anyone, until the cutover moves ownership).
        for side in ownership.SIDES:
            ownership.install(ctx.split(), side, "monolith")
        return {**copied, "ownership": ownership.read(ctx.split()).to_dict()}
    if kind == "sync":
        return datasplit.sync(ctx.split()).to_dict()
    if kind == "verify":
        ctx.sync_until_caught_up(reverse=False, rounds=10)
        return ctx.verify(reverse=False)
    if kind == "contract":
        from strangler.plans.contract_gate import contract_gate  # Hypothesis is loaded only by plans that use it

        return contract_gate(ctx.plan.path, step.id, step.spec, ctx.say, ctx.root)
    if kind == "shadow":
        return _shadow(step.id, ctx, step.spec)
    if kind == "canary":
        return _canary(step.id, ctx, step.spec, previous_canary)
    if kind == "cutover":
        return cutover(ctx, step.id, step.spec)
    if kind == "decommission":
        # The legacy code no longer reads the old tables: stop feeding them, in both directions. The
        # monolith's copy keeps its guard (it refuses writes: nothing feeds it any more); the service's goes.
        forward = datasplit.uncapture(ctx.split(), drop_changelog=True).to_dict()
        reverse = datasplit.uncapture(ctx.split(reverse=True), drop_changelog=True).to_dict()
        ownership.remove(ctx.split(), "service")
        return {"forward": forward, "reverse": reverse, "old_tables": "kept (they refuse writes)"}
    raise StepFailed(f"unknown step {kind!r}")


def undo(step: Step, ctx: Context, previous_canary: float | None) -> dict[str, Any]:
    kind = step.kind
    plan = ctx.plan
    if kind == "capture":
        for side in ownership.SIDES:
            ownership.remove(ctx.split(), side)
        return datasplit.uncapture(ctx.split()).to_dict()
    if kind == "shadow":
        ctx.admin.patch(ctx.reads_route(), shadow=None)
        return {"shadow": "removed"}
    if kind == "canary":
        if previous_canary is None:
            ctx.route_to(plan.router.monolith_backend, [ctx.reads_route()])
        else:
            ctx.route_to(plan.router.service_backend, [ctx.reads_route()], canary=previous_canary,
                         fallback=plan.router.monolith_backend)
        return {"canary": previous_canary or 0}
    if kind == "cutover":
        return undo_cutover(ctx, step.id, step.spec, previous_canary)
    if kind == "decommission":
        # Feed the old tables again; what the service changed meanwhile is copied over, then checked.
        ownership.install(ctx.split(), "service", "service")
        capture = datasplit.capture(ctx.split(reverse=True)).to_dict()
        datasplit.copy(ctx.split(reverse=True), restart=True)
        datasplit.capture(ctx.split())
        return {"reverse_capture": capture, "verify": ctx.verify(reverse=True)}
    return {"kept": f"{kind}: nothing to undo"}


def _shadow(step_id: str, ctx: Context, gate: ShadowGate) -> dict[str, Any]:
    ctx.sync_until_caught_up(reverse=False, rounds=5, strict=False)
    shadow: dict[str, Any] = {"backend": ctx.plan.router.service_backend}
    if gate.ignore:
        shadow["ignore"] = gate.ignore
    if gate.unordered:
        shadow["unordered"] = gate.unordered
    ctx.admin.patch(ctx.reads_route(), shadow=shadow)
    ctx.admin.reset_counters()
    return shadow_gate(ctx.admin, step_id, ctx.reads_route(), gate, ctx.say)


def _canary(step_id: str, ctx: Context, gate: CanaryGate, previous: float | None) -> dict[str, Any]:
    plan = ctx.plan
    ctx.sync_until_caught_up(reverse=False, rounds=5, strict=False)
    ctx.route_to(plan.router.service_backend, [ctx.reads_route()], canary=gate.percent,
                 fallback=plan.router.monolith_backend)
    ctx.admin.reset_counters()
    try:
        return canary_gate(ctx.admin, step_id, [ctx.reads_route()], gate, service=plan.router.service_backend,
                           monolith=plan.router.monolith_backend, say=ctx.say)
    except StepFailed:
        # Back to the last share that held (or to the monolith): a failed gate leaves traffic where it was safe.
        if previous is None:
            ctx.route_to(plan.router.monolith_backend, [ctx.reads_route()])
        else:
            ctx.route_to(plan.router.service_backend, [ctx.reads_route()], canary=previous,
                         fallback=plan.router.monolith_backend)
        raise
