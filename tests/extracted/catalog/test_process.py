"""The service as a real process: refusing a database that is not at head, migrating it, serving HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from extracted.catalog.db import make_engine
from extracted.catalog.migrate import head_revision
from strangler.processes import ManagedProcess, free_port
from tests.extracted.catalog.conftest import PRODUCTS, SECRET, browser, mint
from tests.extracted.catalog.dataset import load, monolith_rows

REPO = Path(__file__).resolve().parents[3]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "extracted.catalog", *args], cwd=REPO, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def test_refuses_to_start_on_empty_database_then_migrate_fixes_it(tmp_path):
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    refused = run("--port", str(free_port()), env=env)
    assert refused.returncode == 1
    head = head_revision()
    assert f"is at revision <none: empty database>, not at the migrations' head {head}" in refused.stderr
    assert "python -m extracted.catalog migrate" in refused.stderr
    migrated = run("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert f"-> {head}" in migrated.stdout
    assert run("check", env=env).returncode == 0


def test_bad_database_url_names_the_variable(tmp_path):
    result = run("check", env={"CATALOG_DATABASE_URL": "oracle://nowhere/x"})
    assert result.returncode == 1
    assert "CATALOG_DATABASE_URL: 'oracle://nowhere/x' is not a database URL" in result.stderr


@pytest.mark.slow
def test_serves_http_as_a_real_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'catalog.sqlite3'}"
    env = {"CATALOG_DATABASE_URL": url, "ROUTER_IDENTITY_SECRET": SECRET}
    assert run("migrate", env=env).returncode == 0
    engine = make_engine(url)
    load(engine, *monolith_rows(30))
    engine.dispose()
    port = free_port()
    process = ManagedProcess("catalog", [sys.executable, "-m", "extracted.catalog", "--port", str(port)],
                             log_path=tmp_path / "catalog.log", env=env, cwd=REPO)
    with process:
        process.wait_healthy(f"http://127.0.0.1:{port}/healthz")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as client:
            listed = client.get(PRODUCTS, params={"page_size": 5}, headers={"X-Request-ID": "e2e-1"})
            assert listed.status_code == 200
            assert listed.headers["x-request-id"] == "e2e-1"
            assert listed.json()["next"] == f"{base}{PRODUCTS}?page=2&page_size=5"
            assert client.get(f"{PRODUCTS}1/").json()["sku"] == "SKU-0000001"
            created = client.post(PRODUCTS, json={"sku": "E2E", "name": "n", "price": "1.00", "category": 1},
                                  headers=browser(mint(1, staff=True)))
            assert created.status_code == 201, created.text
            assert client.post(PRODUCTS, json={}).status_code == 401
            assert client.get("/healthz").json() == {"status": "ok", "database": "sqlite"}
    assert not process.running
    log_lines = [line for line in (tmp_path / "catalog.log").read_text().splitlines() if line.startswith("{")]
    assert any('"request_id":"e2e-1"' in line for line in log_lines)
