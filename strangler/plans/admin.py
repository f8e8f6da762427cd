"""The router's admin API, as the executor uses it: its table, route changes (fenced by the write freeze's
lease when one is held), counting windows and their figures, and the leases themselves.

Every refusal is turned into an error that names the call, the status and the router's own words; a 409 on
a change made under a lease is ``LeaseLost`` (the change was not made), a window the router forgot is
``WindowLost``.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from strangler.plans.exceptions import LeaseLost, RouterUnavailable, WindowLost
from strangler.plans.schema import RouterSpec

LEASE_HEADER = "X-Router-Lease"
# A refusal that means the thing a call relies on is gone (a lease, a window): the error and its statuses.
Lost = tuple[type[RouterUnavailable] | type[LeaseLost], tuple[int, ...]]


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

    def _checked(self, method: str, path: str, *, lost: Lost | None = None, gone: bool = False,
                 **kwargs: Any) -> httpx.Response | None:
        """One call, its refusals raised: a status of ``lost`` as its error (the lease or window is gone: a
        ``LeaseLost``, a ``WindowLost``), a 404 as None when ``gone`` is fine (closing what is already
        closed), any other as ``RouterUnavailable`` naming the call and the router's words."""
        response = self._request(method, path, **kwargs)
        if lost is not None and response.status_code in lost[1]:
            raise lost[0](self._refusal(method, path, response))
        if gone and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise RouterUnavailable(self._refusal(method, path, response))
        return response

    def _call(self, method: str, path: str, *, lost: Lost | None = None, **kwargs: Any) -> Any:
        response = self._checked(method, path, lost=lost, **kwargs)
        assert response is not None  # only ``gone`` makes it None
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
        if lease is None:
            result: dict[str, Any] = self._call("PATCH", f"/routes/{route}", json=changes)
        else:
            result = self._call("PATCH", f"/routes/{route}", json=changes, headers={LEASE_HEADER: lease},
                                lost=(LeaseLost, (409,)))
        return result

    # -- counters and windows -------------------------------------------------------------------------------

    def open_window(self) -> int:
        """A counting window of one's own: ``counters(window)`` and ``parity(window)`` see only the requests
        that started after this call."""
        return int(self._call("POST", "/windows")["window"])

    def close_window(self, window: int) -> None:
        """Closes a window (the router keeps a few dozen); one already gone is fine."""
        self._checked("DELETE", f"/windows/{window}", gone=True)

    def _windowed(self, path: str, window: int | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        query = {**(params or {}), **({"window": window} if window is not None else {})}
        lost: Lost | None = (WindowLost, (404,)) if window is not None else None
        result: dict[str, Any] = self._call("GET", path, params=query or None, lost=lost)
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
        result: dict[str, Any] = self._call("POST", path, json=body, lost=(LeaseLost, (404, 409)))
        return result

    def release_lease(self, lease: str) -> None:
        """Lifts the lease's freeze without its on_expiry. Idempotent: a lease already gone is fine."""
        self._checked("DELETE", f"/leases/{lease}", gone=True)

    def lease(self, lease: str) -> dict[str, Any] | None:
        """The live lease with ``in_flight`` per frozen route and ``drained``; None when it is gone."""
        response = self._checked("GET", f"/leases/{lease}", gone=True)
        if response is None:
            return None
        result: dict[str, Any] = response.json()
        return result

    def close(self) -> None:
        self.http.close()
