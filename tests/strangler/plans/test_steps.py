"""The registry of steps: every kind the plan file accepts has exactly one class that runs it, and what the
executor asks of a class (does it move traffic, may its undo start from a failed do, which way data flows
after it) is what the plan's steps have always meant."""

from __future__ import annotations

import pytest

from strangler.planfile.kinds import KINDS, Step
from strangler.plans import steps
from strangler.plans.exceptions import StepFailed


def test_every_kind_of_the_plan_file_has_its_class_in_the_files_order() -> None:
    assert list(steps.STEPS) == [kind.name for kind in KINDS]
    assert all(cls.kind.name == name for name, cls in steps.STEPS.items())


def test_what_the_executor_asks_of_each_kind() -> None:
    def kinds(flag: str) -> set[str]:
        return {name for name, cls in steps.STEPS.items() if getattr(cls, flag)}

    assert kinds("moves_traffic") == {"shadow", "canary", "cutover", "decommission"}
    assert kinds("undo_after_failure") == {"shadow", "canary", "cutover"}
    assert {name: cls.sync_after for name, cls in steps.STEPS.items() if cls.sync_after} == {
        "copy": "forward", "cutover": "reverse", "decommission": "stopped"}


def test_only_a_canary_sets_a_share_of_reads() -> None:
    canary = KINDS[[k.name for k in KINDS].index("canary")]
    assert canary.options is not None
    step = Step("canary-25", "canary", canary.options.model_validate({"percent": 25}))
    assert steps.action(step).reads_share(step) == 25.0
    assert steps.action(Step("copy", "copy", None)).reads_share(Step("copy", "copy", None)) is None


def test_a_kind_nothing_runs_is_a_step_failure() -> None:
    with pytest.raises(StepFailed, match="unknown step 'teleport'"):
        steps.action(Step("teleport", "teleport", None))
