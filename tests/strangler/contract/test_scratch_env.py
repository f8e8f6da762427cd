"""``service.scratch_env``: variables the contract check's copy of the service runs with, so that it keeps the state
it has besides its database in the check's own directory. The orders plan's copy, sharing the running service's
event bus, consumed the shipment events the running service postpones and applied them to its copy (the check
then found order statuses differing, in the plan's first run under traffic, tests/e2e/test_orders_migration.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from strangler.contract.environment import scratch_env
from strangler.planfile.model import PlanFileInvalid
from strangler.planfile.reader import read_plan_file
from tests.support.servers import ROOT


def test_the_orders_plan_keeps_its_copy_s_state_in_the_check_s_directory(tmp_path: Path) -> None:
    plan = read_plan_file(ROOT / "migration_plans" / "orders.yaml")
    filled = scratch_env(plan.service.scratch_env, tmp_path)
    assert filled == {"ORDERS_VAR_DIR": str(tmp_path), "EVENTS_URL": f"sqlite:///{tmp_path}/events.sqlite3"}


def test_a_bad_variable_name_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "migration_plans" / "orders.yaml").read_text())
    raw["service"]["scratch_env"] = {"not a name": "x"}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(PlanFileInvalid, match="scratch_env"):
        read_plan_file(path)
