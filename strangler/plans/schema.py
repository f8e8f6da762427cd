"""The executor's view of a plan file: how to run the service, where the router is, which routes carry the
moved endpoints, the ordered steps with their gates, and the hooks (named sub-steps with their own undo).

The schema of the whole file (the data split's tables included) is :mod:`strangler.planfile.model`; the
file is read and checked once by :func:`strangler.planfile.reader.read_plan_file`, and this module only
shapes the result for the executor. The models the executor works with are re-exported from here::

    plan = load_executor_plan("migration_plans/catalog.yaml")
    plan.steps[8].spec          # CutoverSpec(freeze_seconds=5.0, lease_seconds=3.0, max_sync_rounds=20, ...)
    plan.hooks_at("cutover")    # (Hook(name='catalog-gateway', at='cutover', do=(...), undo=(...), ...),)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from strangler.planfile.kinds import CanaryGate, ContractGate, CutoverSpec, ShadowGate, Step
from strangler.planfile.model import EndpointsSpec, Hook, PlanFile, PlanFileInvalid, RouterSpec, ServiceSection
from strangler.planfile.reader import read_plan_file
from strangler.plans.exceptions import PlanFileError

ServiceRuntime = ServiceSection  # the service as the executor runs it (name, start, url, health, ...)


@dataclass(frozen=True)
class ExecutorPlan:
    path: Path
    name: str
    service: ServiceRuntime
    router: RouterSpec
    endpoints: EndpointsSpec
    steps: tuple[Step, ...]
    hooks: tuple[Hook, ...]
    requires: tuple[str, ...] = ()

    def index(self, step_id: str) -> int:
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise PlanFileError([f"{self.path}: no step {step_id!r} (steps: {', '.join(s.id for s in self.steps)})"])

    def hooks_at(self, kind: str) -> tuple[Hook, ...]:
        """The hooks of the steps of ``kind`` ("cutover"), in the file's order (undo them in reverse)."""
        return tuple(h for h in self.hooks if h.at == kind)


def executor_plan(doc: PlanFile) -> ExecutorPlan:
    """The executor's plan from a file read with ``read_plan_file(path, executor=True)``."""
    if doc.router is None or doc.endpoints is None or not doc.steps:
        raise PlanFileError([f"{doc.path}: steps: required (a non-empty list of steps)"])
    return ExecutorPlan(path=doc.path, name=doc.name, service=doc.service, router=doc.router,
                        endpoints=doc.endpoints, steps=doc.steps, hooks=doc.hooks,
                        requires=doc.requires)


def load_executor_plan(path: str | Path) -> ExecutorPlan:
    try:
        doc = read_plan_file(path, executor=True)
    except PlanFileInvalid as exc:
        raise PlanFileError(exc.lines()) from None
    return executor_plan(doc)


__all__ = ["CanaryGate", "ContractGate", "CutoverSpec", "EndpointsSpec", "ExecutorPlan", "Hook",
           "RouterSpec", "ServiceRuntime", "ShadowGate", "Step", "executor_plan", "load_executor_plan"]
