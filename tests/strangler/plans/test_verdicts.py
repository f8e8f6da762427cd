"""The gates' verdicts, without a router: pure functions of the figures a gate gathered and the plan's limits
(the gathering itself, windows and waiting, is tested against a real router in test_gates.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from strangler.plans.contract_gate import contract_verdict
from strangler.plans.exceptions import GateFailed
from strangler.plans.gates import (
    Verdict,
    backend_figures,
    canary_verdict,
    shadow_enough,
    shadow_figures,
    shadow_verdict,
)
from strangler.plans.schema import CanaryGate, ContractGate, ShadowGate


def test_shadow_counts_only_its_route_and_waits_for_its_minimum() -> None:
    counters = {"catalog-reads": {"shadow": {"compared": 12, "different": 1}}, "other": {"shadow": {"compared": 99}}}
    figures = shadow_figures(counters, ["catalog-reads"])
    assert figures == {"compared": 12, "different": 1}
    assert shadow_enough(figures, ShadowGate(min_requests=12)) == (True, "only 12 of 12 requests compared")
    assert shadow_enough(shadow_figures({}, ["catalog-reads"]), ShadowGate(min_requests=5)) == (
        False, "only 0 of 5 requests compared")


def test_shadow_verdict_holds_at_the_limit_and_fails_above_it_with_figure_and_limit() -> None:
    held = shadow_verdict("shadow", {"compared": 20, "different": 1}, ShadowGate(max_mismatch_rate=0.05))
    assert held == Verdict({"compared": 20, "different": 1, "mismatch_rate": 0.05})
    failed = shadow_verdict("shadow", {"compared": 20, "different": 2}, ShadowGate(max_mismatch_rate=0.05))
    assert failed.failure == "shadow: mismatch rate 10.0% > 5.0% (2 of 20 compared requests differ)"
    assert failed.figures["mismatch_rate"] == 0.1
    with pytest.raises(GateFailed, match="mismatch rate 10.0%"):
        failed.settle()


def test_shadow_adds_up_its_routes_and_names_each_when_it_fails() -> None:
    counters = {"catalog-reads": {"shadow": {"compared": 30, "equal": 30, "different": 0, "queued": 31}},
                "categories-reads": {"shadow": {"compared": 10, "equal": 6, "different": 4, "queued": 10}},
                "catalog-writes": {"shadow": {"compared": 50, "different": 50}}}
    figures = shadow_figures(counters, ["catalog-reads", "categories-reads", "gone-reads"])
    assert {k: v for k, v in figures.items() if k != "routes"} == {"compared": 40, "equal": 36, "different": 4,
                                                                   "queued": 41}
    assert figures["routes"] == {"catalog-reads": counters["catalog-reads"]["shadow"],
                                 "categories-reads": counters["categories-reads"]["shadow"], "gone-reads": {}}
    assert shadow_enough(figures, ShadowGate(min_requests=40)) == (True, "only 40 of 40 requests compared")
    assert shadow_enough(figures, ShadowGate(min_requests=41))[0] is False
    held = shadow_verdict("shadow", figures, ShadowGate(max_mismatch_rate=0.1))
    assert held.failure is None and held.figures["mismatch_rate"] == 0.1
    failed = shadow_verdict("shadow", figures, ShadowGate(max_mismatch_rate=0.05))
    assert failed.failure == ("shadow: mismatch rate 10.0% > 5.0% (4 of 40 compared requests differ: catalog-reads "
                              "0 of 30, categories-reads 4 of 10, gone-reads 0 of 0)")


def test_backend_figures_add_up_routes_and_keep_the_worst_p99() -> None:
    counters = {
        "reads": {"backends": {"catalog": {"requests": 10, "errors": 1, "p99_ms": 12.0}}},
        "writes": {"backends": {"catalog": {"requests": 5, "errors": 0, "p99_ms": 30.0},
                                "monolith": {"requests": 7, "errors": 0, "p99_ms": None}}},
    }
    assert backend_figures(counters, ["reads", "writes"], "catalog") == {"requests": 15, "errors": 1, "p99_ms": 30.0}
    assert backend_figures(counters, ["reads", "writes"], "monolith") == {"requests": 7, "errors": 0, "p99_ms": None}
    assert backend_figures(counters, ["gone"], "catalog") == {"requests": 0, "errors": 0, "p99_ms": None}


def test_canary_verdict_error_rate_then_p99_ratio() -> None:
    gate = CanaryGate(percent=10, max_error_rate=0.01, max_p99_ratio=2.0)
    mono = {"requests": 20, "errors": 0, "p99_ms": 10.0}
    fine = canary_verdict("canary-10", {"requests": 100, "errors": 1, "p99_ms": 15.0}, mono, gate, service="catalog")
    assert fine.failure is None and fine.figures["error_rate"] == 0.01 and fine.figures["p99_ratio"] == 1.5
    errors = canary_verdict("canary-10", {"requests": 100, "errors": 3, "p99_ms": 15.0}, mono, gate, service="catalog")
    assert errors.failure == "canary-10: error rate 3.0% of catalog > 1.0% (3 of 100 requests)"
    assert "p99_ratio" not in errors.figures
    slow = canary_verdict("canary-10", {"requests": 100, "errors": 0, "p99_ms": 25.0}, mono, gate, service="catalog")
    assert slow.failure == ("canary-10: p99 of catalog is 25.0 ms, 2.50x the monolith's 10.0 ms > 2x")


def test_canary_verdict_skips_the_p99_without_enough_monolith_requests() -> None:
    gate = CanaryGate(percent=10, max_p99_ratio=2.0)
    svc = {"requests": 100, "errors": 0, "p99_ms": 500.0}
    verdict = canary_verdict("canary-10", svc, {"requests": 9, "errors": 0, "p99_ms": 1.0}, gate, service="catalog")
    assert verdict.failure is None and "p99_ratio" not in verdict.figures
    assert verdict.settle() == {"service": svc, "monolith": {"requests": 9, "errors": 0, "p99_ms": 1.0},
                                "error_rate": 0.0}


def _contract_report(ok: bool, kinds: int) -> dict[str, Any]:
    findings = [{"kind": f"GET /api/x/: status {400 + i} vs 200", "seen": 1, "request": f"GET /api/x/?n={i}",
                 "curl": {"monolith": f"curl m{i}", "service": f"curl s{i}"}, "pytest": "..."} for i in range(kinds)]
    return {"ok": ok, "seed": 7, "examples": 300, "pairs": 310, "seconds": 2.5, "pairs_per_second": 124.0,
            "operations": 4, "isolation": "sqlite", "differences": kinds, "max_differences": 0, "accepted": [],
            "findings": findings, "plan": "catalog"}


def test_contract_verdict_keeps_the_figures_and_names_the_first_request_to_reproduce() -> None:
    held = contract_verdict(Path("p.yaml"), "contract", ContractGate(), _contract_report(True, 0))
    assert held.failure is None and held.figures["examples"] == 300 and held.figures["findings"] == []
    failed = contract_verdict(Path("p.yaml"), "contract", ContractGate(), _contract_report(False, 12))
    assert failed.figures["findings"][0] == {"kind": "GET /api/x/: status 400 vs 200", "seen": 1,
                                             "request": "GET /api/x/?n=0",
                                             "curl": {"monolith": "curl m0", "service": "curl s0"}}
    lines = (failed.failure or "").splitlines()
    assert lines[0] == ("contract: 12 kind(s) of difference > 0 allowed (seed 7, 300 examples); the smallest "
                        "request of each:")
    assert lines[1] == "  - GET /api/x/: status 400 vs 200: GET /api/x/?n=0"
    assert lines[11] == "  - and 2 more (strangler contract p.yaml --seed 7 shows them all)"
    assert lines[12:] == ["  the first, to reproduce:", "    monolith: curl m0", "    service:  curl s0"]
