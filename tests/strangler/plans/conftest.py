"""Plan files for the executor tests: the real catalog plan, and variants of it written to a temporary file."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CATALOG_PLAN = ROOT / "migration_plans" / "catalog.yaml"
CATALOG_STEPS = ["provision", "capture", "copy", "sync", "verify", "contract", "shadow", "canary-10", "canary-50",
                 "cutover", "decommission"]


def catalog_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(CATALOG_PLAN.read_text(encoding="utf-8"))
    return doc


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[..., Path]:
    """``write_plan(edit)``: the catalog plan, changed by ``edit(doc)`` (or given as text), in a temporary file."""

    def write(edit: Callable[[dict[str, Any]], None] | None = None, *, text: str | None = None,
              name: str = "plan.yaml") -> Path:
        path = tmp_path / name
        if text is None:
            doc = copy.deepcopy(catalog_doc())
            if edit is not None:
                edit(doc)
            text = yaml.safe_dump(doc, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write
