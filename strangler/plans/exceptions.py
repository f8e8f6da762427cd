"""Errors of the plan executor.

Tree::

    PlanRunError
    ├── PlanFileError        the plan's executor part is invalid (file, field, reason)
    ├── PlanLocked           another executor is running this plan
    ├── RequirementUnmet     a cutover (or its undo) waits on another plan (``requires:``): which, and what to run
    ├── StepFailed           a step could not do its work (the message says what and how to resume)
    │   ├── GateFailed       a gate did not hold: which gate, the figure and the limit
    │   └── LeaseLost        the write freeze's lease lapsed or was replaced: nothing more may change
    └── RouterUnavailable    the router's admin API did not answer or refused the change
        └── WindowLost       a gate's counting window is gone (the router restarted)
"""

from __future__ import annotations


class PlanRunError(Exception):
    pass


class PlanFileError(PlanRunError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class PlanLocked(PlanRunError):
    pass


class RequirementUnmet(PlanRunError):
    pass


class StepFailed(PlanRunError):
    pass


class GateFailed(StepFailed):
    pass


class RouterUnavailable(PlanRunError):
    pass


class LeaseLost(StepFailed):
    pass


class WindowLost(RouterUnavailable):
    pass
