"""``manage.py strangler plan order FILE|DIR ...``: the order to run plans in, from what each requires, and why; every
problem (a cycle, a required plan not given, two files of one name, a plan requiring itself, a path that is not
there, a file that is not a plan) named with its file and key, exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from strangler.plans.exceptions import PlanFileError
from strangler.plans.order import load_plans, plan_files, plan_order
from tests.strangler.plans.test_cli import manage
from tests.support.servers import ROOT

PLANS = ROOT / "migration_plans"


def _copies(tmp_path: Path, requires: dict[str, list[str]], names: dict[str, str] | None = None) -> Path:
    """The shop's plans copied into ``tmp_path``, with ``requires`` (and names) as given."""
    for source in sorted(PLANS.glob("*.yaml")):
        doc = yaml.safe_load(source.read_text())
        doc.pop("requires", None)
        stem = source.stem
        if stem in requires:
            doc["requires"] = requires[stem]
        doc["name"] = (names or {}).get(stem, doc["name"])
        (tmp_path / source.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp_path


def _order(*paths: Path) -> list[str]:
    return [placed.name for placed in plan_order(load_plans(plan_files(paths)))]


def test_the_shops_plans_run_after_what_they_require() -> None:
    placed = plan_order(load_plans(plan_files([PLANS])))
    names = [p.name for p in placed]
    assert names == ["accounts", "cart", "catalog", "orders", "shipping"]
    why = {p.name: p.why for p in placed}
    assert why["catalog"] == "requires no other plan"
    assert why["orders"].startswith("after catalog, cart: it requires them")
    assert why["shipping"].startswith("after orders: it requires it")


def test_plans_that_do_not_depend_on_each_other_keep_the_order_given() -> None:
    files = [PLANS / f"{name}.yaml" for name in ("shipping", "orders", "catalog", "cart", "accounts")]
    # catalog before cart here, as given; orders after both, shipping after orders, whatever the order given.
    assert _order(*files) == ["catalog", "cart", "accounts", "orders", "shipping"]
    assert _order(*files) == _order(*files)


def test_a_cycle_is_refused_walking_it(tmp_path: Path) -> None:
    _copies(tmp_path, {"catalog": ["shipping"], "orders": ["catalog", "cart"], "shipping": ["orders"]})
    with pytest.raises(PlanFileError) as err:
        _order(tmp_path)
    [problem] = err.value.problems
    assert problem.startswith("requires: a cycle, ") and "no plan of it can be cut over first" in problem
    cycle = problem.split("requires: a cycle, ", 1)[1].split(":", 1)[0].split(" -> ")
    assert set(cycle) == {"catalog", "orders", "shipping"} and cycle[0] == cycle[-1]
    assert str(tmp_path / "catalog.yaml") in problem


@pytest.mark.parametrize(("requires", "names", "problem"), [
    ({"orders": ["catalog", "inventory"]}, {}, "orders.yaml: requires: 'inventory' is none of the plans given"),
    ({"cart": ["cart"]}, {}, "cart.yaml: requires[0]: 'cart' is this plan's own name"),
    ({}, {"cart": "catalog"}, ": name: 'catalog' is also the name of "),
], ids=["unknown", "itself", "same-name"])
def test_what_makes_an_order_impossible_is_named_with_its_file(tmp_path: Path, requires: dict[str, list[str]],
                                                               names: dict[str, str], problem: str) -> None:
    _copies(tmp_path, requires, names)
    with pytest.raises(PlanFileError) as err:
        _order(tmp_path)
    assert any(problem in p for p in err.value.problems), err.value.problems


def test_a_plan_required_but_not_given_names_the_plans_given() -> None:
    with pytest.raises(PlanFileError) as err:
        _order(PLANS / "shipping.yaml")
    assert err.value.problems == [f"{PLANS / 'shipping.yaml'}: requires: 'orders' is none of the plans given "
                                  "(shipping); add its file"]


def test_paths_that_hold_no_plans_are_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(PlanFileError) as err:
        plan_files([tmp_path / "empty", tmp_path / "missing.yaml"])
    assert err.value.problems == [f"{tmp_path / 'empty'}: a directory without plan files (*.yaml)",
                                  f"{tmp_path / 'missing.yaml'}: no such file or directory"]
    with pytest.raises(PlanFileError) as err:
        load_plans([tmp_path / "bad.yaml", PLANS / "cart.yaml"])
    assert all(str(tmp_path / "bad.yaml") in p for p in err.value.problems), err.value.problems


def test_the_command_prints_the_order_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = manage(capsys, "plan", "order", str(PLANS))
    assert code == 0
    lines = out.splitlines()
    assert [line.split(" ", 2)[1] for line in lines] == ["accounts", "cart", "catalog", "orders", "shipping"]
    assert lines[3].startswith(f"4. orders ({PLANS / 'orders.yaml'}): after catalog, cart: it requires them")
    code, out, _ = manage(capsys, "plan", "order", str(PLANS), "--json")
    answer = json.loads(out)
    assert code == 0 and answer["ok"] is True
    assert answer["order"][4] == {"plan": "shipping", "file": str(PLANS / "shipping.yaml"), "after": ["orders"],
                                  "why": answer["order"][4]["why"]}


def test_the_command_refuses_an_impossible_order_with_status_2(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    _copies(tmp_path, {"cart": ["orders"], "orders": ["catalog", "cart"]})
    code, out, err = manage(capsys, "plan", "order", str(tmp_path), "--json")
    assert code == 2
    assert json.loads(out)["ok"] is False and "requires: a cycle, " in err
    assert "Traceback" not in err
