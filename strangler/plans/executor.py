"""Running a plan: forward to a step, back to a step, and where every plan stands.

``run`` starts from the plan's recorded position (resuming a step that a crash interrupted), asks before
each step that moves traffic unless told ``--yes``, and stops at the first failure with the state saved.
``rollback`` undoes completed steps in reverse: routes back to the monolith first, then data. Both hold the
plan's lock for their whole run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strangler import datasplit
from strangler.datasplit import ownership
from strangler.plans import steps
from strangler.plans.context import Context
from strangler.plans.exceptions import PlanRunError, RequirementUnmet, StepFailed
from strangler.plans.schema import ExecutorPlan, Step, load_executor_plan
from strangler.plans.state import StateStore, default_path
from strangler.project import project_root

# What a step may fail with and the executor reports (never a traceback): the plan's own errors, the data
# split's, and the database drivers' (a server gone mid-step).
_DATA_FAILURES: tuple[type[BaseException], ...] = (datasplit.DataSplitError, *datasplit.DRIVER_ERRORS)
_STEP_FAILURES: tuple[type[BaseException], ...] = (PlanRunError, *_DATA_FAILURES)
_GATE_FAILURES: tuple[type[BaseException], ...] = (StepFailed, *_DATA_FAILURES)

Confirm = Callable[[str], bool]


@dataclass
class Outcome:
    plan: str
    action: str
    steps: list[dict[str, Any]]
    position: str | None
    ok: bool
    message: str | None = None


class Executor:
    def __init__(self, plan_path: str | Path, *, say: Callable[[str], None] = print,
                 state: StateStore | None = None) -> None:
        self.root = project_root()
        self.plan: ExecutorPlan = load_executor_plan(plan_path)
        self.split_plan = datasplit.load_plan(plan_path)  # the data-split part is checked too, before anything runs
        self.state = state or StateStore(default_path(self.root))
        self.say = say

    def _previous_canary(self, index: int) -> float | None:
        """The share of the last canary step before ``index`` (None: readers were all on the monolith)."""
        for step in reversed(self.plan.steps[:index]):
            share = steps.action(step).reads_share(step)
            if share is not None:
                return share
        return None

    def _step_line(self, step: Step) -> str:
        spec = step.spec.model_dump() if step.spec is not None else {}
        return f"{step.id}" + (f" {spec}" if spec else "")

    def run(self, to: str | None = None, *, yes: bool = False, confirm: Confirm | None = None) -> Outcome:
        plan = self.plan
        target = plan.index(to) if to else len(plan.steps) - 1
        done: list[dict[str, Any]] = []
        with self.state.locked(plan.name):
            position = self.state.get(plan.name)
            start = position.done_index + 1
            if position.running and position.running.startswith("undo:"):
                raise PlanRunError(f"plan {plan.name!r}: a rollback of {position.running[5:]} was interrupted; "
                                   "finish it with `strangler rollback` before running forward")
            if target < start:
                return Outcome(plan.name, "run", done, position.done_step, True,
                               f"already at {position.done_step or 'the start'}; nothing to run")
            if any(s.kind == "cutover" for s in plan.steps[start:target + 1]):
                why = self.state.requirements(plan.name, plan.requires, plan.path)
                if why is not None:   # refused before the gates, not minutes into them
                    return self._refused("run", done, f"cutover: {why}")
            ctx = Context(plan, self.say, self.root, self.state)
            try:
                for index in range(start, target + 1):
                    step = plan.steps[index]
                    if steps.action(step).moves_traffic and not yes:
                        ask = confirm or (lambda text: input(f"{text} [y/N] ").strip().lower() == "y")
                        if not ask(f"Run {self._step_line(step)}? It moves traffic."):
                            return Outcome(plan.name, "run", done, self.state.get(plan.name).done_step, True,
                                           f"stopped before {step.id} (not confirmed)")
                    self.say(f"== {step.id}")
                    started = time.monotonic()
                    try:
                        self.state.begin(plan.name, step.id, "do", cutover=step.kind == "cutover",
                                         requires=plan.requires, plan_path=plan.path)
                    except RequirementUnmet as exc:   # another plan moved meanwhile: nothing was begun
                        return self._refused("run", done, f"{step.id}: {exc}")
                    try:
                        figures = steps.do(step, ctx, self._previous_canary(index))
                    except _STEP_FAILURES as exc:
                        # A gate's message already starts with its step ("shadow: mismatch rate ...").
                        message = str(exc) if str(exc).startswith(f"{step.id}: ") else f"{step.id}: {exc}"
                        self.state.fail(plan.name, step.id, "do", message)
                        self.say(f"!! {message}")
                        self.say(f"   state saved at {self.state.get(plan.name).done_step or 'the start'}; "
                                 f"`strangler run` resumes, `strangler rollback` returns")
                        return Outcome(plan.name, "run", done, self.state.get(plan.name).done_step, False, message)
                    figures["seconds"] = round(time.monotonic() - started, 3)
                    self.state.end(plan.name, step.id, "do", done_index=index, done_step=step.id, figures=figures)
                    done.append({"step": step.id, "seconds": figures["seconds"]})
                    self.say(f"   {step.id} done in {figures['seconds']:.1f}s")
            finally:
                ctx.close()
        return Outcome(plan.name, "run", done, plan.steps[target].id, True)

    def rollback(self, to: str | None = None) -> Outcome:
        plan = self.plan
        undone: list[dict[str, Any]] = []
        with self.state.locked(plan.name):
            position = self.state.get(plan.name)
            last = position.done_index
            if position.running and position.running.startswith("do:"):
                last = plan.index(position.running[3:])  # a step cut short is undone too
            elif position.running and position.running.startswith("undo:"):
                last = plan.index(position.running[5:])
            elif position.running and position.running.startswith("failed:"):
                failed = plan.index(position.running[7:])
                if steps.action(plan.steps[failed]).undo_after_failure:
                    last = failed  # its undo is safe on a partial state (a cutover's reads the guard)
            stop = plan.index(to) if to else -1
            if any(s.kind == "cutover" for s in plan.steps[stop + 1:last + 1]):
                why = self.state.requirements(plan.name, (), plan.path, undo=True)
                if why is not None:
                    return self._refused("rollback", undone, f"undo cutover: {why}")
            ctx = Context(plan, self.say, self.root, self.state)
            try:
                for index in range(last, stop, -1):
                    step = plan.steps[index]
                    self.say(f"<< undo {step.id}")
                    try:
                        self.state.begin(plan.name, step.id, "undo", cutover=step.kind == "cutover",
                                         plan_path=plan.path)
                    except RequirementUnmet as exc:
                        return self._refused("rollback", undone, f"undo {step.id}: {exc}")
                    try:
                        figures = steps.undo(step, ctx, self._previous_canary(index))
                    except _STEP_FAILURES as exc:
                        message = f"undo {step.id}: {exc}"
                        self.state.fail(plan.name, step.id, "undo", message)
                        self.say(f"!! {message}")
                        return Outcome(plan.name, "rollback", undone, step.id, False, message)
                    previous = plan.steps[index - 1].id if index > 0 else None
                    self.state.end(plan.name, step.id, "undo", done_index=index - 1, done_step=previous,
                                   figures=figures)
                    undone.append({"step": step.id})
            finally:
                ctx.close()
        return Outcome(plan.name, "rollback", undone, self.state.get(plan.name).done_step, True)

    def _refused(self, action: str, steps_: list[dict[str, Any]], message: str) -> Outcome:
        """A step that may not begin (another plan's state, :mod:`strangler.plans.requires`): said, nothing
        recorded as begun or failed; the plan stays where it stands."""
        self.say(f"!! {message}")
        return Outcome(self.plan.name, action, steps_, self.state.get(self.plan.name).done_step, False, message)

    def status(self, *, live: bool = True) -> dict[str, Any]:
        plan = self.plan
        position = self.state.get(plan.name)
        result: dict[str, Any] = {
            "plan": plan.name, "file": str(plan.path), "status": position.status, "message": position.message,
            "at": position.done_step, "running": position.running, "lock": position.lock,
            "since": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(position.updated_at)),
            "steps": [{"step": s.id, "done": i <= position.done_index} for i, s in enumerate(plan.steps)],
            "figures": position.figures,
        }
        if plan.requires:
            result["requires"] = self.state.required(plan.requires)
        if live:
            result["live"] = self._live()
        return result

    def _live(self) -> dict[str, Any]:
        live: dict[str, Any] = {}
        try:
            direction = self.sync_direction()
            if direction is not None:
                lag = datasplit.status(datasplit.open_split(self.plan.path, reverse=direction == "reverse"))
                live["sync"] = {"direction": direction, **{k: lag.get(k) for k in ("lag_rows", "lag_seconds")
                                                           if k in lag}}
        except _DATA_FAILURES as exc:
            live["sync"] = {"error": str(exc)}
        if self.split_plan.snapshots:
            live["snapshots"] = self._live_snapshots()
        try:
            live["ownership"] = ownership.read(datasplit.open_split(self.plan.path)).to_dict()
        except _DATA_FAILURES as exc:
            live["ownership"] = {"error": str(exc)}
        try:
            admin = Context(self.plan, self.say, self.root, self.state).admin
            try:
                routes = admin.table()["routes"]
                endpoints = self.plan.endpoints
                live["routes"] = {name: routes.get(name) for name in dict.fromkeys((*endpoints.reads,
                                                                                    *endpoints.writes))}
            finally:
                admin.close()
        except PlanRunError as exc:
            live["routes"] = {"error": str(exc)}
        return live

    def _live_snapshots(self) -> dict[str, Any]:
        """The snapshot tables, and their forward lag while a sync of their own feeds them."""
        found: dict[str, Any] = {"tables": [t.source for t in self.split_plan.snapshots]}
        try:
            if self.snapshot_sync():
                split = datasplit.open_split(self.plan.path)
                try:
                    lag = datasplit.status(split)
                finally:
                    split.close()
                found.update(direction="forward", lag_rows=lag.get("snapshot_lag_rows"))
        except _DATA_FAILURES as exc:
            found["error"] = str(exc)
        return found

    def snapshot_sync(self, direction: str | None = None) -> bool:
        """Whether the snapshot tables need a forward sync of their own now (``direction``: what
        :meth:`sync_direction` said, asked again when not given): the plan has snapshot tables and others, and the
        others flow back (after the cutover) or no longer flow (after the decommission). A forward flow carries
        the snapshots with the rest; during a handover the executor syncs them itself."""
        plan = self.split_plan
        if not plan.snapshots or not plan.owned:
            return False
        direction = direction if direction is not None else self.sync_direction()
        if direction == "reverse":
            return True
        return direction is None and self._planned_flow(self.state.get(self.plan.name).done_index) == "stopped"

    def sync_direction(self) -> str | None:
        """Which way data must flow now: towards the side that does not own the data (the ownership guard
        says; before it exists: forward from copy until cutover, reverse after); None otherwise."""
        position = self.state.get(self.plan.name)
        planned = self._planned_flow(position.done_index)
        if not self._stopping_flow(position.running):
            try:
                split = datasplit.open_split(self.plan.path)
                try:
                    state = ownership.read(split).state
                finally:
                    split.close()
            except _DATA_FAILURES:
                state = "unguarded"
            if state in ("monolith", "service") and planned != "stopped":
                return "forward" if state == "monolith" else "reverse"
            if state == "handing-over":
                return None  # the executor itself runs the last sync of a move in progress
        return planned if planned in ("forward", "reverse") else None

    def _planned_flow(self, done_index: int) -> str | None:
        """Which way data flows after the steps done so far (forward from copy, reverse from cutover, none
        from decommission): the last done step that changes it says."""
        flows = [steps.action(s).sync_after for s in self.plan.steps[: done_index + 1]]
        return next((flow for flow in reversed(flows) if flow is not None), None)

    def _stopping_flow(self, running: str | None) -> bool:
        """Whether the step under way (``do:ID``, ``undo:ID``, ``failed:ID``) is one that stops the flow (a
        decommission): the guard then no longer says which way data flows."""
        if not running:
            return False
        step_id = running.partition(":")[2]
        return any(s.id == step_id and steps.action(s).sync_after == "stopped" for s in self.plan.steps)

    def follow(self, *, interval: float = 1.0, rounds: int | None = None) -> None:
        """Keeps the databases in step for as long as it runs, in whichever direction the plan is at; the
        snapshot tables forward for as long as the service reads them (after the cutover and the decommission
        too)."""
        done = 0
        while rounds is None or done < rounds:
            direction = self.sync_direction()
            ways = [(direction, direction == "reverse")] if direction is not None else []
            if self.snapshot_sync(direction):
                ways.append(("snapshots forward", False))
            for name, reverse in ways:
                split = None
                try:
                    split = datasplit.open_split(self.plan.path, reverse=reverse)
                    report = datasplit.sync(split)
                    if report.changes:
                        self.say(f"follow ({name}): {report.changes} changes, lag {report.lag_rows}")
                except _GATE_FAILURES as exc:
                    self.say(f"follow ({name}): {exc}")
                finally:
                    if split is not None:
                        split.close()
            done += 1
            time.sleep(interval)
