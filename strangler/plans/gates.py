"""Talking to the router's admin API, and the gates: figures read from the router, never assumed.

A gate opens a counting window of its own on the router when it starts (``POST /windows``) and reads only
that window: requests and shadow comparisons of requests that started after it opened. Figures from before
(an earlier run's comparisons, another plan's traffic) can neither make it pass nor be wiped by it. If the
router forgets the window (it restarted), the gate opens a new one, says so, and keeps waiting: it can then
only pass on new figures. It waits (up to its timeout) until enough requests were seen, then holds or fails
with the figure and the limit: "canary-10: error rate 3.1% of catalog > 1.0% (4 of 129 requests)".

The write freeze is a lease (``acquire_lease`` ... ``release_lease``); route changes under it carry its id
(``patch(route, lease=...)``), and any sign that the lease is gone raises ``LeaseLost``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from strangler.plans.exceptions import GateFailed, LeaseLost, RouterUnavailable, WindowLost
from strangler.plans.schema import CanaryGate, RouterSpec, ShadowGate

LEASE_HEADER = "X-Router-Lease"


class RouterAdmin:
    def __init__(self, spec: RouterSpec) -> None:
        token = os.environ.get(spec.token_env, "")
        if not token:
            raise RouterUnavailable(f"router.token_env: set {spec.token_env} to the router's admin token")
        self.spec = spec
        self.http = httpx.Client(base_url=spec.admin_url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=10)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RouterUnavailable(f"router admin API at {self.spec.admin_url}: {exc}") from exc

    @staticmethod
    def _refusal(method: str, path: str, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text[:200]}
        if not isinstance(body, dict):
            body = {"detail": str(body)[:200]}
        problems = "; ".join(body.get("problems") or [])
        return (f"router admin API {method} {path}: {response.status_code} "
                f"{body.get('detail')}{': ' + problems if problems else ''}")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RouterUnavailable(self._refusal(method, path, response))
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

    def patch(self, route: str, *, lease: str | None = None, **changes: Any) -> dict[str, Any]:
        """Changes a route; ``lease``: the lease that holds it (sent as X-Router-Lease). A 409 under a lease
        means the lease is gone (or does not hold the route): ``LeaseLost``, the change was not made."""
        path = f"/routes/{route}"
        headers = {LEASE_HEADER: lease} if lease is not None else None
        response = self._request("PATCH", path, json=changes, headers=headers)
        if response.status_code == 409 and lease is not None:
            raise LeaseLost(self._refusal("PATCH", path, response))
        if response.status_code >= 400:
            raise RouterUnavailable(self._refusal("PATCH", path, response))
        result: dict[str, Any] = response.json()
        return result

    # -- counters and windows -------------------------------------------------------------------------------

    def open_window(self) -> int:
        """A counting window of one's own: ``counters(window)`` and ``parity(window)`` see only the requests
        that started after this call."""
        return int(self._call("POST", "/windows")["window"])

    def close_window(self, window: int) -> None:
        """Closes a window (the router keeps a few dozen); one already gone is fine."""
        response = self._request("DELETE", f"/windows/{window}")
        if response.status_code >= 400 and response.status_code != 404:
            raise RouterUnavailable(self._refusal("DELETE", f"/windows/{window}", response))

    def _windowed(self, path: str, window: int | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        query = {**(params or {}), **({"window": window} if window is not None else {})}
        response = self._request("GET", path, params=query or None)
        if response.status_code == 404 and window is not None:
            raise WindowLost(self._refusal("GET", path, response))
        if response.status_code >= 400:
            raise RouterUnavailable(self._refusal("GET", path, response))
        result: dict[str, Any] = response.json()
        return result

    def counters(self, window: int | None = None) -> dict[str, Any]:
        """Per-route figures (of ``window`` only, when given; ``WindowLost`` if the router forgot it)."""
        result: dict[str, Any] = self._windowed("/counters", window)["routes"]
        return result

    def parity(self, window: int | None = None, *, route: str | None = None, limit: int | None = None
               ) -> dict[str, Any]:
        params = {k: v for k, v in (("route", route), ("limit", limit)) if v is not None}
        return self._windowed("/parity", window, params)

    def reset_counters(self) -> None:
        """Starts the router's base window again. Gates do not need it: they read windows of their own."""
        self._call("POST", "/counters/reset")

    # -- the write freeze's lease ---------------------------------------------------------------------------

    def acquire_lease(self, freeze: list[str], fence: list[str], seconds: float, holder: str,
                      replaces: str | None = None, on_expiry: dict[str, Any] | None = None) -> dict[str, Any]:
        """Freezes the writes of ``freeze`` and fences ``freeze`` and ``fence`` for ``seconds``; a 409 (a route
        held by another lease, or ``replaces`` gone) is a ``RouterUnavailable`` naming route, lease, holder."""
        body: dict[str, Any] = {"freeze": list(freeze), "fence": list(fence), "seconds": seconds, "holder": holder}
        if replaces is not None:
            body["replaces"] = replaces
        if on_expiry is not None:
            body["on_expiry"] = on_expiry
        result: dict[str, Any] = self._call("POST", "/leases", json=body)
        return result

    def renew_lease(self, lease: str, seconds: float, on_expiry: dict[str, Any] | None = None) -> dict[str, Any]:
        """Extends the lease to ``seconds`` from now (and replaces its on_expiry when given). ``LeaseLost`` when
        the router says it is gone (expired, replaced, released, unknown)."""
        path = f"/leases/{lease}/renew"
        body: dict[str, Any] = {"seconds": seconds}
        if on_expiry is not None:
            body["on_expiry"] = on_expiry
        response = self._request("POST", path, json=body)
        if response.status_code in (404, 409):
            raise LeaseLost(self._refusal("POST", path, response))
        if response.status_code >= 400:
            raise RouterUnavailable(self._refusal("POST", path, response))
        result: dict[str, Any] = response.json()
        return result

    def release_lease(self, lease: str) -> None:
        """Lifts the lease's freeze without its on_expiry. Idempotent: a lease already gone is fine."""
        response = self._request("DELETE", f"/leases/{lease}")
        if response.status_code >= 400 and response.status_code != 404:
            raise RouterUnavailable(self._refusal("DELETE", f"/leases/{lease}", response))

    def lease(self, lease: str) -> dict[str, Any] | None:
        """The live lease with ``in_flight`` per frozen route and ``drained``; None when it is gone."""
        response = self._request("GET", f"/leases/{lease}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise RouterUnavailable(self._refusal("GET", f"/leases/{lease}", response))
        result: dict[str, Any] = response.json()
        return result

    def close(self) -> None:
        self.http.close()


class _GateWindow:
    """The gate's own counting window, opened again (and said so) when the router has forgotten it."""

    def __init__(self, admin: RouterAdmin, step: str, say: Callable[[str], None]) -> None:
        self.admin, self.step, self.say = admin, step, say
        self.number = admin.open_window()

    def counters(self) -> dict[str, Any]:
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
    """Holds when at least ``min_requests`` answers of ``route`` were compared in the gate's own window, with
    a mismatch rate within the limit. Comparisons of requests from before the gate started never count."""
    figures: dict[str, Any] = {}
    window = _GateWindow(admin, step, say)

    def ready() -> tuple[bool, str]:
        figures.clear()
        figures.update(window.counters().get(route, {}).get("shadow") or {})
        compared = figures.get("compared", 0)
        say(f"{step}: {compared}/{gate.min_requests} compared, {figures.get('different', 0)} different")
        return compared >= gate.min_requests, f"only {compared} of {gate.min_requests} requests compared"

    try:
        _wait(step, gate.timeout, gate.poll, ready)
    finally:
        window.close()
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
    within the limits (the p99 against the monolith's over the same window: the gate's own)."""
    seen: dict[str, Any] = {}
    window = _GateWindow(admin, step, say)

    def backend_figures(counters: dict[str, Any], name: str) -> dict[str, Any]:
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
        counters = window.counters()  # one read for both sides: the same moment of the same window
        seen["service"] = backend_figures(counters, service)
        seen["monolith"] = backend_figures(counters, monolith)
        count = seen["service"]["requests"]
        say(f"{step}: {count}/{gate.min_requests} requests on {service}")
        return count >= gate.min_requests, f"only {count} of {gate.min_requests} requests reached {service}"

    try:
        _wait(step, gate.timeout, gate.poll, ready)
    finally:
        window.close()
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
