"""What every kind of step is to the executor: a class with ``do``, ``undo`` and its gate, and what the
executor needs to know of it besides (whether it moves traffic, which way the data flows once it is done).

Like Vitess's MoveTables, each step is a named state of the plan with its own reverse: ``do`` takes the plan
from the state before the step to the step's state, ``undo`` takes it back. Both are idempotent, so a step
that a crash cut short is simply run (or undone) again; the executor records which one was under way.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from strangler.planfile.kinds import Step, StepKind
from strangler.plans.context import Context

Flow = Literal["forward", "reverse", "stopped"]


class StepAction:
    """One kind of step, bound to a step of a plan and what it runs with."""

    kind: ClassVar[StepKind]  # the kind it runs, from the plan file's registry (strangler.planfile.kinds)
    # The executor asks before running it (unless --yes): traffic moves.
    moves_traffic: ClassVar[bool] = False
    # Its undo is safe on whatever a failed ``do`` left (a shadow's mirror, a canary's share, a cutover's
    # guard): ``rollback`` after a failed run starts from it, not from the step before.
    undo_after_failure: ClassVar[bool] = False
    # Which way the sync must run once it is done (None: as before it): the direction ``follow`` keeps.
    sync_after: ClassVar[Flow | None] = None

    def __init__(self, step: Step, ctx: Context, previous_canary: float | None) -> None:
        self.step, self.ctx = step, ctx
        self.previous_canary = previous_canary  # the share of the last canary step before this one (None: none)

    @classmethod
    def reads_share(cls, step: Step) -> float | None:
        """The share of reads on the service once ``step`` is done, if the step sets one (a canary's)."""
        return None

    def do(self) -> dict[str, Any]:
        """The step's work, then its gate: the figures of both, kept in the plan's status."""
        raise NotImplementedError

    def gate(self) -> dict[str, Any]:
        """Whether the step may stand: figures, or a ``StepFailed`` naming the figure and the limit. A step
        without a gate of its own has none to give: its work either happens or raises."""
        return {}

    def undo(self) -> dict[str, Any]:
        return {"kept": f"{self.step.kind}: nothing to undo"}

    # -- what several steps share ---------------------------------------------------------------------------
    def reads_back(self) -> None:
        """Readers of every reads route back to the last canary share that held, or all to the monolith before
        any."""
        router, ctx = self.ctx.plan.router, self.ctx
        if self.previous_canary is None:
            ctx.route_to(router.monolith_backend, ctx.reads_routes())
        else:
            ctx.route_to(router.service_backend, ctx.reads_routes(), canary=self.previous_canary,
                         fallback=router.monolith_backend)
