"""The plan file's ``endpoints``: each of ``reads`` and ``writes`` one route name or a list of them (an app under
several URL prefixes has a pair of routes per prefix), held as tuples in the file's order; every bad form is
refused naming its key path and the value (the rest of the schema: tests/strangler/plans/test_schema.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from strangler.planfile.model import PlanFile, PlanFileInvalid
from strangler.planfile.reader import read_plan_file
from tests.strangler.plans.conftest import catalog_doc

NOT_ROUTES = "expected a route name or a non-empty list of route names, got"
CANARIES = "canary-10, canary-50 would send a share of its writes to the service before it owns the data; give " \
           "the reads and the writes routes of their own"


def read(tmp_path: Path, endpoints: dict[str, Any], *, steps: list[Any] | None = None) -> PlanFile:
    doc = copy.deepcopy(catalog_doc())
    doc["endpoints"] = endpoints
    if steps is not None:
        doc["steps"] = steps
        if not any(isinstance(s, dict) and "cutover" in s for s in steps):
            del doc["hooks"]  # the catalog's hook runs at the cutover
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return read_plan_file(path, executor=True)


def problems(tmp_path: Path, endpoints: dict[str, Any], *, steps: list[Any] | None = None) -> list[str]:
    with pytest.raises(PlanFileInvalid) as caught:
        read(tmp_path, endpoints, steps=steps)
    return [f"{field}: {message}" for field, message in caught.value.problems]


def test_a_single_name_is_a_tuple_of_one(tmp_path: Path) -> None:
    endpoints = read(tmp_path, {"reads": "catalog-reads", "writes": "catalog-writes"}).endpoints
    assert endpoints is not None
    assert (endpoints.reads, endpoints.writes) == (("catalog-reads",), ("catalog-writes",))
    assert endpoints.keyed("reads") == [("endpoints.reads", "catalog-reads")]
    assert endpoints.routes == ("catalog-writes", "catalog-reads")


def test_lists_keep_the_files_order(tmp_path: Path) -> None:
    endpoints = read(tmp_path, {"reads": ["catalog-reads", "categories-reads"],
                                "writes": ["categories-writes", "catalog-writes"]}).endpoints
    assert endpoints is not None
    assert endpoints.reads == ("catalog-reads", "categories-reads")
    assert endpoints.writes == ("categories-writes", "catalog-writes")
    assert endpoints.keyed("writes") == [("endpoints.writes[0]", "categories-writes"),
                                         ("endpoints.writes[1]", "catalog-writes")]
    # Every route once, the writes first (the order the cutover moves them in).
    assert endpoints.routes == ("categories-writes", "catalog-writes", "catalog-reads", "categories-reads")


def test_a_list_of_one_reads_like_a_single_name(tmp_path: Path) -> None:
    endpoints = read(tmp_path, {"reads": ["catalog-reads"], "writes": "catalog-writes"}).endpoints
    assert endpoints is not None and endpoints.reads == ("catalog-reads",)
    assert endpoints.keyed("reads") == [("endpoints.reads", "catalog-reads")]


def test_no_writes_without_a_cutover(tmp_path: Path) -> None:
    steps = catalog_doc()["steps"][:9]  # up to canary-50
    for writes in ({}, {"writes": None}):
        endpoints = read(tmp_path, {"reads": ["catalog-reads", "categories-reads"], **writes}, steps=steps).endpoints
        assert endpoints is not None and endpoints.writes == ()


def test_one_route_may_carry_reads_and_writes_when_no_canary_moves_a_share_of_it(tmp_path: Path) -> None:
    steps = [s for s in catalog_doc()["steps"] if not (isinstance(s, dict) and "canary" in s)]
    endpoints = read(tmp_path, {"reads": "catalog-api", "writes": "catalog-api"}, steps=steps).endpoints
    assert endpoints is not None and endpoints.routes == ("catalog-api",)


@pytest.mark.parametrize(("endpoints", "expected"), [
    ({"reads": [], "writes": "catalog-writes"}, [f"endpoints.reads: {NOT_ROUTES} []"]),
    ({"reads": "catalog-reads", "writes": []}, [f"endpoints.writes: {NOT_ROUTES} []"]),
    ({"reads": None, "writes": "catalog-writes"}, [f"endpoints.reads: {NOT_ROUTES} None"]),
    ({"reads": 7, "writes": "catalog-writes"}, [f"endpoints.reads: {NOT_ROUTES} 7"]),
    ({"reads": {"catalog-reads": True}, "writes": "catalog-writes"},
     [f"endpoints.reads: {NOT_ROUTES} {{'catalog-reads': True}}"]),
    ({"reads": ["catalog-reads", 5], "writes": "catalog-writes"}, ["endpoints.reads[1]: expected a string, got 5"]),
    ({"reads": "catalog-reads", "writes": [["catalog-writes"], None]},
     ["endpoints.writes[0]: expected a string, got ['catalog-writes']", "endpoints.writes[1]: expected a string, "
                                                                         "got None"]),
    ({"reads": ["catalog-reads", "categories reads"], "writes": "catalog-writes"},
     ["endpoints.reads[1]: 'categories reads' is not a name (letters, digits, - and _, starting with a letter or "
      "digit; at most 63)"]),
    ({"reads": ["catalog-reads", "categories-reads", "catalog-reads"], "writes": "catalog-writes"},
     ["endpoints.reads[2]: 'catalog-reads' is already endpoints.reads[0]"]),
    ({"reads": "catalog-reads", "writes": ["catalog-writes", "catalog-writes"]},
     ["endpoints.writes[1]: 'catalog-writes' is already endpoints.writes[0]"]),
    ({"reads": ["catalog-reads", "catalog-api"], "writes": ["catalog-writes", "catalog-api"]},
     [f"endpoints.writes[1]: 'catalog-api' is also endpoints.reads[1]: {CANARIES}"]),
    ({"reads": "catalog-api", "writes": "catalog-api"}, [f"endpoints.writes: 'catalog-api' is also endpoints.reads: "
                                                         f"{CANARIES}"]),
    ({"reads": ["catalog-reads", "categories-reads"], "writes": None},
     ["endpoints.writes: required for a cutover (the write freeze and the switch)"]),
    ({"reads": ["catalog-reads"]}, ["endpoints.writes: required for a cutover (the write freeze and the switch)"]),
], ids=["reads empty", "writes empty", "reads null", "reads a number", "reads a mapping", "a number in the list",
        "a list and a null in the list", "a bad name in the list", "reads twice", "writes twice",
        "in both lists with a canary", "one route for both with a canary", "cutover with writes null",
        "cutover without writes"])
def test_bad_endpoints_are_refused_naming_the_key_and_the_value(tmp_path: Path, endpoints: dict[str, Any],
                                                                expected: list[str]) -> None:
    assert problems(tmp_path, endpoints) == expected
