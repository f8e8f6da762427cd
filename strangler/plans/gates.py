"""The gates: figures read from the router, never assumed, and a verdict on them.

A gate opens a counting window of its own on the router when it starts (``POST /windows``) and reads only
that window: requests and shadow comparisons of requests that started after it opened. Figures from before
(an earlier run's comparisons, another plan's traffic) can neither make it pass nor be wiped by it. If the
router forgets the window (it restarted), the gate opens a new one, says so, and keeps waiting: it can then
only pass on new figures. It waits (up to its timeout) until enough requests were seen, then holds or fails
with the figure and the limit: "canary-10: error rate 3.1% of catalog > 1.0% (4 of 129 requests)".

Each gate is two halves: the gathering (the window, the polling, the waiting: all the I/O) and the verdict,
a pure function of the figures gathered and the plan's limits (``shadow_verdict``, ``canary_verdict``; the
contract step's is ``contract_gate.contract_verdict``), so a verdict can be tested, and reasoned about,
without a router.

The router's admin API itself is :mod:`strangler.plans.admin`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strangler.plans.admin import RouterAdmin as RouterAdmin  # re-exported: the gates' callers hold one
from strangler.plans.exceptions import GateFailed, RouterUnavailable, WindowLost
from strangler.plans.schema import CanaryGate, ShadowGate

Say = Callable[[str], None]
Counters = dict[str, Any]  # the router's per-route figures of one window, as GET /counters gives them
# What a gate makes of one read of its window: (its figures, whether there are enough, why not).
Reading = tuple[dict[str, Any], bool, str]


@dataclass(frozen=True)
class Verdict:
    figures: dict[str, Any]  # what the gate saw and worked out: kept in the plan's status
    failure: str | None = None  # why the gate does not hold ("canary-10: error rate ..."); None: it holds

    def settle(self) -> dict[str, Any]:
        """The figures of a gate that holds; ``GateFailed`` with the reason of one that does not."""
        if self.failure is not None:
            raise GateFailed(self.failure)
        return self.figures


# -- the verdicts: pure ----------------------------------------------------------------------------------------

def shadow_figures(counters: Counters, routes: list[str]) -> dict[str, Any]:
    """The shadow's figures of ``routes`` added up; with more than one route, each route's own under
    ``routes`` (the gate holds or fails on the sum, and its message names the routes that differ)."""
    each = {route: dict(counters.get(route, {}).get("shadow") or {}) for route in routes}
    total: dict[str, Any] = {}
    for figures in each.values():
        for key, value in figures.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):  # counts: compared, different, ...
                total[key] = total.get(key, 0) + value
    if len(routes) > 1:
        total["routes"] = each
    return total


def shadow_enough(figures: dict[str, Any], gate: ShadowGate) -> tuple[bool, str]:
    compared = figures.get("compared", 0)
    return compared >= gate.min_requests, f"only {compared} of {gate.min_requests} requests compared"


def shadow_verdict(step: str, figures: dict[str, Any], gate: ShadowGate) -> Verdict:
    """Of figures with at least one comparison (``shadow_enough`` held): the mismatch rate within the limit."""
    compared, different = figures["compared"], figures.get("different", 0)
    rate = different / compared
    result = {**figures, "mismatch_rate": rate}
    if rate > gate.max_mismatch_rate:
        per_route = [f"{route} {f.get('different', 0)} of {f.get('compared', 0)}"
                     for route, f in (figures.get("routes") or {}).items()]
        return Verdict(result, f"{step}: mismatch rate {rate:.1%} > {gate.max_mismatch_rate:.1%} "
                               f"({different} of {compared} compared requests differ"
                               + (f": {', '.join(per_route)})" if per_route else ")"))
    return Verdict(result)


def backend_figures(counters: Counters, routes: list[str], backend: str) -> dict[str, Any]:
    """One backend's requests, errors and p99 over ``routes`` (the p99: the worst route's)."""
    total: dict[str, Any] = {"requests": 0, "errors": 0, "p99_ms": None}
    for route in routes:
        figures = counters.get(route, {}).get("backends", {}).get(backend)
        if figures:
            total["requests"] += figures["requests"]
            total["errors"] += figures["errors"]
            if figures["p99_ms"] is not None:
                total["p99_ms"] = max(total["p99_ms"] or 0.0, figures["p99_ms"])
    return total


def canary_verdict(step: str, svc: dict[str, Any], mono: dict[str, Any], gate: CanaryGate, *,
                   service: str) -> Verdict:
    """Of the service's figures (with at least one request) and the monolith's over the same window: the
    error rate within the limit, and the p99 against the monolith's (when it answered enough to have one)."""
    error_rate = svc["errors"] / svc["requests"]
    result = {"service": svc, "monolith": mono, "error_rate": error_rate}
    if error_rate > gate.max_error_rate:
        return Verdict(result, f"{step}: error rate {error_rate:.1%} of {service} > {gate.max_error_rate:.1%} "
                               f"({svc['errors']} of {svc['requests']} requests)")
    if svc["p99_ms"] is not None and mono["p99_ms"] and mono["requests"] >= 10:
        ratio = svc["p99_ms"] / mono["p99_ms"]
        result["p99_ratio"] = ratio
        if ratio > gate.max_p99_ratio:
            return Verdict(result, f"{step}: p99 of {service} is {svc['p99_ms']:.1f} ms, {ratio:.2f}x the "
                                   f"monolith's {mono['p99_ms']:.1f} ms > {gate.max_p99_ratio:g}x")
    return Verdict(result)


