"""The order to run plans in, worked out from what each declares it ``requires:`` (``manage.py strangler plan order
FILE|DIR ...``), and why each comes where it does.

A plan that requires others runs after them: the executor refuses its cutover until they are cut over
(:mod:`strangler.plans.requires`). Plans that do not depend on each other keep the order they were given in (a
directory's files by name), so the answer is the same every time. Every problem is named with its file and key:
a required plan that is none of those given, two files with one plan name, a cycle (``graphlib`` finds it; the
message walks it); a plan requiring itself is the schema's to refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from strangler.planfile.model import PlanFileInvalid
from strangler.plans.exceptions import PlanFileError
from strangler.plans.schema import ExecutorPlan, load_executor_plan


@dataclass(frozen=True)
class Placed:
    """One plan in the order: its name, its file, the plans it waits for, and why it stands where it does."""

    name: str
    path: Path
    after: tuple[str, ...]
    why: str

    def to_dict(self) -> dict[str, object]:
        return {"plan": self.name, "file": str(self.path), "after": list(self.after), "why": self.why}


def plan_files(arguments: Sequence[str | Path]) -> list[Path]:
    """The plan files named: a file as given, a directory as its ``*.yaml`` files by name (its routes files
    ``*.routes.yaml`` left out: they are not plans)."""
    found: list[Path] = []
    problems: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            files = sorted(p for p in path.glob("*.yaml") if not p.name.endswith(".routes.yaml"))
            if not files:
                problems.append(f"{path}: a directory without plan files (*.yaml)")
            found += files
        elif path.is_file():
            found.append(path)
        else:
            problems.append(f"{path}: no such file or directory")
    if problems:
        raise PlanFileError(problems)
    return list(dict.fromkeys(found))


def load_plans(paths: Sequence[Path]) -> list[ExecutorPlan]:
    """Every plan read (every file's problems listed together, not only the first file's)."""
    plans: list[ExecutorPlan] = []
    problems: list[str] = []
    for path in paths:
        try:
            plans.append(load_executor_plan(path))
        except PlanFileInvalid as exc:
            problems += exc.lines()
        except PlanFileError as exc:
            problems += exc.problems
    if problems:
        raise PlanFileError(problems)
    return plans


def plan_order(plans: Sequence[ExecutorPlan]) -> list[Placed]:
    """``plans`` in an order that runs each after every plan it requires (:class:`PlanFileError` when none can)."""
    by_name: dict[str, ExecutorPlan] = {}
    problems: list[str] = []
    for plan in plans:
        if plan.name in by_name:
            problems.append(f"{plan.path}: name: {plan.name!r} is also the name of {by_name[plan.name].path}")
        by_name.setdefault(plan.name, plan)
    for plan in plans:
        for needed in plan.requires:
            if needed not in by_name:   # (one requiring itself: the schema refuses it)
                problems.append(f"{plan.path}: requires: {needed!r} is none of the plans given "
                                f"({', '.join(sorted(by_name))}); add its file")
    if problems:
        raise PlanFileError(problems)
    sorter = TopologicalSorter({name: plan.requires for name, plan in by_name.items()})
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle: list[str] = exc.args[1]
        files = ", ".join(str(by_name[name].path) for name in dict.fromkeys(cycle))
        raise PlanFileError([f"requires: a cycle, {' -> '.join(cycle)}: no plan of it can be cut over first "
                             f"({files})"]) from None
    given = {name: i for i, name in enumerate(by_name)}
    order: list[Placed] = []
    while sorter.is_active():
        for name in sorted(sorter.get_ready(), key=given.__getitem__):
            plan = by_name[name]
            order.append(Placed(name, plan.path, plan.requires, _why(plan)))
            sorter.done(name)
    return order


def _why(plan: ExecutorPlan) -> str:
    if not plan.requires:
        return "requires no other plan"
    them = "them" if len(plan.requires) > 1 else "it"
    return (f"after {', '.join(plan.requires)}: it requires {them} (its cutover waits until {them} "
            f"{'are' if them == 'them' else 'is'} cut over, and none may be rolled back past its cutover while "
            "this one's stands)")
