"""``python manage.py strangler plan check`` (in-process, through Django's command line): exit status 2 with the
problems on stderr for a bad file; 0 with the step list (text or --json) for a good one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import execute_from_command_line

from .conftest import CATALOG_PLAN, CATALOG_STEPS


def manage(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        execute_from_command_line(["manage.py", "strangler", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_prints_the_steps_of_a_good_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = manage(capsys, "plan", "check", str(CATALOG_PLAN))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:3] == [
        f"{CATALOG_PLAN}: valid plan 'catalog' for service 'catalog'",
        "  routes: reads 'catalog-reads', writes 'catalog-writes'; router admin http://127.0.0.1:8081",
        "  1. provision",
    ]
    assert lines[8] == ("  7. canary-10  (percent=10.0, min_requests=20, max_error_rate=0.01, max_p99_ratio=3.0, "
                        "timeout=180.0, poll=1.0)")
    assert lines[-1] == "  10. decommission"
    assert len(lines) == 12


def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = manage(capsys, "plan", "check", str(CATALOG_PLAN), "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["plan"] == "catalog" and report["ok"] is True
    assert [s["step"] for s in report["steps"]] == CATALOG_STEPS
    assert report["steps"][0] == {"step": "provision"}
    assert report["steps"][8] == {"step": "cutover", "freeze_seconds": 5.0, "max_sync_rounds": 20,
                                  "also_freeze": ["orders-writes", "checkout-page"]}


def test_check_refuses_a_bad_plan_with_status_2(write_plan: Callable[..., Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"][6] = {"canary": {"percent": "ten"}}
        doc["endpoints"]["raeds"] = doc["endpoints"].pop("reads")

    path = write_plan(edit)
    code, out, err = manage(capsys, "plan", "check", str(path), "--json")
    assert (code, out) == (2, "")
    assert err == (f"CommandError: {path}: endpoints.reads: required\n"
                   f"{path}: endpoints.raeds: unknown key\n"
                   f"{path}: steps[6].canary.percent: Input should be a valid number, unable to parse string as a "
                   f"number (got 'ten')\n")


def test_check_refuses_a_missing_file_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "missing.yaml"
    code, out, err = manage(capsys, "plan", "check", str(path))
    assert (code, out, err) == (2, "", f"CommandError: {path}: cannot read: No such file or directory\n")


def test_check_also_checks_the_data_split_part(write_plan: Callable[..., Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        del doc["tables"]

    path = write_plan(edit)
    code, out, err = manage(capsys, "plan", "check", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"CommandError: {path}") and "tables" in err
