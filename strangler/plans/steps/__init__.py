"""What each step does, how it is undone, and its gate: one class per kind of step, in one registry.

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
                  longer fed (kept, and they refuse writes); snapshot     forward capture
                  tables stay captured and synced forward
    capture (undo) also removes the ownership guard on both sides.

Snapshot tables (``snapshot: true``) are copied, synced and verified with the others, guarded on the service's
side only, and never handed over: the cutover and its undo leave them the monolith's (see cutover.py).

The kinds themselves (their names, order and settings) are the plan file's registry,
:data:`strangler.planfile.kinds.KINDS`, which the schema reads; each class here names its kind, and
:data:`STEPS` gives the class of every kind in that registry (this module refuses to load otherwise). The
executor reaches a step's work only through :func:`do` and :func:`undo`, and asks :func:`action` the rest
(whether it moves traffic, which way data flows once it is done).
"""

from __future__ import annotations

from typing import Any

from strangler.planfile.kinds import KINDS, Step
from strangler.plans.context import Context as Context  # re-exported: what every step works with
from strangler.plans.exceptions import StepFailed
from strangler.plans.steps.base import StepAction
from strangler.plans.steps.data import Capture, Copy, Decommission, Provision, Sync, Verify
from strangler.plans.steps.traffic import Canary, Contract, Cutover, Shadow

STEPS: dict[str, type[StepAction]] = {
    cls.kind.name: cls
    for cls in (Provision, Capture, Copy, Sync, Verify, Contract, Shadow, Canary, Cutover, Decommission)
}
if list(STEPS) != [kind.name for kind in KINDS]:  # a kind the schema accepts and nothing would run
    raise ImportError(f"strangler.plans.steps: step classes {list(STEPS)} do not match the plan file's kinds "
                      f"{[kind.name for kind in KINDS]}")


def action(step: Step) -> type[StepAction]:
    """The class that runs ``step`` (its kind was checked when the plan file was read)."""
    try:
        return STEPS[step.kind]
    except KeyError:
        raise StepFailed(f"unknown step {step.kind!r}") from None


def do(step: Step, ctx: Context, previous_canary: float | None) -> dict[str, Any]:
    return action(step)(step, ctx, previous_canary).do()


def undo(step: Step, ctx: Context, previous_canary: float | None) -> dict[str, Any]:
    return action(step)(step, ctx, previous_canary).undo()


__all__ = ["STEPS", "Context", "StepAction", "action", "do", "undo"]
