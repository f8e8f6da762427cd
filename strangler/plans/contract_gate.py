"""The plan's ``contract`` step: the check run with the step's settings, failing on too many differences.

It fails naming the kinds found and, for the first, its smallest request and the curl pair that reproduces it;
its figures (examples, pairs per second, the differences) go into the plan's status.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from strangler.contract.check import run_contract
from strangler.contract.exceptions import ContractError
from strangler.planfile.kinds import ContractGate
from strangler.plans.exceptions import StepFailed
from strangler.plans.gates import Verdict

MAX_LISTED = 10


def contract_gate(plan_path: Path, step: str, gate: ContractGate, say: Callable[[str], None], root: Path
                  ) -> dict[str, Any]:
    """Runs the check (the gathering: two scratch stacks and every request), then its verdict decides."""
    try:
        report = run_contract(plan_path, examples=gate.examples, seed=gate.seed, say=say, root=root)
    except ContractError as exc:
        raise StepFailed(f"{step}: {exc}") from None
    if report.ok:
        say(f"{step}: {report.stats.examples} examples, {len(report.findings)} kind(s) of difference, "
            f"{report.stats.pairs_per_second:.0f} pairs/s")
    return contract_verdict(plan_path, step, gate, report.to_dict()).settle()


def contract_verdict(plan_path: Path, step: str, gate: ContractGate, data: dict[str, Any]) -> Verdict:
    """Of the check's report (``ContractReport.to_dict()``, whose ``ok`` already weighs ``max_differences``
    and ``accept``): its figures, and on failure the kinds found, the smallest request of each and the curl
    pair of the first."""
    figures: dict[str, Any] = {k: data[k] for k in ("ok", "seed", "examples", "pairs", "seconds", "pairs_per_second",
                                                   "operations", "isolation", "differences", "max_differences",
                                                   "accepted")}
    findings = data["findings"]
    figures["findings"] = [{k: f[k] for k in ("kind", "seen", "request", "curl")} for f in findings]
    if data["ok"]:
        return Verdict(figures)
    first = findings[0]
    listed = [f"  - {f['kind']}: {f['request']}" for f in findings[:MAX_LISTED]]
    if len(findings) > MAX_LISTED:
        listed.append(f"  - and {len(findings) - MAX_LISTED} more (strangler contract {plan_path} "
                      f"--seed {data['seed']} shows them all)")
    return Verdict(figures, "\n".join([
        f"{step}: {len(findings)} kind(s) of difference > {gate.max_differences} allowed (seed {data['seed']}, "
        f"{data['examples']} examples); the smallest request of each:", *listed,
        "  the first, to reproduce:", f"    monolith: {first['curl']['monolith']}",
        f"    service:  {first['curl']['service']}"]))
