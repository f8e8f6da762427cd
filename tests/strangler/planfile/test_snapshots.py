"""The plan file's ``snapshot`` key of a table: true or false (nothing coerced), false unless given; a cutover
step in a plan whose every table is a snapshot is refused naming the step and the keys (nothing would change
owner); without a cutover such a plan is fine (a service that only reads the monolith's rows). What the data
split and the executor do with snapshots: tests/strangler/datasplit/test_snapshots.py,
tests/strangler/plans/test_snapshot_cutover.py."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from strangler.datasplit.plan import plan_from
from strangler.planfile.model import PlanFile, PlanFileInvalid
from strangler.planfile.reader import read_plan_file
from tests.strangler.plans.conftest import catalog_doc


def read(tmp_path: Path, *snapshots: Any, steps: list[Any] | None = None) -> PlanFile:
    """The catalog plan with ``snapshot:`` set on its tables in order (None: left out)."""
    doc = copy.deepcopy(catalog_doc())
    for table, value in zip(doc["tables"], snapshots, strict=False):
        if value is not None:
            table["snapshot"] = value
    if steps is not None:
        doc["steps"] = steps
        doc.pop("hooks", None)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return read_plan_file(path, executor=True)


def problems(tmp_path: Path, *snapshots: Any, steps: list[Any] | None = None) -> list[str]:
    with pytest.raises(PlanFileInvalid) as caught:
        read(tmp_path, *snapshots, steps=steps)
    return [f"{field}: {message}" for field, message in caught.value.problems]


def test_a_table_is_no_snapshot_unless_it_says_so(tmp_path: Path) -> None:
    doc = read(tmp_path, None, True)
    assert [t.snapshot for t in doc.tables] == [False, True]
    split = plan_from(doc)
    assert [t.source for t in split.snapshots] == ["catalog_product"]
    assert [t.source for t in split.owned] == ["catalog_category"]
    assert [t.source for t in split.reversed().tables] == ["categories"]  # no way back for a snapshot
    assert [t.snapshot for t in read(tmp_path, False, False).tables] == [False, False]


@pytest.mark.parametrize("value", ["yes", 1, "true", [True]])
def test_snapshot_is_true_or_false(tmp_path: Path, value: Any) -> None:
    assert problems(tmp_path, None, value) == [f"tables[1].snapshot: expected true or false, got {value!r}"]


def test_a_cutover_needs_a_table_that_is_no_snapshot(tmp_path: Path) -> None:
    assert problems(tmp_path, True, True) == [
        "steps[9]: nothing to cut over: every table is a snapshot (tables[0].snapshot, tables[1].snapshot: true), "
        "which the monolith keeps owning; a cutover needs a table the service takes over"]
    steps = ["provision", "capture", "copy", "sync", "verify", "cutover"]
    assert problems(tmp_path, True, True, steps=steps)[0].startswith("steps[5]: nothing to cut over: ")
    # Without a cutover a plan of snapshots only is a read-only service's; with one table that moves, a cutover.
    assert [t.snapshot for t in read(tmp_path, True, True, steps=steps[:5]).tables] == [True, True]
    assert [t.snapshot for t in read(tmp_path, True, False).tables] == [True, False]
