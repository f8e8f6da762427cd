"""The steps that prove the service and move traffic to it (traffic only ever moves through the router's admin
API), each with its gate; the cutover's work is :mod:`strangler.plans.cutover`, run as it is.

Shadow and canary act on every reads route of the plan and gate on their figures together. A failed canary
gate puts the readers back where they were before the step, as its undo does. (The table of
every step, with what each does and undoes, is :mod:`strangler.plans.steps`.)
"""

from __future__ import annotations

from typing import Any, ClassVar

from strangler.planfile.kinds import BY_NAME, CanaryGate, Step
from strangler.plans.cutover import cutover, undo_cutover
from strangler.plans.exceptions import StepFailed
from strangler.plans.gates import canary_gate, shadow_gate
from strangler.plans.steps.base import Flow, StepAction


class Contract(StepAction):
    kind = BY_NAME["contract"]

    def do(self) -> dict[str, Any]:
        return self.gate()

    def gate(self) -> dict[str, Any]:
        from strangler.plans import contract_gate  # Hypothesis is loaded only by plans that use it

        ctx = self.ctx
        return contract_gate.contract_gate(ctx.plan.path, self.step.id, self.step.spec, ctx.say, ctx.root)


class Shadow(StepAction):
    kind = BY_NAME["shadow"]
    moves_traffic = True
    undo_after_failure = True  # a failed gate leaves the mirror in place

    def do(self) -> dict[str, Any]:
        ctx, gate = self.ctx, self.step.spec
        ctx.sync_until_caught_up(reverse=False, rounds=5, strict=False)
        shadow: dict[str, Any] = {"backend": ctx.plan.router.service_backend}
        if gate.ignore:
            shadow["ignore"] = gate.ignore
        if gate.unordered:
            shadow["unordered"] = gate.unordered
        for route in ctx.reads_routes():
            ctx.admin.patch(route, shadow=shadow)
        ctx.admin.reset_counters()
        return self.gate()

    def gate(self) -> dict[str, Any]:
        ctx = self.ctx
        return shadow_gate(ctx.admin, self.step.id, ctx.reads_routes(), self.step.spec, ctx.say)

    def undo(self) -> dict[str, Any]:
        for route in self.ctx.reads_routes():
            self.ctx.admin.patch(route, shadow=None)
        return {"shadow": "removed"}


class Canary(StepAction):
    kind = BY_NAME["canary"]
    moves_traffic = True
    undo_after_failure = True

    @classmethod
    def reads_share(cls, step: Step) -> float | None:
        spec: CanaryGate = step.spec
        return float(spec.percent)

    def do(self) -> dict[str, Any]:
        ctx, router = self.ctx, self.ctx.plan.router
        ctx.sync_until_caught_up(reverse=False, rounds=5, strict=False)
        ctx.route_to(router.service_backend, ctx.reads_routes(), canary=self.step.spec.percent,
                     fallback=router.monolith_backend)
        ctx.admin.reset_counters()
        try:
            return self.gate()
        except StepFailed:
            # Back to the last share that held (or to the monolith): a failed gate leaves traffic where it was safe.
            self.reads_back()
            raise

    def gate(self) -> dict[str, Any]:
        ctx, router = self.ctx, self.ctx.plan.router
        return canary_gate(ctx.admin, self.step.id, ctx.reads_routes(), self.step.spec,
                           service=router.service_backend, monolith=router.monolith_backend, say=ctx.say)

    def undo(self) -> dict[str, Any]:
        self.reads_back()
        return {"canary": self.previous_canary or 0}


class Cutover(StepAction):
    """The cutover and its undo, as :mod:`strangler.plans.cutover` has them (their checks are their own:
    the final sync's lag and the verify under the freeze, the freeze's budget, the lease)."""

    kind = BY_NAME["cutover"]
    moves_traffic = True
    undo_after_failure = True  # its undo reads where the cutover stopped from the ownership guard
    sync_after: ClassVar[Flow | None] = "reverse"

    def do(self) -> dict[str, Any]:
        return cutover(self.ctx, self.step.id, self.step.spec)

    def undo(self) -> dict[str, Any]:
        return undo_cutover(self.ctx, self.step.id, self.step.spec, self.previous_canary)
