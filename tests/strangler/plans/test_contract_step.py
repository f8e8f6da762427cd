"""The plan's ``contract`` step: its schema (between verify and shadow, strict keys and types) and what the
executor does with it (the check's figures into the status; a failed check stops the run naming the request).
The check itself against real processes: tests/strangler/contract/test_contract.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from strangler.plans import contract_gate as contract_gate_module
from strangler.plans import steps
from strangler.plans.exceptions import GateFailed, PlanFileError
from strangler.plans.executor import Executor
from strangler.plans.schema import ContractGate, load_executor_plan
from strangler.plans.state import StateStore

from .conftest import CATALOG_PLAN


def problems(path: Path) -> list[str]:
    with pytest.raises(PlanFileError) as caught:
        load_executor_plan(path)
    return [line.split(": ", 1)[1] for line in caught.value.problems]


def _contract(index: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"][index] = value
    return edit


def test_a_bare_contract_step_takes_the_defaults(write_plan: Callable[..., Path]) -> None:
    plan = load_executor_plan(write_plan(_contract(5, "contract")))
    spec = plan.steps[5].spec
    assert spec == ContractGate()
    assert (spec.examples, spec.max_differences, spec.seed, spec.routes, spec.openapi, spec.ignore) == (
        500, 0, None, "router/routes.yaml", "/api/schema/?format=json", None)
    assert spec.identities == ["anonymous", "user", "staff", "bad-token", "revoked-token"] and spec.accept == []
    assert "vary" in spec.headers and "content-type" in spec.headers


@pytest.mark.parametrize(("value", "expected"), [
    ({"contract": {"exampels": 10}}, ["steps[5].contract.exampels: unknown key (did you mean 'examples'?)"]),
    ({"contract": {"examples": 0}}, ["steps[5].contract.examples: expected an integer >= 1, got 0"]),
    ({"contract": {"max_differences": -1}}, ["steps[5].contract.max_differences: expected an integer >= 0, got -1"]),
    ({"contract": {"examples": True}}, ["steps[5].contract.examples: expected an integer, got True"]),
    ({"contract": {"ignore": ["stock"]}}, ["steps[5].contract.ignore[0]: 'stock' is not a JSON path: it must start "
                                           "with '$' (e.g. '$.results[*].updated_at')"]),
    ({"contract": {"headers": ["no such header"]}}, ["steps[5].contract.headers[0]: 'no such header' is not an HTTP "
                                                     "header name"]),
    ({"contract": {"identities": ["root"]}}, ["steps[5].contract.identities[0]: expected 'anonymous', 'user', "
                                              "'staff', 'bad-token' or 'revoked-token', got 'root'"]),
    ({"contract": {"accept": [""]}}, ["steps[5].contract.accept[0]: expected a non-empty string, got ''"]),
    ({"contract": {"openapi": "api/schema/"}}, ["steps[5].contract.openapi: expected a path starting with '/', got "
                                                "'api/schema/'"]),
])
def test_a_bad_contract_step_is_refused_naming_the_key(write_plan: Callable[..., Path], value: Any,
                                                       expected: list[str]) -> None:
    assert problems(write_plan(_contract(5, value))) == expected


def test_the_contract_step_comes_after_verify_and_before_shadow(write_plan: Callable[..., Path]) -> None:
    def late(doc: dict[str, Any]) -> None:
        doc["steps"].insert(7, doc["steps"].pop(5))  # after shadow and the first canary

    assert problems(write_plan(late)) == [
        "steps: out of order (provision, capture, copy, sync, verify, shadow, canary, contract, canary, cutover, "
        "decommission); the order is provision, capture, copy, sync, verify, contract, shadow, canary, cutover, "
        "decommission"]


def test_the_executor_runs_the_check_and_keeps_its_figures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[tuple[Path, str, ContractGate]] = []

    def passing(plan_path: Path, step: str, gate: ContractGate, say: Any, root: Path) -> dict[str, Any]:
        seen.append((plan_path, step, gate))
        return {"ok": True, "examples": gate.examples, "pairs_per_second": 80.0, "differences": 0}

    monkeypatch.setattr(contract_gate_module, "contract_gate", passing)
    done: list[str] = []
    monkeypatch.setattr(steps, "undo", lambda step, ctx, previous: {"undone": step.id})

    original = steps.do

    def do(step: Any, ctx: Any, previous: float | None) -> dict[str, Any]:
        done.append(step.id)
        if step.kind != "contract":
            return {"faked": step.id}
        return original(step, ctx, previous)

    monkeypatch.setattr(steps, "do", do)
    store = StateStore(tmp_path / "state.sqlite3")
    outcome = Executor(CATALOG_PLAN, say=lambda _: None, state=store).run("contract", yes=True)
    assert outcome.ok and outcome.position == "contract" and done[-1] == "contract"
    assert seen[0][0] == CATALOG_PLAN and seen[0][1] == "contract" and seen[0][2].examples == 300
    figures = store.get("catalog").figures["contract"]
    assert (figures["examples"], figures["pairs_per_second"], figures["differences"]) == (300, 80.0, 0)


def test_a_failed_check_stops_the_run_at_the_gate_naming_the_request(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    message = ("contract: 1 kind(s) of difference > 0 allowed (seed 1, 300 examples); the smallest request of each:\n"
               "  - GET /api/catalog/products/: body $.count (value): GET /api/catalog/products/?max_price=0 as "
               "anonymous")

    def failing(plan_path: Path, step: str, gate: ContractGate, say: Any, root: Path) -> dict[str, Any]:
        raise GateFailed(message)

    monkeypatch.setattr(contract_gate_module, "contract_gate", failing)
    original = steps.do
    monkeypatch.setattr(steps, "do", lambda step, ctx, previous: (
        original(step, ctx, previous) if step.kind == "contract" else {"faked": step.id}))
    store = StateStore(tmp_path / "state.sqlite3")
    said: list[str] = []
    outcome = Executor(CATALOG_PLAN, say=said.append, state=store).run(yes=True)
    assert (outcome.ok, outcome.position, outcome.message) == (False, "verify", message)
    state = store.get("catalog")
    assert (state.status, state.running, state.message) == ("failed", "failed:contract", message)
    assert f"!! {message}" in said
