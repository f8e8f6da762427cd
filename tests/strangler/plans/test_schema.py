"""The executor's part of a plan file: the real plan loads; every bad file is refused with the file, the field
and what was expected (exact messages), all problems at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from strangler.plans.exceptions import PlanFileError
from strangler.plans.schema import CanaryGate, CutoverSpec, ShadowGate, load_executor_plan

from .conftest import CATALOG_PLAN, CATALOG_STEPS

ORDER = "provision, capture, copy, sync, verify, shadow, canary, cutover, decommission"
KNOWN = "canary, capture, copy, cutover, decommission, provision, shadow, sync, verify"


def problems(path: Path) -> list[str]:
    with pytest.raises(PlanFileError) as caught:
        load_executor_plan(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def test_the_catalog_plan_loads() -> None:
    plan = load_executor_plan(CATALOG_PLAN)
    assert plan.name == "catalog"
    assert [s.id for s in plan.steps] == CATALOG_STEPS
    assert [s.kind for s in plan.steps] == ["provision", "capture", "copy", "sync", "verify", "shadow", "canary",
                                            "canary", "cutover", "decommission"]
    assert plan.service.name == "catalog" and plan.service.url == "http://127.0.0.1:8101"
    assert plan.service.health == "/healthz"
    assert (plan.router.admin_url, plan.router.token_env, plan.router.monolith_backend,
            plan.router.service_backend) == ("http://127.0.0.1:8081", "ROUTER_ADMIN_TOKEN", "monolith", "catalog")
    assert (plan.endpoints.reads, plan.endpoints.writes) == ("catalog-reads", "catalog-writes")
    shadow, canary10, canary50, cutover = plan.steps[5].spec, plan.steps[6].spec, plan.steps[7].spec, plan.steps[8].spec
    assert shadow == ShadowGate(min_requests=30, max_mismatch_rate=0.05, timeout=180,
                                ignore=["$..stock", "$..updated_at", "$..description"])
    assert canary10 == CanaryGate(percent=10, min_requests=20, max_error_rate=0.01, max_p99_ratio=3.0, timeout=180)
    assert canary50.percent == 50 and canary50.min_requests == 40
    assert cutover == CutoverSpec(freeze_seconds=5, also_freeze=["orders-writes", "checkout-page"])
    assert all(s.spec is None for s in plan.steps if s.kind in ("provision", "copy", "decommission"))
    assert plan.hooks.after_cutover == [["{python}", "manage.py", "catalog_gateway", "remote"]]
    assert plan.hooks.after_rollback == [["{python}", "manage.py", "catalog_gateway", "local"]]
    assert plan.index("canary-50") == 7


def test_an_unknown_step_id_names_the_file_and_the_steps() -> None:
    plan = load_executor_plan(CATALOG_PLAN)
    with pytest.raises(PlanFileError) as caught:
        plan.index("canary-20")
    assert caught.value.problems == [f"{CATALOG_PLAN}: no step 'canary-20' (steps: {', '.join(CATALOG_STEPS)})"]


def test_defaults_fill_a_bare_shadow_step(write_plan: Callable[..., Path]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"][5] = "shadow"

    plan = load_executor_plan(write_plan(edit))
    assert plan.steps[5].spec == ShadowGate()
    assert (plan.steps[5].spec.min_requests, plan.steps[5].spec.max_mismatch_rate) == (50, 0.0)


def test_a_plan_without_cutover_needs_no_writes_route_nor_url(write_plan: Callable[..., Path]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"] = doc["steps"][:8]
        del doc["endpoints"]["writes"]
        del doc["service"]["url"]

    plan = load_executor_plan(write_plan(edit))
    assert plan.steps[-1].id == "canary-50" and plan.endpoints.writes is None and plan.service.url is None


def _set_step(index: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"][index] = value
    return edit


def _canary(percent: Any) -> dict[str, Any]:
    return {"canary": {"percent": percent, "min_requests": 20}}


def _swap(a: int, b: int) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"][a], doc["steps"][b] = doc["steps"][b], doc["steps"][a]
    return edit


def _insert(index: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"].insert(index, value)
    return edit


def _set(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc[section][key] = value
    return edit


def _delete(section: str, key: str | None = None) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        if key is None:
            del doc[section]
        else:
            del doc[section][key]
    return edit


def _rename(section: str, old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc[section][new] = doc[section].pop(old)
    return edit


def _shadow_typo(doc: dict[str, Any]) -> None:
    doc["steps"][5] = {"shadow": {"min_request": 30, "max_mismatch_rate": 0.05}}


def _steps(value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"] = value
    return edit


BAD = {
    "unknown step": (_set_step(4, "verfy"), [f"steps[4]: unknown step 'verfy' (known: {KNOWN})"]),
    "settings on a simple step": (_set_step(2, {"copy": {"batch_size": 10}}),
                                  ["steps[2].copy: this step takes no settings"]),
    "canary 0": (_set_step(6, _canary(0)), ["steps[6].canary.percent: Input should be greater than 0 (got 0)"]),
    "canary 140": (_set_step(6, _canary(140)),
                   ["steps[6].canary.percent: Input should be less than or equal to 100 (got 140)"]),
    "canary ten": (_set_step(6, _canary("ten")),
                   ["steps[6].canary.percent: Input should be a valid number, unable to parse string as a number "
                    "(got 'ten')"]),
    "canary without percent": (_set_step(6, "canary"), ["steps[6].canary.percent: required"]),
    "canaries not rising": (_swap(6, 7), ["steps: canary percentages must rise (50, 10)"]),
    "out of order": (_swap(1, 2), [f"steps: out of order (provision, copy, capture, sync, verify, shadow, canary, "
                                   f"canary, cutover, decommission); the order is {ORDER}"]),
    "duplicate step": (_insert(4, "sync"), ["steps[4]: step 'sync' appears twice"]),
    "duplicate canary": (_insert(7, _canary(10)), ["steps[7]: step 'canary-10' appears twice"]),
    "two-key step": (_set_step(5, {"shadow": {}, "canary": {}}),
                     ["steps[5]: a step is a name or a one-key mapping {name: {...}}, "
                      "got {'shadow': {}, 'canary': {}}"]),
    "router typo": (_set("router", "admin_ulr", "http://x"), ["router.admin_ulr: unknown key"]),
    "router without service backend": (_delete("router", "service_backend"), ["router.service_backend: required"]),
    "endpoints typo": (_set("endpoints", "write", "catalog-writes"), ["endpoints.write: unknown key"]),
    "gate typo": (_shadow_typo, ["steps[5].shadow.min_request: unknown key"]),
    "gate out of range": (_set_step(5, {"shadow": {"max_mismatch_rate": 1.5}}),
                          ["steps[5].shadow.max_mismatch_rate: Input should be less than or equal to 1 (got 1.5)"]),
    "missing endpoints.reads": (_delete("endpoints", "reads"), ["endpoints.reads: required"]),
    "renamed endpoints.reads": (_rename("endpoints", "reads", "read"),
                                ["endpoints.reads: required", "endpoints.read: unknown key"]),
    "no endpoints at all": (_delete("endpoints"), ["endpoints.reads: required"]),
    "cutover without writes": (_delete("endpoints", "writes"),
                               ["endpoints.writes: required for a cutover (the write freeze and the switch)"]),
    "cutover without service url": (_delete("service", "url"),
                                    ["service.url: required once traffic moves to the service"]),
    "steps a mapping": (_steps({"provision": None}), ["steps: expected a non-empty list of steps"]),
    "steps empty": (_steps([]), ["steps: expected a non-empty list of steps"]),
    "steps missing": (_delete("steps"), ["steps: expected a non-empty list of steps"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_plan_names_the_file_and_the_field(write_plan: Callable[..., Path], case: str) -> None:
    edit, expected = BAD[case]
    path = write_plan(edit)
    assert problems(path) == [f"{path}: {line}" for line in expected]


def test_every_problem_is_reported_at_once(write_plan: Callable[..., Path]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["router"]["tokn_env"] = "X"
        doc["steps"][6] = _canary(140)
        doc["steps"][2] = "kopy"

    path = write_plan(edit)
    assert problems(path) == [
        f"{path}: router.tokn_env: unknown key",
        f"{path}: steps[2]: unknown step 'kopy' (known: {KNOWN})",
        f"{path}: steps[6].canary.percent: Input should be less than or equal to 100 (got 140)",
    ]


def test_a_yaml_syntax_error_names_the_file_and_the_line(write_plan: Callable[..., Path]) -> None:
    path = write_plan(text="name: x\nsteps: [\n  - provision\n")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}: not valid YAML: ")
    assert "line 3, column 3" in problem


def test_a_plan_must_be_a_mapping(write_plan: Callable[..., Path]) -> None:
    path = write_plan(text="- provision\n- copy\n")
    assert problems(path) == [f"{path}: expected a mapping at the top"]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert problems(path) == [f"{path}: cannot read: No such file or directory"]
