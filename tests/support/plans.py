"""Plan copies for the end-to-end tests that run a plan's gates more than once (out, back, out again)."""

from __future__ import annotations

from pathlib import Path

import yaml


def smaller_gates(path: Path, *, contract_examples: int = 100, first_canary_requests: int = 5) -> None:
    """The plan at ``path`` with smaller samples for its slowest gates: the first canary's 20 requests at 10% of
    the readers took 24-25 s (200 reads in all) and a 300-example contract 14 s, each pass, in CI's budget. What
    the gates check is unchanged; the committed figures run in ``make demo``."""
    plan = yaml.safe_load(path.read_text())
    canaries = [step["canary"] for step in plan["steps"] if isinstance(step, dict) and "canary" in step]
    for step in plan["steps"]:
        if isinstance(step, dict) and "contract" in step:
            step["contract"]["examples"] = min(step["contract"].get("examples", 300), contract_examples)
    if canaries:
        canaries[0]["min_requests"] = min(canaries[0].get("min_requests", 20), first_canary_requests)
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
