"""Talking to the router's admin API, and the gates: figures read from the router, never assumed.

A gate waits (up to its timeout) until enough requests were seen in the current window, then holds or
fails with the figure and the limit: "canary-10: error rate 3.1% of catalog > 1.0% (4 of 129 requests)".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from strangler.plans.exceptions import GateFailed, RouterUnavailable
from strangler.plans.schema import CanaryGate, RouterSpec, ShadowGate


class RouterAdmin:
    def __init__(self, spec: RouterSpec) -> None:
        token = os.environ.get(spec.token_env, "")
        if not token:
            raise RouterUnavailable(f"router.token_env: set {spec.token_env} to the router's admin token")
        self.spec = spec
        self.http = httpx.Client(base_url=spec.admin_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=10)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RouterUnavailable(f"router admin API at {self.spec.admin_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:200]}
            problems = "; ".join(body.get("problems") or [])
            raise RouterUnavailable(f"router admin API {method} {path}: {response.status_code} "
                                    f"{body.get('detail')}{': ' + problems if problems else ''}")
        return response.json()

    def table(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/table")
        return result

    def route(self, name: str) -> dict[str, Any]:
        routes = self.table()["routes"]
        if name not in routes:
            raise RouterUnavailable(f"the router has no route {name!r}; add it to the routes file "
                                    f"(known: {', '.join(sorted(routes))})")
        route: dict[str, Any] = routes[name]
        return route

    def patch(self, route: str, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PATCH", f"/routes/{route}", json=changes)
        return result

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/counters")["routes"]
        return result

    def reset_counters(self) -> None:
        self._call("POST", "/counters/reset")

    def close(self) -> None:
        self.http.close()


def _wait(step: str, timeout: float, poll: float, ready: Callable[[], tuple[bool, str]]) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ok, why = ready()
        if ok:
            return
        if time.monotonic() >= deadline:
            raise GateFailed(f"{step}: {why} within {timeout:g}s")
        time.sleep(poll)


def shadow_gate(admin: RouterAdmin, step: str, route: str, gate: ShadowGate,
                say: Callable[[str], None]) -> dict[str, Any]:
    figures: dict[str, Any] = {}

    def ready() -> tuple[bool, str]:
        figures.update(admin.counters().get(route, {}).get("shadow") or {})
        compared = figures.get("compared", 0)
        say(f"{step}: {compared}/{gate.min_requests} compared, {figures.get('different', 0)} different")
        return compared >= gate.min_requests, f"only {compared} of {gate.min_requests} requests compared"

    _wait(step, gate.timeout, gate.poll, ready)
    compared, different = figures["compared"], figures.get("different", 0)
    rate = different / compared
    figures["mismatch_rate"] = rate
    if rate > gate.max_mismatch_rate:
        raise GateFailed(f"{step}: mismatch rate {rate:.1%} > {gate.max_mismatch_rate:.1%} "
                         f"({different} of {compared} compared requests differ)")
    return figures


def canary_gate(admin: RouterAdmin, step: str, routes: list[str], gate: CanaryGate, *, service: str,
                monolith: str, say: Callable[[str], None]) -> dict[str, Any]:
    """Holds when the service answered enough requests of the moved routes, with an error rate and a p99
    within the limits (the p99 against the monolith's over the same window)."""
    seen: dict[str, Any] = {}

    def backend_figures(name: str) -> dict[str, Any]:
        counters = admin.counters()
        total = {"requests": 0, "errors": 0, "p99_ms": None}
        for route in routes:
            figures = counters.get(route, {}).get("backends", {}).get(name)
            if figures:
                total["requests"] += figures["requests"]
                total["errors"] += figures["errors"]
                if figures["p99_ms"] is not None:
                    total["p99_ms"] = max(total["p99_ms"] or 0.0, figures["p99_ms"])
        return total

    def ready() -> tuple[bool, str]:
        seen["service"] = backend_figures(service)
        seen["monolith"] = backend_figures(monolith)
        count = seen["service"]["requests"]
        say(f"{step}: {count}/{gate.min_requests} requests on {service}")
        return count >= gate.min_requests, f"only {count} of {gate.min_requests} requests reached {service}"

    _wait(step, gate.timeout, gate.poll, ready)
    svc, mono = seen["service"], seen["monolith"]
    error_rate = svc["errors"] / svc["requests"]
    result = {"service": svc, "monolith": mono, "error_rate": error_rate}
    if error_rate > gate.max_error_rate:
        raise GateFailed(f"{step}: error rate {error_rate:.1%} of {service} > {gate.max_error_rate:.1%} "
                         f"({svc['errors']} of {svc['requests']} requests)")
    if svc["p99_ms"] is not None and mono["p99_ms"] and mono["requests"] >= 10:
        ratio = svc["p99_ms"] / mono["p99_ms"]
        result["p99_ratio"] = ratio
        if ratio > gate.max_p99_ratio:
            raise GateFailed(f"{step}: p99 of {service} is {svc['p99_ms']:.1f} ms, {ratio:.2f}x the monolith's "
                             f"{mono['p99_ms']:.1f} ms > {gate.max_p99_ratio:g}x")
    return result
