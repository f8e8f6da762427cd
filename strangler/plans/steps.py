"""What each step does, and how it is undone.

Every ``do`` and ``undo`` is idempotent: a step interrupted by a crash is simply run (or undone) again.
Traffic only ever moves through the router's admin API; data only through the data-split engine.

    step          do                                                    undo
    provision     service database at its migrations' head              (kept)
    capture       triggers on the monolith's tables                     triggers removed
    copy          rows copied, resumable                                 (kept; unused)
    sync          changelog applied                                      -
    verify        sync, then counts and checksums equal                  -
    shadow        reads mirrored to the service; parity gate             mirror removed
    canary-P      P% of readers on the service; error and p99 gates      back to the previous share
    cutover       freeze writes, last sync, verify, reverse capture,     freeze, reverse sync, verify,
                  all traffic to the service, hooks, unfreeze            hooks, traffic back, unfreeze
    decommission  capture removed both ways: the old tables are no         reverse capture, copy and verify,
                  longer fed (they are kept)                              forward capture
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strangler import datasplit
from strangler.datasplit.databases import Split
from strangler.plans.exceptions import StepFailed
from strangler.plans.gates import RouterAdmin, canary_gate, shadow_gate
from strangler.plans.schema import CanaryGate, CutoverSpec, ExecutorPlan, ShadowGate, Step

Say = Callable[[str], None]


@dataclass
class Context:
    plan: ExecutorPlan
    say: Say
    root: Path
    _splits: dict[bool, Split] = field(default_factory=dict)
    _admin: RouterAdmin | None = None

    def split(self, *, reverse: bool = False) -> Split:
        if reverse not in self._splits:
            self._splits[reverse] = datasplit.open_split(self.plan.path, reverse=reverse)
        return self._splits[reverse]

    @property
    def admin(self) -> RouterAdmin:
        if self._admin is None:
            self._admin = RouterAdmin(self.plan.router)
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
        for split in self._splits.values():
            split.close()
        self._splits.clear()

    # -- shared moves ------------------------------------------------------------------------------------

    def reads_route(self) -> str:
        return self.plan.endpoints.reads

    def moved_routes(self) -> list[str]:
        routes = [self.plan.endpoints.reads]
        if self.plan.endpoints.writes and self.plan.endpoints.writes != self.plan.endpoints.reads:
            routes.append(self.plan.endpoints.writes)
        return routes

    def frozen_routes(self, spec: CutoverSpec | None) -> list[str]:
        also = list(spec.also_freeze) if spec is not None else []
        return [r for r in [self.plan.endpoints.writes, *also] if r]

    def route_to(self, backend: str, routes: list[str], *, canary: float | None = None,
                 fallback: str | None = None) -> None:
        for route in routes:
            self.admin.patch(route, backend=backend, canary=canary, fallback=fallback, shadow=None)

    def sync_until_caught_up(self, *, reverse: bool, rounds: int) -> dict[str, Any]:
        report = datasplit.sync(self.split(reverse=reverse))
        for _ in range(rounds - 1):
            if report.lag_rows == 0:
                break
            report = datasplit.sync(self.split(reverse=reverse))
        if report.lag_rows:
            raise StepFailed(f"sync ({'service to monolith' if reverse else 'monolith to service'}) still "
                             f"{report.lag_rows} changes behind after {rounds} rounds")
        return report.to_dict()

    def verify(self, *, reverse: bool) -> dict[str, Any]:
        report = datasplit.verify(self.split(reverse=reverse))
        result = report.to_dict()
        if not report.ok:
            bad = [t for t in result["tables"] if not t["ok"]]
            raise StepFailed("verify: " + "; ".join(
                f"{t['target'] if 'target' in t else t.get('table')}: differs" for t in bad) + f" ({result})")
        return result

    def run_hooks(self, which: str, commands: list[list[str]]) -> None:
        for template in commands:
            argv = [sys.executable if part == "{python}" else part for part in template]
            self.say(f"hook {which}: {' '.join(argv)}")
            done = subprocess.run(argv, cwd=self.root, capture_output=True, text=True, timeout=120)  # noqa: S603
            if done.returncode != 0:
                raise StepFailed(f"hook {which} {' '.join(argv)} failed ({done.returncode}): "
                                 f"{(done.stderr or done.stdout).strip()[-500:]}")


# -- the steps ---------------------------------------------------------------------------------------------

def do(step: Step, ctx: Context, previous_canary: float | None) -> dict[str, Any]:
    kind = step.kind
    if kind == "provision":
        return datasplit.provision(ctx.split()).to_dict()
    if kind == "capture":
        return datasplit.capture(ctx.split()).to_dict()
    if kind == "copy":
        return datasplit.copy(ctx.split()).to_dict()
    if kind == "sync":
        return datasplit.sync(ctx.split()).to_dict()
    if kind == "verify":
        ctx.sync_until_caught_up(reverse=False, rounds=10)
        return ctx.verify(reverse=False)
    if kind == "shadow":
        return _shadow(step.id, ctx, step.spec)
    if kind == "canary":
        return _canary(step.id, ctx, step.spec, previous_canary)
    if kind == "cutover":
        return _cutover(ctx, step.spec)
    if kind == "decommission":
        # The legacy code no longer reads the old tables: stop feeding them, in both directions.
        forward = datasplit.uncapture(ctx.split(), drop_changelog=True).to_dict()
        reverse = datasplit.uncapture(ctx.split(reverse=True), drop_changelog=True).to_dict()
        return {"forward": forward, "reverse": reverse, "old_tables": "kept"}
    raise StepFailed(f"unknown step {kind!r}")


def undo(step: Step, ctx: Context, previous_canary: float | None) -> dict[str, Any]:
    kind = step.kind
    plan = ctx.plan
    if kind == "capture":
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
        return _undo_cutover(ctx, step.spec, previous_canary)
    if kind == "decommission":
        # Feed the old tables again; what the service changed meanwhile is copied over, then checked.
        capture = datasplit.capture(ctx.split(reverse=True)).to_dict()
        datasplit.copy(ctx.split(reverse=True), restart=True)
        datasplit.capture(ctx.split())
        return {"reverse_capture": capture, "verify": ctx.verify(reverse=True)}
    return {"kept": f"{kind}: nothing to undo"}


def _shadow(step_id: str, ctx: Context, gate: ShadowGate) -> dict[str, Any]:
    ctx.sync_until_caught_up(reverse=False, rounds=5)
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
    ctx.sync_until_caught_up(reverse=False, rounds=5)
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


def _freeze(ctx: Context, routes: list[str], seconds: float) -> None:
    for route in routes:
        ctx.admin.patch(route, freeze=seconds)


def _drain(ctx: Context, routes: list[str], timeout: float) -> None:
    """Waits for the writes that passed before the freeze to be answered: their transactions must be in the
    changelog before the final sync reads it."""
    deadline = time.monotonic() + timeout
    while True:
        counters = ctx.admin.counters()
        busy = {r: counters.get(r, {}).get("in_flight", 0) for r in routes}
        if not any(busy.values()):
            return
        if time.monotonic() > deadline:
            raise StepFailed(f"writes still in flight after {timeout:g}s of freeze: "
                             + ", ".join(f"{r} {n}" for r, n in busy.items() if n))
        time.sleep(0.05)


def _cutover(ctx: Context, spec: CutoverSpec) -> dict[str, Any]:
    plan = ctx.plan
    frozen = ctx.frozen_routes(spec)
    ctx.sync_until_caught_up(reverse=False, rounds=spec.max_sync_rounds)  # most of the catching up, unfrozen
    ctx.say(f"cutover: freezing writes on {', '.join(frozen)} for at most {spec.freeze_seconds:g}s")
    _freeze(ctx, frozen, spec.freeze_seconds)
    try:
        _drain(ctx, frozen, spec.freeze_seconds / 2)
        synced = ctx.sync_until_caught_up(reverse=False, rounds=spec.max_sync_rounds)
        verified = ctx.verify(reverse=False)
        # Capture on the service side before it takes its first write: from here the monolith's old tables
        # are fed back (reverse sync) for the legacy code that still reads them.
        reverse_capture = datasplit.capture(ctx.split(reverse=True)).to_dict()
        datasplit.sync(ctx.split(reverse=True))  # sets the reverse high-water mark past the (empty) changelog
        # The monolith's legacy writers switch first (still frozen), then the endpoints: if the switch fails,
        # nothing has moved yet.
        ctx.run_hooks("after_cutover", plan.hooks.after_cutover)
        try:
            ctx.route_to(plan.router.service_backend, ctx.moved_routes())
        except BaseException:
            ctx.run_hooks("after_rollback", plan.hooks.after_rollback)
            raise
    except BaseException:
        _freeze(ctx, frozen, 0)
        raise
    _freeze(ctx, frozen, 0)
    ctx.say("cutover: the service owns the data; writes flow again")
    return {"final_sync": synced, "verify": verified, "reverse_capture": reverse_capture}


def _undo_cutover(ctx: Context, spec: CutoverSpec, previous_canary: float | None) -> dict[str, Any]:
    plan = ctx.plan
    frozen = ctx.frozen_routes(spec)
    reverse = ctx.split(reverse=True)
    ctx.say(f"rollback of cutover: freezing writes on {', '.join(frozen)}")
    _freeze(ctx, frozen, spec.freeze_seconds)
    try:
        _drain(ctx, frozen, spec.freeze_seconds / 2)
        synced = ctx.sync_until_caught_up(reverse=True, rounds=spec.max_sync_rounds)
        verified = ctx.verify(reverse=True)
        ctx.run_hooks("after_rollback", plan.hooks.after_rollback)
        if plan.endpoints.writes and plan.endpoints.writes != plan.endpoints.reads:
            ctx.route_to(plan.router.monolith_backend, [plan.endpoints.writes])
        if previous_canary is None:
            ctx.route_to(plan.router.monolith_backend, [ctx.reads_route()])
        else:
            ctx.route_to(plan.router.service_backend, [ctx.reads_route()], canary=previous_canary,
                         fallback=plan.router.monolith_backend)
        datasplit.uncapture(reverse, drop_changelog=True)
        # Whatever the reverse sync wrote into the monolith was captured there too; the forward sync
        # replays it into the service as a no-op. Start the forward direction from now.
        datasplit.sync(ctx.split())
    except BaseException:
        _freeze(ctx, frozen, 0)
        raise
    _freeze(ctx, frozen, 0)
    return {"reverse_sync": synced, "verify": verified}
