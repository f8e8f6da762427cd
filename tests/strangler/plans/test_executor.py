"""The executor over the real catalog plan with the steps' work faked (``steps.do``/``steps.undo`` monkeypatched;
the real steps run end to end in tests/e2e): where runs stop and resume, what rollback undoes and in which order,
the confirmation before traffic moves, and the shape of ``status``."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from strangler import datasplit
from strangler.plans import steps
from strangler.plans.exceptions import GateFailed, PlanLocked, PlanRunError, RouterUnavailable, StepFailed
from strangler.plans.executor import Executor
from strangler.plans.schema import Step
from strangler.plans.state import StateStore

from .conftest import CATALOG_PLAN, CATALOG_STEPS

CANARY_10 = ("{'percent': 10.0, 'min_requests': 20, 'max_error_rate': 0.01, 'max_p99_ratio': 3.0, "
             "'timeout': 180.0, 'poll': 1.0}")


class FakeSteps:
    """Records every do/undo with the previous canary share it was given; raises what it is told to, once."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, float | None]] = []
        self.raises: dict[tuple[str, str], BaseException] = {}

    def _call(self, action: str, step: Step, previous: float | None) -> dict[str, Any]:
        assert isinstance(step, Step)
        self.calls.append((action, step.id, previous))
        error = self.raises.pop((action, step.id), None)
        if error is not None:
            raise error
        return {action: step.id}

    def do(self, step: Step, ctx: steps.Context, previous: float | None) -> dict[str, Any]:
        assert ctx.plan.name == "catalog"
        return self._call("do", step, previous)

    def undo(self, step: Step, ctx: steps.Context, previous: float | None) -> dict[str, Any]:
        return self._call("undo", step, previous)

    def ids(self, action: str | None = None) -> list[str]:
        return [step for a, step, _ in self.calls if action in (None, a)]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSteps:
    faked = FakeSteps()
    monkeypatch.setattr(steps, "do", faked.do)
    monkeypatch.setattr(steps, "undo", faked.undo)
    return faked


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state.sqlite3")


@pytest.fixture
def said() -> list[str]:
    return []


@pytest.fixture
def executor(store: StateStore, said: list[str], fake: FakeSteps) -> Executor:
    return Executor(CATALOG_PLAN, say=said.append, state=store)


def never(text: str) -> bool:
    raise AssertionError(f"asked {text!r} although told yes")


def test_run_to_a_step_stops_there(executor: Executor, fake: FakeSteps, store: StateStore, said: list[str]) -> None:
    outcome = executor.run("verify", confirm=never)
    assert (outcome.plan, outcome.action, outcome.ok, outcome.position, outcome.message) == (
        "catalog", "run", True, "verify", None)
    assert [s["step"] for s in outcome.steps] == CATALOG_STEPS[:5]
    assert fake.calls == [("do", step, None) for step in CATALOG_STEPS[:5]]
    state = store.get("catalog")
    assert (state.done_index, state.done_step, state.running, state.status, state.lock) == (
        4, "verify", None, "ready", None)
    assert set(state.figures) == set(CATALOG_STEPS[:5])
    assert state.figures["copy"]["do"] == "copy" and isinstance(state.figures["copy"]["seconds"], float)
    assert said[:2] == ["== provision", "   provision done in 0.0s"]
    assert [line for line in said if line.startswith("==")] == [f"== {s}" for s in CATALOG_STEPS[:5]]

    again = executor.run("copy", confirm=never)
    assert (again.ok, again.position, again.steps, again.message) == (
        True, "verify", [], "already at verify; nothing to run")
    assert len(fake.calls) == 5


def test_run_goes_on_from_where_it_stands_to_the_end(executor: Executor, fake: FakeSteps) -> None:
    executor.run("sync", yes=True)
    fake.calls.clear()
    outcome = executor.run(yes=True, confirm=never)
    assert (outcome.ok, outcome.position) == (True, "decommission")
    # Each step knows the share of the last canary before it (None: readers were all on the monolith).
    assert fake.calls == [("do", "verify", None), ("do", "contract", None), ("do", "shadow", None),
                          ("do", "canary-10", None), ("do", "canary-50", 10.0), ("do", "cutover", 50.0),
                          ("do", "decommission", 50.0)]


