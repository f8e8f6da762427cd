"""``requires:``: a plan's cutover waits for the plans it requires to be cut over, and a required plan's cutover is
not undone while a plan requiring it stands at or past its own: checked before a run starts (nothing spent on
gates first) and again in the transaction that records the step as begun (two executors cannot slip past each
other). The file's key is checked like every other. Steps' work is faked, as in test_executor.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from strangler.planfile.model import PlanFileInvalid
from strangler.planfile.reader import read_plan_file
from strangler.plans import steps
from strangler.plans.exceptions import RequirementUnmet
from strangler.plans.executor import Executor
from strangler.plans.schema import Step
from strangler.plans.state import StateStore

from .conftest import CATALOG_STEPS, catalog_doc


class Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def do(self, step: Step, ctx: steps.Context, previous: float | None) -> dict[str, Any]:
        self.calls.append(("do", ctx.plan.name, step.id))
        return {}

    def undo(self, step: Step, ctx: steps.Context, previous: float | None) -> dict[str, Any]:
        self.calls.append(("undo", ctx.plan.name, step.id))
        return {}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Recorded:
    faked = Recorded()
    monkeypatch.setattr(steps, "do", faked.do)
    monkeypatch.setattr(steps, "undo", faked.undo)
    return faked


def write(folder: Path, name: str, **extra: Any) -> Path:
    """The catalog plan under another name (and its own bookkeeping), plus ``extra`` top-level keys."""
    doc = copy.deepcopy(catalog_doc())
    doc["name"] = name
    doc.update(extra)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state.sqlite3")


@pytest.fixture
def plans(tmp_path: Path) -> dict[str, Path]:
    return {"catalog": write(tmp_path, "catalog"), "cart": write(tmp_path, "cart"),
            "orders": write(tmp_path, "orders", requires=["catalog", "cart"])}


def executor(path: Path, store: StateStore, said: list[str] | None = None) -> Executor:
    return Executor(path, say=(said if said is not None else []).append, state=store)


def test_a_cutover_waits_for_every_plan_it_requires(plans: dict[str, Path], store: StateStore,
                                                    recorded: Recorded) -> None:
    said: list[str] = []
    orders = executor(plans["orders"], store, said)
    refused = orders.run(yes=True)
    assert not refused.ok and refused.position is None
    assert refused.message == (
        f"cutover: plan 'orders' requires plan 'catalog' cut over first, and it stands at the start: run it to its "
        f"cutover (strangler run {plans['catalog']} --to cutover), then this one")
    assert said == [f"!! {refused.message}"]
    assert recorded.calls == []                                 # refused before any step, gates included
    assert store.get("orders").running is None and store.history("orders") == []

    assert orders.run("canary-50", yes=True).ok                 # the steps before the cutover need nothing
    assert executor(plans["catalog"], store).run("cutover", yes=True).ok
    refused = orders.run(yes=True)
    assert not refused.ok and "requires plan 'cart' cut over first, and it stands at the start" in str(refused.message)
    assert executor(plans["cart"], store).run("canary-50", yes=True).ok
    assert "'cart' cut over first, and it stands at canary-50" in str(orders.run(yes=True).message)

    assert executor(plans["cart"], store).run("cutover", yes=True).ok
    recorded.calls.clear()
    done = orders.run(yes=True)
    assert done.ok and done.position == "decommission"
    assert recorded.calls == [("do", "orders", "cutover"), ("do", "orders", "decommission")]
    assert orders.status(live=False)["requires"] == {
        "catalog": {"at": "cutover", "running": None, "cut_over": True},
        "cart": {"at": "cutover", "running": None, "cut_over": True}}


def test_a_required_plan_is_not_rolled_back_under_a_dependent_at_its_cutover(
        plans: dict[str, Path], store: StateStore, recorded: Recorded) -> None:
    for name in ("catalog", "cart", "orders"):
        assert executor(plans[name], store).run("cutover", yes=True).ok
    recorded.calls.clear()

    catalog = executor(plans["catalog"], store)
    refused = catalog.rollback("verify")
    assert not refused.ok and refused.position == "cutover"
    assert refused.message == (
        f"undo cutover: plan 'orders' requires plan 'catalog' cut over, and it stands at cutover: roll it back "
        f"first (strangler rollback {plans['orders']} --to verify), then this one")
    assert recorded.calls == []
    assert (store.get("catalog").done_step, store.get("catalog").running) == ("cutover", None)
    assert catalog.rollback("cutover").ok                       # nothing to undo: not a cutover's undo

    # Steps after the cutover are undone only together with it: the whole rollback is refused up front.
    assert executor(plans["cart"], store).run(yes=True).ok      # decommissioned
    refused = executor(plans["cart"], store).rollback("verify")
    assert not refused.ok and refused.position == "decommission" and recorded.calls[-1][0] == "do"

    assert executor(plans["orders"], store).rollback("verify").ok
    assert catalog.rollback("verify").ok
    assert [c for c in recorded.calls if c[0] == "undo"][-5:] == [
        ("undo", "catalog", step) for step in ("cutover", "canary-50", "canary-10", "shadow", "contract")]


@pytest.mark.parametrize("dependent_running", ["do:cutover", "failed:cutover", "undo:cutover", "do:decommission"])
def test_a_dependent_anywhere_in_its_cutover_blocks_the_undo(
        store: StateStore, tmp_path: Path, dependent_running: str) -> None:
    """As recorded by a dependent's executor that is running (or died) in its cutover: the required plan's undo
    is refused in the very transaction that would begin it."""
    store.end("catalog", "cutover", "do", done_index=9, done_step="cutover")
    store.begin("orders", "cutover", "do", cutover=True, requires=("catalog",))
    store.end("orders", "canary-50", "do", done_index=8, done_step="canary-50")   # back before its cutover...
    action, _, step = dependent_running.partition(":")
    store.begin("orders", step, action if action != "failed" else "do")           # ...and now in it
    if action == "failed":
        store.fail("orders", step, "do", "cutover: lease lost")
    with pytest.raises(RequirementUnmet, match="plan 'orders' requires plan 'catalog' cut over"):
        store.begin("catalog", "cutover", "undo", cutover=True)
    assert store.get("catalog").running is None                 # nothing begun


def test_a_cutover_is_refused_while_a_required_plan_is_being_rolled_back(store: StateStore) -> None:
    store.end("catalog", "cutover", "do", done_index=9, done_step="cutover")
    store.begin("catalog", "cutover", "undo", cutover=True)     # no dependent recorded yet: allowed
    with pytest.raises(RequirementUnmet, match="'catalog' cut over first, and it stands at cutover, undo:cutover"):
        store.begin("orders", "cutover", "do", cutover=True, requires=("catalog",))
    assert store.get("orders").running is None
    assert store.required(("catalog", "nobody")) == {
        "catalog": {"at": "cutover", "running": "undo:cutover", "cut_over": False},
        "nobody": {"at": None, "running": None, "cut_over": False}}
    assert [s.plan for s in store.all()] == ["catalog", "orders"]   # asking about a plan makes no row for it


def test_a_dependent_that_no_longer_requires_it_blocks_nothing(plans: dict[str, Path], store: StateStore,
                                                              recorded: Recorded, tmp_path: Path) -> None:
    """What a plan requires is recorded at its cutover, as its file says then."""
    for name in ("catalog", "cart", "orders"):
        assert executor(plans[name], store).run("cutover", yes=True).ok
    assert executor(plans["orders"], store).rollback("canary-50").ok
    write(tmp_path, "orders", requires=["cart"])
    assert executor(plans["orders"], store).run("cutover", yes=True).ok
    assert executor(plans["catalog"], store).rollback("verify").ok
    assert not executor(plans["cart"], store).rollback("verify").ok


@pytest.mark.parametrize(("requires", "expected"), [
    ("catalog", "requires: expected a list of plan names (the plans whose cutovers must come first), got 'catalog'"),
    (["cart", "cart"], "requires[1]: 'cart' is already requires[0]"),
    (["orders"], "requires[0]: 'orders' is this plan's own name (a plan cannot wait for itself)"),
    (["no such plan!"], "requires[0]:"),
    ([7], "requires[0]:"),
])
def test_bad_requires_are_refused_naming_the_key(tmp_path: Path, requires: Any, expected: str) -> None:
    path = write(tmp_path, "orders", requires=requires)
    with pytest.raises(PlanFileInvalid) as caught:
        read_plan_file(path, executor=True)
    lines = [f"{field}: {message}" for field, message in caught.value.problems]
    assert any(line.startswith(expected) for line in lines), lines


def test_requires_without_a_cutover_is_refused(tmp_path: Path) -> None:
    doc = copy.deepcopy(catalog_doc())
    doc.update(name="orders", requires=["catalog"], steps=CATALOG_STEPS[:5])
    del doc["hooks"]
    path = tmp_path / "orders.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(PlanFileInvalid, match="requires: the plan has no cutover step"):
        read_plan_file(path, executor=True)


def test_the_orders_plan_requires_the_catalog_and_the_cart() -> None:
    from .conftest import ROOT

    assert read_plan_file(ROOT / "migration_plans" / "orders.yaml", executor=True).requires == ("catalog", "cart")
