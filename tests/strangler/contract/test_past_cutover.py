"""The contract check of a plan whose real monolith is past its cutover, for a service that owns the users (an
accounts extraction): the monolith's copies of the plan's tables carry the ownership guard (the service owns
them), and the scratch copy the check makes of the monolith's database carries it too. The callers the check
signs in (a user, a staff member) are written into that copy once the guard is off it, before the data split
copies the users to the service's scratch copy: made while the guard held, they were refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.strangler.contract.test_contract import strangler
from tests.support.servers import ROOT, running_shop, scratch_database

pytestmark = pytest.mark.slow
PLAN = ROOT / "migration_plans" / "accounts.yaml"
# The real monolith as the accounts' cutover leaves it: its copies of the plan's tables guarded, the service their
# owner (strangler/datasplit/ownership.py).
PAST_CUTOVER = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.settings")
import django
django.setup()
from strangler.datasplit import open_split, ownership
split = open_split(sys.argv[1])
try:
    ownership.install(split, "monolith", "service")
    print(ownership.read(split).state)
finally:
    split.close()
"""


def test_a_plan_owning_the_users_is_checked_past_its_cutover(tmp_path: Path) -> None:
    with running_shop(tmp_path / "shop", seed_args=("--products", "10", "--users", "2", "--orders", "0")) as shop, \
            scratch_database(tmp_path / "accounts") as accounts_url:
        env = {**shop.env, "ACCOUNTS_DATABASE_URL": accounts_url, "STRANGLER_STATE_DB": str(tmp_path / "state.db")}
        guarded = subprocess.run([sys.executable, "-c", PAST_CUTOVER, str(PLAN)], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=300)
        assert guarded.returncode == 0, guarded.stderr[-3000:]
        done = strangler(env, "contract", str(PLAN), "--examples", "30", "--seed", "3", "--json")
        assert done.returncode in (0, 1), done.stderr[-3000:]
        assert done.stdout.strip(), done.stderr[-3000:]
        report = json.loads(done.stdout)
        assert report["examples"] == 30, report
