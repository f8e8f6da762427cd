"""``strangler contract`` against real processes: a seeded shop under gunicorn (the "real" monolith, whose
database the check copies while it runs), the real catalog service, and a copy of it that ignores
``max_price`` (tests/strangler/contract/broken_catalog.py).

What must hold: the check runs, reports its throughput and every finding as a curl pair and a pytest case, and
never changes the real database; 2,000 examples of the real service show no difference (on SQLite, and in the
PostgreSQL pass with both databases on PostgreSQL, writes included). A difference put back on
purpose is found, shrunk to one request with that one parameter, stops the plan at its ``contract`` step with
the request shown, and the pytest case printed for it fails against the broken service and passes against the
real one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from strangler.contract.requests import ContractRequest
from tests.strangler.contract.conftest import django_settings
from tests.support.servers import ROOT, ShopServer, running_shop, scratch_database

pytestmark = pytest.mark.slow

PLAN = ROOT / "migration_plans" / "catalog.yaml"
ON_POSTGRESQL = (os.environ.get("MONOLITH_DATABASE_URL") or "").startswith("postgres")
BROKEN_START = ["{python}", "-m", "tests.strangler.contract.broken_catalog", "--port", "{port}"]
# Anonymous only: the difference put back is in the listing's filter; nobody needs to be logged in for it.
BROKEN_CONTRACT = {"examples": 300, "seed": 11, "max_differences": 0, "identities": ["anonymous"]}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShopServer]:
    base = tmp_path_factory.mktemp("contract")
    with running_shop(base, seed_args=("--products", "120", "--users", "3", "--orders", "5")) as server:
        yield server


@pytest.fixture
def catalog_url(tmp_path: Path) -> Iterator[str]:
    """The service's database, of the suite's kind (PostgreSQL in the PostgreSQL pass, like the monolith's)."""
    with scratch_database(tmp_path / "catalog") as url:
        yield url


def env_for(shop: ShopServer, tmp_path: Path, catalog_url: str) -> dict[str, str]:
    # The service's database variable names the kind (and server) of scratch database the check makes for the
    # service; the plan runs of the gate test provision and copy into it.
    return {**shop.env, "CATALOG_DATABASE_URL": catalog_url, "STRANGLER_STATE_DB": str(tmp_path / "state.sqlite3")}


def strangler(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", "strangler", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


def broken_plan(tmp_path: Path, *, steps: list[Any] | None = None) -> Path:
    plan: dict[str, Any] = yaml.safe_load(PLAN.read_text())
    plan["service"]["start"] = BROKEN_START
    plan["steps"] = steps or [{"contract": BROKEN_CONTRACT} if isinstance(s, dict) and "contract" in s else s
                              for s in plan["steps"]]
    assert {"contract": BROKEN_CONTRACT} in plan["steps"]
    if steps is not None:
        del plan["hooks"]  # no cutover in a shortened plan: its hooks would never run (the schema says so)
    path = tmp_path / "broken-plan.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def real_data(shop: ShopServer) -> str:
    """Everything the check could have touched in the real database: the catalog, users, tokens."""
    return shop.manage("dumpdata", "catalog", "accounts", "authtoken", "--indent", "0").stdout


# What the check finds and how it reports and shrinks it does not depend on the engine: once, on SQLite. The
# PostgreSQL pass runs the 2,000 examples (writes reset on PostgreSQL, the real data left as it was).
engine_independent = pytest.mark.skipif(ON_POSTGRESQL, reason="engine-independent: run in the SQLite pass")


@engine_independent
def test_the_real_service_is_checked_on_scratch_copies(shop: ShopServer, tmp_path: Path, catalog_url: str) -> None:
    before = real_data(shop)
    scratch = tmp_path / "tmp"  # the check's own temporary directory goes here, so what it leaves is its own
    scratch.mkdir()
    env = {**env_for(shop, tmp_path, catalog_url), "TMPDIR": str(scratch)}
    done = strangler(env, "contract", str(PLAN), "--examples", "300", "--seed", "5", "--json")
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (done.returncode == 0) == report["ok"] == (report["differences"] == 0)
    assert report["examples"] == 300 and report["pairs"] >= 300 and report["pairs_per_second"] > 0
    assert {"GET /api/catalog/products/", "POST /api/catalog/products/", "GET /api/catalog/products/{id}/",
            "PATCH /api/catalog/products/{id}/", "DELETE /api/catalog/categories/{id}/",
            "POST /api/catalog/products/{id}/stock/"} <= set(report["operations"])
    assert not any(op.split(" ")[1].startswith("/api/orders/") for op in report["operations"])
    # SQLite and PostgreSQL copies are reset after every write: writes are checked on both.
    kind = "sqlite" if shop.database_url.startswith("sqlite") else "postgresql"
    assert report["writes"] is True
    assert f"scratch copies of both databases ({kind}), reset after every write" in report["isolation"]
    assert "$..updated_at" in report["rules"]["ignore"]  # the shadow step's rules
    for finding in report["findings"]:
        assert finding["curl"]["monolith"].startswith("curl ") and finding["curl"]["service"].startswith("curl ")
        assert "contract_env.assert_same(ContractRequest(" in finding["pytest"]
    assert f"{report['pairs_per_second']:.1f} pairs/s" not in done.stdout  # --json: JSON only
    # Writes went to scratch copies only, and the check left nothing behind.
    assert real_data(shop) == before
    assert list(scratch.iterdir()) == []


def test_2000_examples_show_no_difference(shop: ShopServer, tmp_path: Path, catalog_url: str) -> None:
    """The issue's bar: ``strangler contract migration_plans/catalog.yaml --examples 2000`` finds nothing, every
    identity and writes included, and prints its throughput (on SQLite; in the PostgreSQL pass, both sides)."""
    before = real_data(shop)
    scratch = tmp_path / "tmp"  # the check's own temporary directory goes here, so what it leaves is its own
    scratch.mkdir()
    started = time.monotonic()
    done = strangler({**env_for(shop, tmp_path, catalog_url), "TMPDIR": str(scratch)}, "contract", str(PLAN),
                     "--examples", "2000", "--seed", "2000")
    took = time.monotonic() - started
    assert real_data(shop) == before  # every write went to the scratch copies
    assert list(scratch.iterdir()) == []
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "OK: 0 kind(s) of difference (at most 0 allowed)" in done.stdout
    assert "no difference found" in done.stdout
    summary = re.search(r"2000 examples \(seed 2000\), (\d+) request pairs in ([\d.]+)s = ([\d.]+) pairs/s",
                        done.stdout)
    assert summary, done.stdout[-3000:]
    assert "reset after every write" in done.stdout
    assert "bad-token, revoked-token" in done.stdout
    print(f"contract, 2000 examples: {summary.group(1)} pairs, {summary.group(3)} pairs/s, {took:.0f}s wall clock")


@engine_independent
def test_a_difference_put_back_is_found_and_shrunk_to_one_request(
        shop: ShopServer, tmp_path: Path, catalog_url: str, django_db_blocker: Any) -> None:
    plan = broken_plan(tmp_path)
    done = strangler(env_for(shop, tmp_path, catalog_url), "contract", str(plan))
    assert done.returncode == 1, done.stderr[-3000:]
    assert "kind(s) of difference > 0 allowed" in done.stderr
    text = done.stdout
    assert "pairs/s" in text and "seed 11" in text
    # The smallest request of the put-back difference: a plain listing with max_price and nothing else. (The
    # same break also shows on a detail URL, which the monolith filters too: a finding of its own.)
    wanted = "smallest request: GET /api/catalog/products/?max_price="
    cases = [block for block in re.split(r"\n\n(?=\d+\. )", text) if wanted in block]
    assert cases, text[-6000:]
    block = cases[0]
    line = next(line for line in block.splitlines() if "contract_env.assert_same(" in line).strip()
    source = line[line.index("contract_env.assert_same(") + len("contract_env.assert_same("):].removesuffix(")")
    request = eval(source, {"ContractRequest": ContractRequest})  # noqa: S307 - the tool's own output
    assert (request.method, request.path, request.identity, request.headers, request.body) == (
        "GET", "/api/catalog/products/", "anonymous", (), None)
    assert [name for name, _ in request.query] == ["max_price"]
    assert "'http://127.0.0.1:8000/api/catalog/products/?max_price=" in block  # the curl pair
    assert "'http://127.0.0.1:8101/api/catalog/products/?max_price=" in block

    # The printed regression case fails against the broken service and passes against the real one.
    from strangler.contract.testing import ContractEnv

    source_settings = django_settings(shop.database_url)
    with django_db_blocker.unblock():
        with ContractEnv(plan, source_settings=source_settings) as broken:
            with pytest.raises(AssertionError, match="max_price"):
                broken.assert_same(request)
        with ContractEnv(PLAN, source_settings=source_settings) as real:
            real.assert_same(request)


@engine_independent
def test_the_plan_gate_stops_at_contract_with_that_request(shop: ShopServer, tmp_path: Path,
                                                           catalog_url: str) -> None:
    plan = broken_plan(tmp_path, steps=["provision", "capture", "copy", "sync", "verify",
                                        {"contract": BROKEN_CONTRACT}, {"shadow": {"min_requests": 1}}])
    env = env_for(shop, tmp_path, catalog_url)
    done = strangler(env, "run", str(plan), "--to", "shadow", "--yes", "--json")
    assert done.returncode == 1, done.stderr[-3000:]
    outcome = json.loads(done.stdout)
    assert (outcome["ok"], outcome["at"]) == (False, "verify")
    message = outcome["message"]
    assert message.startswith("contract: ") and "kind(s) of difference > 0 allowed (seed 11" in message
    assert "GET /api/catalog/products/?max_price=" in message
    assert "monolith: curl " in message and "service:  curl " in message
    status = json.loads(strangler(env, "status", str(plan), "--json").stdout)
    assert (status["status"], status["running"], status["at"]) == ("failed", "failed:contract", "verify")