def test_an_unknown_target_step_is_refused(executor: Executor, fake: FakeSteps) -> None:
    with pytest.raises(PlanRunError, match=r"no step 'canary-20' \(steps: provision, capture,"):
        executor.run("canary-20", yes=True)
    assert fake.calls == []


def test_traffic_steps_ask_first(executor: Executor, fake: FakeSteps) -> None:
    asked: list[str] = []

    def confirm(text: str) -> bool:
        asked.append(text)
        return True

    outcome = executor.run("canary-10", confirm=confirm)
    assert outcome.ok and outcome.position == "canary-10"
    assert asked == [
        "Run shadow {'min_requests': 30, 'max_mismatch_rate': 0.05, 'ignore': ['$..stock', '$..updated_at', "
        "'$..description'], 'unordered': [], 'timeout': 180.0, 'poll': 1.0}? It moves traffic.",
        f"Run canary-10 {CANARY_10}? It moves traffic.",
    ]


def test_a_refused_confirmation_stops_before_the_step(executor: Executor, fake: FakeSteps,
                                                      store: StateStore) -> None:
    executor.run("shadow", yes=True)
    asked: list[str] = []

    def confirm(text: str) -> bool:
        asked.append(text)
        return False

    outcome = executor.run(confirm=confirm)
    assert (outcome.ok, outcome.position, outcome.steps, outcome.message) == (
        True, "shadow", [], "stopped before canary-10 (not confirmed)")
    assert asked == [f"Run canary-10 {CANARY_10}? It moves traffic."]
    assert "canary-10" not in fake.ids()
    state = store.get("catalog")
    assert (state.done_step, state.running, state.status) == ("shadow", None, "ready")


def test_without_a_confirm_callback_run_asks_on_the_terminal(executor: Executor, fake: FakeSteps,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    executor.run("verify", yes=True)
    prompts: list[str] = []
    answers = iter(["y", "n"])
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or next(answers))
    outcome = executor.run()
    assert (outcome.position, outcome.message) == ("shadow", "stopped before canary-10 (not confirmed)")
    assert prompts[1] == f"Run canary-10 {CANARY_10}? It moves traffic. [y/N] "


def test_a_failing_step_is_recorded_and_run_resumes_from_it(executor: Executor, fake: FakeSteps,
                                                            store: StateStore, said: list[str]) -> None:
    gate = "shadow: mismatch rate 10.0% > 5.0% (4 of 40 compared requests differ)"
    fake.raises[("do", "shadow")] = GateFailed(gate)
    outcome = executor.run("canary-10", yes=True)
    assert (outcome.ok, outcome.position, outcome.message) == (False, "contract", gate)
    assert [s["step"] for s in outcome.steps] == CATALOG_STEPS[:6]
    assert said[-2:] == [f"!! {gate}", "   state saved at contract; `strangler run` resumes, `strangler rollback` "
                                       "returns"]
    state = store.get("catalog")
    assert (state.status, state.message, state.done_step, state.running, state.lock) == (
        "failed", gate, "contract", "failed:shadow", None)
    last = store.history("catalog")[-1]
    assert (last["step"], last["action"], last["outcome"], last["detail"]) == ("shadow", "do", "failed",
                                                                              {"message": gate})

    fake.calls.clear()
    outcome = executor.run("canary-10", yes=True)
    assert (outcome.ok, outcome.position, [s["step"] for s in outcome.steps]) == (True, "canary-10",
                                                                                  ["shadow", "canary-10"])
    assert fake.ids() == ["shadow", "canary-10"]
    state = store.get("catalog")
    assert (state.status, state.message) == ("ready", None)


@pytest.mark.parametrize(("error", "message"), [
    (StepFailed("sync (monolith to service) still 3 changes behind after 10 rounds"),
     "verify: sync (monolith to service) still 3 changes behind after 10 rounds"),
    (RouterUnavailable("router admin API at http://127.0.0.1:8081: refused"),
     "verify: router admin API at http://127.0.0.1:8081: refused"),
    (datasplit.DataSplitError("no changelog in the monolith database"),
     "verify: no changelog in the monolith database"),
])
def test_a_failure_message_names_the_step(executor: Executor, fake: FakeSteps, store: StateStore,
                                          error: Exception, message: str) -> None:
    fake.raises[("do", "verify")] = error
    outcome = executor.run("verify", yes=True)
    assert (outcome.ok, outcome.message, outcome.position) == (False, message, "sync")
    assert store.get("catalog").message == message


