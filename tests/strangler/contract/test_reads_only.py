"""A plan's contract step may keep the check to safe methods (``writes: false``): for a service whose writes reach
owners the check does not copy (the orders service's sagas call the catalog's and the cart's services and the
monolith's shipping, and share DBOS's system database), where generated writes sent to the scratch copies changed
the real ones (found by the orders plan's first run under traffic, tests/e2e/test_orders_migration.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.strangler.contract.test_contract import PLAN, engine_independent, env_for, real_data, strangler
from tests.support.servers import running_shop, scratch_database

pytestmark = pytest.mark.slow


@engine_independent
def test_writes_false_sends_safe_methods_only(tmp_path: Path) -> None:
    plan: dict[str, Any] = yaml.safe_load(PLAN.read_text())
    plan["steps"] = [{"contract": {"examples": 80, "seed": 5, "writes": False, "identities": ["anonymous", "staff"]}}
                     if isinstance(step, dict) and "contract" in step else step for step in plan["steps"]]
    path = tmp_path / "reads-only.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    with running_shop(tmp_path / "shop", seed_args=("--products", "40", "--users", "2", "--orders", "3")) as shop, \
            scratch_database(tmp_path / "catalog") as catalog_url:
        before = real_data(shop)
        done = strangler(env_for(shop, tmp_path, catalog_url), "contract", str(path), "--json")
        assert done.returncode in (0, 1), done.stderr[-3000:]
        report = json.loads(done.stdout)
        assert report["writes"] is False
        assert "safe methods only (the plan says writes: false)" in report["isolation"]
        assert report["examples"] == 80
        # Every difference found (if any) is of a safe request: no write was generated.
        assert all(f["request"].split(" ", 1)[0] in ("GET", "HEAD", "OPTIONS") for f in report["findings"]), \
            report["findings"]
        assert real_data(shop) == before