# -- the gathering -------------------------------------------------------------------------------------------

class _GateWindow:
    """The gate's own counting window, opened again (and said so) when the router has forgotten it."""

    def __init__(self, admin: RouterAdmin, step: str, say: Say) -> None:
        self.admin, self.step, self.say = admin, step, say
        self.number = admin.open_window()

    def counters(self) -> Counters:
        try:
            return self.admin.counters(self.number)
        except WindowLost:
            old, self.number = self.number, self.admin.open_window()
            self.say(f"{self.step}: the router no longer knows window {old} (restarted?); counting again from "
                     f"now in window {self.number}")
            return self.admin.counters(self.number)

    def close(self) -> None:
        try:
            self.admin.close_window(self.number)
        except RouterUnavailable:
            pass  # the router drops idle windows by itself


def _gather(admin: RouterAdmin, step: str, timeout: float, poll: float, say: Say,
            read: Callable[[Counters], Reading]) -> dict[str, Any]:
    """Reads the gate's own window every ``poll`` seconds until ``read`` finds enough; its figures then, or
    ``GateFailed`` with why not after ``timeout``. The window is closed either way."""
    window = _GateWindow(admin, step, say)
    deadline = time.monotonic() + timeout
    try:
        while True:
            figures, enough, why = read(window.counters())
            if enough:
                return figures
            if time.monotonic() >= deadline:
                raise GateFailed(f"{step}: {why} within {timeout:g}s")
            time.sleep(poll)
    finally:
        window.close()


def shadow_gate(admin: RouterAdmin, step: str, routes: list[str], gate: ShadowGate, say: Say) -> dict[str, Any]:
    """Holds when at least ``min_requests`` answers of ``routes`` (together) were compared in the gate's own
    window, with a mismatch rate within the limit. Comparisons of requests from before the gate started
    never count."""

    def read(counters: Counters) -> Reading:
        figures = shadow_figures(counters, routes)
        say(f"{step}: {figures.get('compared', 0)}/{gate.min_requests} compared, "
            f"{figures.get('different', 0)} different")
        return figures, *shadow_enough(figures, gate)

    return shadow_verdict(step, _gather(admin, step, gate.timeout, gate.poll, say, read), gate).settle()


def canary_gate(admin: RouterAdmin, step: str, routes: list[str], gate: CanaryGate, *, service: str,
                monolith: str, say: Say) -> dict[str, Any]:
    """Holds when the service answered enough requests of the moved routes, with an error rate and a p99
    within the limits (the p99 against the monolith's over the same window: the gate's own)."""

    def read(counters: Counters) -> Reading:
        # One read for both sides: the same moment of the same window.
        seen = {"service": backend_figures(counters, routes, service),
                "monolith": backend_figures(counters, routes, monolith)}
        count = seen["service"]["requests"]
        say(f"{step}: {count}/{gate.min_requests} requests on {service}")
        return seen, count >= gate.min_requests, f"only {count} of {gate.min_requests} requests reached {service}"

    seen = _gather(admin, step, gate.timeout, gate.poll, say, read)
    return canary_verdict(step, seen["service"], seen["monolith"], gate, service=service).settle()