def test_a_crash_mid_step_leaves_it_running_and_run_resumes_it(executor: Executor, fake: FakeSteps,
                                                               store: StateStore) -> None:
    fake.raises[("do", "copy")] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        executor.run("verify", yes=True)
    state = store.get("catalog")
    assert (state.running, state.status, state.done_step, state.done_index, state.lock) == (
        "do:copy", "running", "capture", 1, None)

    fake.calls.clear()
    outcome = executor.run("verify", yes=True)
    assert outcome.ok and fake.ids() == ["copy", "sync", "verify"]
    assert (store.get("catalog").running, store.get("catalog").status) == (None, "ready")


def test_a_crash_recorded_by_another_process_is_resumed(executor: Executor, fake: FakeSteps,
                                                        store: StateStore) -> None:
    executor.run("copy", yes=True)
    store.begin("catalog", "sync", "do")  # the executor that began it was killed
    fake.calls.clear()
    assert executor.run("sync", yes=True).ok
    assert fake.ids() == ["sync"]


def test_rollback_to_a_step_undoes_in_reverse(executor: Executor, fake: FakeSteps, store: StateStore,
                                              said: list[str]) -> None:
    executor.run(yes=True)
    fake.calls.clear()
    said.clear()
    outcome = executor.rollback("verify")
    assert (outcome.action, outcome.ok, outcome.position) == ("rollback", True, "verify")
    undone = ["decommission", "cutover", "canary-50", "canary-10", "shadow", "contract"]
    assert outcome.steps == [{"step": s} for s in undone]
    assert fake.calls == [("undo", "decommission", 50.0), ("undo", "cutover", 50.0), ("undo", "canary-50", 10.0),
                          ("undo", "canary-10", None), ("undo", "shadow", None), ("undo", "contract", None)]
    assert said == [f"<< undo {s}" for s in undone]
    state = store.get("catalog")
    assert (state.done_index, state.done_step, state.running, state.status) == (4, "verify", None, "ready")
    assert state.figures["cutover"] == {"undo": "cutover"} and state.figures["verify"]["do"] == "verify"

    fake.calls.clear()
    assert executor.rollback("verify").steps == []  # already there
    outcome = executor.rollback()
    assert (outcome.ok, outcome.position) == (True, None)
    assert fake.ids("undo") == ["verify", "sync", "copy", "capture", "provision"]
    assert (store.get("catalog").done_index, store.get("catalog").done_step) == (-1, None)


def test_rollback_undoes_a_step_cut_short(executor: Executor, fake: FakeSteps, store: StateStore) -> None:
    executor.run("shadow", yes=True)
    fake.raises[("do", "canary-10")] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        executor.run("canary-10", yes=True)
    fake.calls.clear()
    outcome = executor.rollback("verify")
    assert fake.ids("undo") == ["canary-10", "shadow", "contract"]
    assert (outcome.position, store.get("catalog").running) == ("verify", None)


def test_an_interrupted_rollback_must_be_finished_before_running_forward(executor: Executor, fake: FakeSteps,
                                                                         store: StateStore) -> None:
    executor.run("cutover", yes=True)
    fake.raises[("undo", "canary-50")] = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        executor.rollback("shadow")
    assert store.get("catalog").running == "undo:canary-50"
    fake.calls.clear()
    with pytest.raises(PlanRunError) as caught:
        executor.run(yes=True)
    assert str(caught.value) == ("plan 'catalog': a rollback of canary-50 was interrupted; finish it with "
                                 "`strangler rollback` before running forward")
    assert fake.calls == []
    outcome = executor.rollback("shadow")
    assert fake.ids("undo") == ["canary-50", "canary-10"] and outcome.position == "shadow"


