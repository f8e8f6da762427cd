"""The plan file's one schema, as the executor loads it: the real plan loads; every bad file is refused with the
file, the key path and what was expected (exact messages), all problems at once; YAML that could hang or
crash the reader is refused before it does."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from strangler.plans.exceptions import PlanFileError
from strangler.plans.schema import CanaryGate, ContractGate, CutoverSpec, Hook, ShadowGate, load_executor_plan

from .conftest import CATALOG_PLAN, CATALOG_STEPS

ORDER = "provision, capture, copy, sync, verify, contract, shadow, canary, cutover, decommission"
KNOWN = "canary, capture, contract, copy, cutover, decommission, provision, shadow, sync, verify"
GATEWAY = Hook(name="catalog-gateway", at="cutover", do=("{python}", "manage.py", "catalog_gateway", "remote"),
               undo=("{python}", "manage.py", "catalog_gateway", "local"), timeout=30.0, prepare=True)


def problems(path: Path) -> list[str]:
    with pytest.raises(PlanFileError) as caught:
        load_executor_plan(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def test_the_catalog_plan_loads() -> None:
    plan = load_executor_plan(CATALOG_PLAN)
    assert plan.name == "catalog"
    assert [s.id for s in plan.steps] == CATALOG_STEPS
    assert [s.kind for s in plan.steps] == ["provision", "capture", "copy", "sync", "verify", "contract", "shadow",
                                            "canary", "canary", "cutover", "decommission"]
    assert plan.service.name == "catalog" and plan.service.url == "http://127.0.0.1:8101"
    assert plan.service.health == "/healthz" and plan.service.monolith_url_env == "CATALOG_MONOLITH_URL"
    assert plan.service.start == ["{python}", "-m", "extracted.catalog", "--port", "8101"]
    assert (plan.router.admin_url, plan.router.token_env, plan.router.monolith_backend,
            plan.router.service_backend) == ("http://127.0.0.1:8081", "ROUTER_ADMIN_TOKEN", "monolith", "catalog")
    assert (plan.endpoints.reads, plan.endpoints.writes) == (("catalog-reads",), ("catalog-writes",))
    contract, shadow, canary10, canary50, cutover = (s.spec for s in plan.steps[5:10])
    # No accepted differences, every identity (refused credentials included).
    assert contract == ContractGate(examples=300, max_differences=0)
    assert shadow == ShadowGate(min_requests=30, max_mismatch_rate=0.05, timeout=180,
                                ignore=["$..stock", "$..updated_at", "$..description"])
    assert canary10 == CanaryGate(percent=10, min_requests=20, max_error_rate=0.01, max_p99_ratio=3.0, timeout=180)
    assert canary50.percent == 50 and canary50.min_requests == 40
    assert cutover == CutoverSpec(freeze_seconds=5, lease_seconds=3, max_sync_rounds=20,
                                  also_freeze=["orders-writes", "checkout-page"])
    assert all(s.spec is None for s in plan.steps if s.kind in ("provision", "copy", "decommission"))
    assert plan.hooks == (GATEWAY,)
    assert plan.hooks_at("cutover") == (GATEWAY,) and plan.hooks_at("canary") == ()
    assert plan.index("canary-50") == 8


def test_an_unknown_step_id_names_the_file_and_the_steps() -> None:
    plan = load_executor_plan(CATALOG_PLAN)
    with pytest.raises(PlanFileError) as caught:
        plan.index("canary-20")
    assert caught.value.problems == [f"{CATALOG_PLAN}: no step 'canary-20' (steps: {', '.join(CATALOG_STEPS)})"]


def test_defaults_fill_a_bare_shadow_and_cutover(write_plan: Callable[..., Path]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"][6] = "shadow"
        doc["steps"][9] = {"cutover": None}
        del doc["hooks"][0]["timeout"]

    plan = load_executor_plan(write_plan(edit))
    assert plan.steps[6].spec == ShadowGate()
    assert (plan.steps[6].spec.min_requests, plan.steps[6].spec.max_mismatch_rate) == (50, 0.0)
    assert plan.steps[9].spec == CutoverSpec()
    assert (CutoverSpec().freeze_seconds, CutoverSpec().lease_seconds, CutoverSpec().max_sync_rounds,
            CutoverSpec().also_freeze) == (5.0, 3.0, 20, [])
    assert plan.hooks[0].timeout == 30.0


def test_a_plan_without_cutover_needs_no_writes_route_nor_url_nor_hooks(write_plan: Callable[..., Path]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"] = doc["steps"][:9]
        del doc["endpoints"]["writes"]
        del doc["service"]["url"]
        del doc["hooks"]

    plan = load_executor_plan(write_plan(edit))
    assert plan.steps[-1].id == "canary-50" and plan.endpoints.writes == () and plan.service.url is None
    assert plan.hooks == ()


def test_hooks_keep_their_order_per_step(write_plan: Callable[..., Path]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["hooks"].append({"name": "cache_flush", "at": "cutover", "do": ["true"], "undo": ["true"],
                             "timeout": 2.5})

    plan = load_executor_plan(write_plan(edit))
    assert [h.name for h in plan.hooks_at("cutover")] == ["catalog-gateway", "cache_flush"]
    assert plan.hooks[1] == Hook("cache_flush", "cutover", ("true",), ("true",), 2.5)


def _set_step(index: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"][index] = value
    return edit


def _canary(percent: Any, **more: Any) -> dict[str, Any]:
    return {"canary": {"percent": percent, "min_requests": 20, **more}}


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


def _top(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc[key] = value
    return edit


def _delete(section: str, key: str | None = None) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        if key is None:
            del doc[section]
        else:
            del doc[section][key]
    return edit


def _rename(section: str | None, old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        where = doc if section is None else doc[section]
        where[new] = where.pop(old)
    return edit


def _hook(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        doc["hooks"][0].update(changes)
    return edit


def _second_hook(doc: dict[str, Any]) -> None:
    doc["hooks"].append({**doc["hooks"][0], "do": ["true"], "undo": ["true"]})


def _old_hooks(doc: dict[str, Any]) -> None:
    doc["hooks"] = {"after_cutover": [["{python}", "manage.py", "catalog_gateway", "remote"]],
                    "after_rollback": [["{python}", "manage.py", "catalog_gateway", "local"]]}


def _cutover(**spec: Any) -> Callable[[dict[str, Any]], None]:
    return _set_step(8, {"cutover": spec})


OLD_HOOKS = ("hooks: the after_cutover/after_rollback form is gone: hooks are a list of named sub-steps with their "
             "own undo, e.g. hooks: [{name: gateway, at: cutover, do: [<the after_cutover command>], "
             "undo: [<the after_rollback command>], timeout: 30}]")

BAD = {
    # The broken plans that `plan check` used to accept, each now a problem naming its key.
    "unknown top-level key": (_top("rollout", "fast"), ["rollout: unknown key (did you mean 'router'?)"]),
    "misspelt hooks": (_rename(None, "hooks", "hook"), ["hook: unknown key (did you mean 'hooks'?)"]),
    "percent true": (_set_step(6, _canary(True)), ["steps[6].canary.percent: expected a number, got True"]),
    "start empty": (_set("service", "start", []),
                    ["service.start: expected at least one argument (the program to run), got []"]),
    "ftp admin url": (_set("router", "admin_url", "ftp://127.0.0.1:8081"),
                      ["router.admin_url: expected an http:// or https:// URL with a host, got "
                       "'ftp://127.0.0.1:8081'"]),
    "url without host": (_set("service", "url", "http:///healthz"),
                         ["service.url: expected an http:// or https:// URL with a host, got 'http:///healthz'"]),
    "misspelt gate key": (_set_step(6, {"canary": {"percent": 10, "min_requets": 20}}),
                          ["steps[6].canary.min_requets: unknown key (did you mean 'min_requests'?)"]),
    "misspelt percent": (_set_step(6, {"canary": {"percnt": 10}}),
                         ["steps[6].canary.percent: required",
                          "steps[6].canary.percnt: unknown key (did you mean 'percent'?)"]),
    # Strict types: nothing is coerced.
    "number as text": (_set("router", "service_backend", 5), ["router.service_backend: expected a string, got 5"]),
    "bool as count": (_set_step(5, {"shadow": {"min_requests": True}}),
                      ["steps[5].shadow.min_requests: expected an integer, got True"]),
    "float as count": (_cutover(max_sync_rounds=2.5),
                       ["steps[8].cutover.max_sync_rounds: expected an integer, got 2.5"]),
    "infinite timeout": (_set_step(6, _canary(10, timeout=float("inf"))),
                         ["steps[6].canary.timeout: expected a finite number, got inf"]),
    "route name with a space": (_set("endpoints", "reads", "catalog reads"),
                                ["endpoints.reads: 'catalog reads' is not a name (letters, digits, - and _, starting "
                                 "with a letter or digit; at most 63)"]),
    "token env not a variable": (_set("router", "token_env", "ROUTER-TOKEN"),
                                 ["router.token_env: 'ROUTER-TOKEN' is not an environment variable name (letters, "
                                  "digits, '_')"]),
    "health not a path": (_set("service", "health", "healthz"),
                          ["service.health: expected a path starting with '/', got 'healthz'"]),
    "shadow rule not a JSON path": (_set_step(5, {"shadow": {"ignore": ["stock"]}}),
                                    ["steps[5].shadow.ignore[0]: 'stock' is not a JSON path: it must start with '$' "
                                     "(e.g. '$.results[*].updated_at')"]),
    # The cutover's limits.
    "freeze too long": (_cutover(freeze_seconds=301), ["steps[8].cutover.freeze_seconds: expected a number <= 300, "
                                                       "got 301"]),
    "lease zero": (_cutover(lease_seconds=0), ["steps[8].cutover.lease_seconds: expected a number > 0, got 0"]),
    "lease too long": (_cutover(lease_seconds=61), ["steps[8].cutover.lease_seconds: expected a number <= 60, got 61"]),
    "no sync rounds": (_cutover(max_sync_rounds=0), ["steps[8].cutover.max_sync_rounds: expected an integer >= 1, "
                                                     "got 0"]),
    "also_freeze not a list": (_cutover(also_freeze="orders-writes"),
                               ["steps[8].cutover.also_freeze: expected a list, got 'orders-writes'"]),
    # Hooks.
    "old hooks form": (_old_hooks, [OLD_HOOKS]),
    "duplicate hook name": (_second_hook, ["hooks[1].name: 'catalog-gateway' is already the name of hooks[0]"]),
    "hook at an unknown step kind": (_hook(at="canary"), ["hooks[0].at: expected 'cutover', got 'canary'"]),
    "hook without undo": (lambda doc: doc["hooks"][0].pop("undo"), ["hooks[0].undo: required"]),
    "hook with empty do": (_hook(do=[]), ["hooks[0].do: expected at least one argument (the program to run), "
                                          "got []"]),
    "hook timeout zero": (_hook(timeout=0), ["hooks[0].timeout: expected a number > 0, got 0"]),
    "hook name": (_hook(name="catalog gateway"), ["hooks[0].name: 'catalog gateway' is not a name (letters, digits, "
                                                  "- and _, starting with a letter or digit; at most 63)"]),
    "hook typo": (_hook(tiemout=5), ["hooks[0].tiemout: unknown key (did you mean 'timeout'?)"]),
    "hook prepare not a boolean": (_hook(prepare="yes"), ["hooks[0].prepare: expected true or false, got 'yes'"]),
    "hooks a string": (_top("hooks", "catalog_gateway"),
                       ["hooks: expected a list of hooks ({name, at, do, undo, timeout}), got 'catalog_gateway'"]),
    # The checks that were there before.
    "unknown step": (_set_step(4, "verfy"), ["steps[4]: unknown step 'verfy' (did you mean 'verify'?)"]),
    "unknown step far off": (_set_step(4, "zzz"), [f"steps[4]: unknown step 'zzz' (known: {KNOWN})"]),
    "settings on a simple step": (_set_step(2, {"copy": {"batch_size": 10}}),
                                  ["steps[2].copy: this step takes no settings"]),
    "canary 0": (_set_step(6, _canary(0)), ["steps[6].canary.percent: expected a number > 0, got 0"]),
    "canary 140": (_set_step(6, _canary(140)), ["steps[6].canary.percent: expected a number <= 100, got 140"]),
    "canary ten": (_set_step(6, _canary("ten")), ["steps[6].canary.percent: expected a number, got 'ten'"]),
    "canary without percent": (_set_step(6, "canary"), ["steps[6].canary.percent: required"]),
    "canaries not rising": (_swap(7, 8), ["steps: canary percentages must rise (50, 10)"]),
    "out of order": (_swap(1, 2), [f"steps: out of order (provision, copy, capture, sync, verify, contract, shadow, "
                                   f"canary, canary, cutover, decommission); the order is {ORDER}"]),
    "duplicate step": (_insert(4, "sync"), ["steps[4]: step 'sync' appears twice"]),
    "duplicate canary": (_insert(8, _canary(10)), ["steps[8]: step 'canary-10' appears twice"]),
    "two-key step": (_set_step(5, {"shadow": {}, "canary": {}}),
                     ["steps[5]: a step is a name or a one-key mapping {name: {...}}, "
                      "got {'shadow': {}, 'canary': {}}"]),
    "router typo": (_set("router", "admin_ulr", "http://x"), ["router.admin_ulr: unknown key (did you mean "
                                                              "'admin_url'?)"]),
    "router without service backend": (_delete("router", "service_backend"), ["router.service_backend: required"]),
    "endpoints typo": (_set("endpoints", "write", "catalog-writes"),
                       ["endpoints.write: unknown key (did you mean 'writes'?)"]),
    "gate out of range": (_set_step(5, {"shadow": {"max_mismatch_rate": 1.5}}),
                          ["steps[5].shadow.max_mismatch_rate: expected a number <= 1, got 1.5"]),
    "missing endpoints.reads": (_delete("endpoints", "reads"), ["endpoints.reads: required"]),
    "renamed endpoints.reads": (_rename("endpoints", "reads", "read"),
                                ["endpoints.reads: required", "endpoints.read: unknown key (did you mean 'reads'?)"]),
    "no endpoints at all": (_delete("endpoints"), ["endpoints.reads: required"]),
    "no router at all": (_delete("router"), ["router.service_backend: required"]),
    "cutover without writes": (_delete("endpoints", "writes"),
                               ["endpoints.writes: required for a cutover (the write freeze and the switch)"]),
    "cutover without service url": (_delete("service", "url"),
                                    ["service.url: required once traffic moves to the service"]),
    "hook without its step": (lambda doc: doc.update(steps=doc["steps"][:8]),
                              ["hooks[0].at: the plan has no cutover step, so this hook would never run"]),
    "steps a mapping": (_top("steps", {"provision": None}),
                        ["steps: expected a non-empty list of steps, got {'provision': None}"]),
    "steps empty": (_top("steps", []), ["steps: expected a non-empty list of steps, got []"]),
    "steps missing": (_delete("steps"), ["steps: required (a non-empty list of steps)"]),
    "section null": (_top("router", None), ["router: expected a mapping, got None"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_plan_names_the_file_and_the_key(write_plan: Callable[..., Path], case: str) -> None:
    edit, expected = BAD[case]
    path = write_plan(edit)
    assert problems(path) == [f"{path}: {line}" for line in expected]


def test_every_problem_is_reported_at_once_in_the_files_order(write_plan: Callable[..., Path]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["router"]["tokn_env"] = "X"
        doc["steps"][6] = _canary(140)
        doc["steps"][2] = "kopy"
        doc["hooks"][0]["at"] = "cutovr"
        doc["tables"][0]["soruce"] = doc["tables"][0].pop("source")

    path = write_plan(edit)
    assert problems(path) == [
        f"{path}: tables[0].source: required",
        f"{path}: tables[0].soruce: unknown key (did you mean 'source'?)",
        f"{path}: router.tokn_env: unknown key (did you mean 'token_env'?)",
        f"{path}: steps[2]: unknown step 'kopy' (did you mean 'copy'?)",
        f"{path}: steps[6].canary.percent: expected a number <= 100, got 140",
        f"{path}: hooks[0].at: expected 'cutover', got 'cutovr'",
    ]


def test_a_duplicate_key_names_the_key_and_its_line(write_plan: Callable[..., Path]) -> None:
    text = CATALOG_PLAN.read_text(encoding="utf-8") + "\nname: catalog_two\n"
    path = write_plan(text=text)
    line = len(text.splitlines())
    first = next(n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith("name:"))
    assert problems(path) == [f"{path}: line {line}, column 1: duplicate key 'name' (first at line {first})"]


def test_an_alias_bomb_is_refused_in_well_under_a_second(write_plan: Callable[..., Path]) -> None:
    bomb = ['lol: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    bomb += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = write_plan(text="\n".join(["name: catalog", *bomb, "steps: *l8", ""]))
    started = time.perf_counter()
    (problem,) = problems(path)
    assert time.perf_counter() - started < 0.2
    assert problem.startswith(f"{path}: line 3, column 10: alias *l0: aliases are not allowed in this file")


def test_a_200_kb_deeply_nested_plan_is_refused_without_a_traceback(write_plan: Callable[..., Path]) -> None:
    path = write_plan(text="name: catalog\nsteps: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert path.stat().st_size > 200_000
    assert problems(path) == [f"{path}: line 2, column 71: nested deeper than 64 levels"]


def test_a_plan_that_is_not_utf8_is_refused_naming_the_byte(write_plan: Callable[..., Path]) -> None:
    path = write_plan(text="")
    path.write_bytes(CATALOG_PLAN.read_bytes().replace(b"catalog_product\n", b"catalog_pr\xe9duct\n", 1))
    offset = CATALOG_PLAN.read_bytes().index(b"catalog_product\n") + len("catalog_pr")
    line = CATALOG_PLAN.read_bytes()[:offset].count(b"\n") + 1
    assert problems(path) == [f"{path}: not UTF-8: byte 0xe9 at offset {offset} (line {line}); save the file as UTF-8"]


def test_a_plan_over_a_megabyte_is_refused(write_plan: Callable[..., Path]) -> None:
    path = write_plan(text=CATALOG_PLAN.read_text(encoding="utf-8") + "#" * 1_000_000 + "\n")
    assert problems(path) == [f"{path}: larger than 1,000,000 bytes; a config file this big is a mistake"]


def test_a_yaml_syntax_error_names_the_file_and_the_line(write_plan: Callable[..., Path]) -> None:
    path = write_plan(text="name: x\nsteps: [\n  - provision\n")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}: line 3, column 3: not valid YAML: ")


@pytest.mark.parametrize(("text", "message"), [("- provision\n- copy\n", "expected a mapping at the top, got a list"),
                                               ("", "the file is empty; expected a mapping at the top")])
def test_a_plan_must_be_a_mapping(write_plan: Callable[..., Path], text: str, message: str) -> None:
    path = write_plan(text=text)
    assert problems(path) == [f"{path}: {message}"]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert problems(path) == [f"{path}: cannot read: No such file or directory"]