def test_a_failed_undo_stops_the_rollback_and_is_retried(executor: Executor, fake: FakeSteps,
                                                         store: StateStore, said: list[str]) -> None:
    executor.run("cutover", yes=True)
    fake.raises[("undo", "cutover")] = StepFailed("verify: products: differs")
    outcome = executor.rollback("verify")
    assert (outcome.ok, outcome.position, outcome.steps, outcome.message) == (
        False, "cutover", [], "undo cutover: verify: products: differs")
    assert said[-1] == "!! undo cutover: verify: products: differs"
    state = store.get("catalog")
    assert (state.status, state.done_step, state.running, state.message) == (
        "failed", "cutover", "undo:cutover", "undo cutover: verify: products: differs")
    # Half undone: running forward from here would skip it; only rollback goes on.
    fake.calls.clear()
    with pytest.raises(PlanRunError, match="a rollback of cutover was interrupted"):
        executor.run(yes=True)
    assert fake.calls == []
    outcome = executor.rollback("verify")
    assert outcome.ok and fake.ids("undo") == ["cutover", "canary-50", "canary-10", "shadow", "contract"]


def test_a_second_executor_is_refused(executor: Executor, fake: FakeSteps, store: StateStore) -> None:
    store.get("catalog")
    db = sqlite3.connect(store.path)
    with db:  # held by a live process of this host that is not this one (as another executor would hold it)
        db.execute("UPDATE plan_state SET lock_host = ?, lock_pid = ?, lock_at = ? WHERE plan = 'catalog'",
                   (socket.gethostname(), os.getppid(), time.time()))
    db.close()
    with pytest.raises(PlanLocked, match=rf"^plan 'catalog' is being run by another executor \(pid {os.getppid()} "):
        executor.run(yes=True)
    with pytest.raises(PlanLocked):
        executor.rollback()
    assert fake.calls == [] and store.history("catalog") == []


def test_status_shape(executor: Executor, fake: FakeSteps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUTER_ADMIN_TOKEN", raising=False)
    executor.run("capture", yes=True)
    status = executor.status()
    assert set(status) == {"plan", "file", "status", "message", "at", "running", "lock", "since", "steps",
                           "figures", "live"}
    assert (status["plan"], status["file"], status["status"], status["message"], status["at"], status["running"],
            status["lock"]) == ("catalog", str(CATALOG_PLAN), "ready", None, "capture", None, None)
    assert status["steps"] == [{"step": s, "done": i < 2} for i, s in enumerate(CATALOG_STEPS)]
    assert set(status["figures"]) == {"provision", "capture"}
    assert len(status["since"]) == 19 and status["since"][10] == "T"
    # Before the copy there is no sync to report and no ownership guard; without the token the routes say why.
    assert status["live"]["routes"] == {"error": "router.token_env: set ROUTER_ADMIN_TOKEN to the router's admin "
                                                 "token"}
    assert status["live"]["ownership"]["state"] == "unguarded"
    assert set(status["live"]) == {"routes", "ownership"}
    json.dumps(status)  # JSON as it is
    assert "live" not in executor.status(live=False)


def test_sync_direction_follows_the_plan(executor: Executor, fake: FakeSteps) -> None:
    assert executor.sync_direction() is None
    executor.run("copy", yes=True)
    assert executor.sync_direction() == "forward"
    executor.run("cutover", yes=True)
    assert executor.sync_direction() == "reverse"
    executor.run(yes=True)
    assert executor.sync_direction() is None


def test_rollback_after_a_failed_gate_undoes_that_gate_first(executor: Executor, fake: FakeSteps,
                                                             store: StateStore) -> None:
    fake.raises[("do", "shadow")] = GateFailed("shadow: mismatch rate 10.0% > 5.0% (4 of 40 compared)")
    assert not executor.run("canary-10", yes=True).ok
    outcome = executor.rollback("verify")
    assert outcome.ok and outcome.position == "verify"
    assert fake.ids("undo") == ["shadow", "contract"]  # the mirror it left on is taken off
    assert store.get("catalog").running is None


def test_rollback_after_a_failed_data_step_does_not_undo_it(executor: Executor, fake: FakeSteps) -> None:
    fake.raises[("do", "copy")] = StepFailed("copy: the database refused")
    assert not executor.run("verify", yes=True).ok
    outcome = executor.rollback()
    assert outcome.ok and outcome.position is None
    assert fake.ids("undo") == ["capture", "provision"]
