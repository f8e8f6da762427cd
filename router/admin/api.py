"""The admin API (127.0.0.1:8081 by default), behind a bearer token taken from the environment.

    GET  /healthz             no token needed
    GET  /table               the table in use, its version and where it came from
    GET  /versions            the history of versions (newest last)
    PATCH /routes/{name}      {"backend"?, "canary"?, "shadow"?, "fallback"?}: validated like the file; a
                              route held by a lease needs header X-Router-Lease: <its id> (else 409)
    POST /rollback            back to the previous version
    POST /reload              re-read the routes file (read and parsed off the event loop); 400 with the
                              problems when it is refused
    GET  /status              the table in use and the routes file's reload state: "ok", or "rejected"
                              with the latest refusal's problems, and refusals counted by origin; with
                              worker processes, each one's pid and table version
    GET  /counters            per-route figures (requests, status classes, per-backend error rate, p50/p99,
                              shadow outcomes) of the base window; ?window=N: of window N only
    POST /counters/reset      start the base window again (shadow figures included)
    POST /windows             201 {"window": N, "opened_at"}: a counting window of one's own (router/control/windows.py)
    DELETE /windows/{N}       close it
    GET  /metrics             Prometheus exposition (with router_config_reload_rejected_total and the last
                              refusal: router/control/reload.py)
    GET  /parity              shadow parity per route (compared, equal, different, errors, dropped, rate)
                              and the latest differences (?route=NAME&limit=N, default 20, at most 200;
                              ?window=N: figures and differences of that window only)
    POST /leases              201 lease: {"freeze": [routes], "fence"?: [routes], "seconds": TTL (0-60],
                              "holder": text, "replaces"?: id, "on_expiry"?: {route: changes}}
                              (router/control/leases.py)
    GET  /leases              the live leases; GET /leases/{id}: one, with in_flight per frozen route
                              and drained
    POST /leases/{id}/renew   {"seconds", "on_expiry"?}: 409 when the lease is gone (expired, replaced, ...)
    DELETE /leases/{id}       lifts its freeze without applying on_expiry

Route changes made here live until the next reload of the file (the file stays the source of truth); a
migration plan that must survive a router restart writes the file instead. Leases are not part of the table:
a reload or rollback neither checks nor ends them, and their freezes go on.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from router.addons.metrics import Metrics, route_snapshot
from router.admin.figures import Cluster, Deferred, Figures, Payload
from router.control import edits
from router.control.leases import HEADER as LEASE_HEADER
from router.control.leases import Lease, Leases, acquire_request, renew_request
from router.control.reload import ReloadCollector
from router.control.state import TableHolder, Version
from router.control.windows import Window
from router.exceptions import AdminError

if TYPE_CHECKING:
    from router.addons.shadow import ParityRecorder, ShadowMirror
    from router.control.reload import Reloader
    from router.proxy.app import Receive, Scope, Send

__all__ = ["AdminApp", "AdminError", "Cluster", "describe", "table_as_dict"]

MAX_BODY = 64 * 1024
ROUTE_PATH = re.compile(r"^/routes/([A-Za-z0-9][A-Za-z0-9_-]{0,62})$")
LEASE_PATH = re.compile(r"^/leases/([A-Za-z0-9_-]{1,64})(/renew)?$")
WINDOW_PATH = re.compile(r"^/windows/([0-9]{1,18})$")
KNOWN = {"/table", "/versions", "/counters", "/counters/reset", "/metrics", "/rollback", "/reload", "/parity",
         "/leases", "/windows", "/status"}


def describe(version: Version) -> dict[str, Any]:
    return {"version": version.number, "table_version": version.config.table.version,
            "loaded_at": version.loaded_at.isoformat(), "origin": version.origin}


def table_as_dict(version: Version) -> dict[str, Any]:
    table = version.config.table
    return {
        **describe(version),
        "default": table.default,
        "backends": {name: {"targets": list(b.targets), "balance": b.balance, "health_path": b.health_path}
                     for name, b in table.backends.items()},
        "routes": {r.name: {"path": r.pattern.text, "match": r.pattern.kind,
                            "methods": sorted(r.methods) if r.methods else None, "backend": r.backend,
                            "canary": r.canary, "fallback": r.fallback,
                            "shadow": r.shadow.backend if r.shadow else None}
                   for r in table.routes},
    }


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdminError(400, f"body is not JSON: {exc}") from None


class AdminApp:
    def __init__(self, tables: TableHolder, metrics: Metrics, *, token_env: str,
                 reloader: Reloader | None = None, shadow: ShadowMirror | None = None,
                 parity: ParityRecorder | None = None, leases: Leases | None = None,
                 cluster: Cluster | None = None) -> None:
        self.tables = tables
        self.cluster = cluster
        self.metrics = metrics
        self.shadow = shadow
        self.parity = parity
        self.token_env = token_env
        self.reloader = reloader
        if reloader is not None:  # its refusals beside the request metrics
            self.metrics.registry.register(ReloadCollector(reloader))
        # The write freeze reads the same leases (share them; a router without one has no freezes to fence).
        self.leases = leases if leases is not None else Leases(tables)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        try:
            if path == "/healthz":
                await self._json(send, 200, {"status": "ok", **describe(self.tables.version)})
                return
            self._authorise(scope)
            body = await self._read_body(receive) if method in ("POST", "PATCH", "PUT") else b""
            query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
            lease = next((v.decode("latin-1").strip() for k, v in scope["headers"]
                          if k.lower().decode("latin-1") == LEASE_HEADER), None)
            payload: Payload | Deferred
            try:
                if path == "/reload" and method == "POST":
                    status, payload = await self._reload()  # awaits the file's reading in a thread
                else:
                    status, payload = self._dispatch(method, path, body, query, lease)
            finally:
                if self.cluster is not None:
                    # Whatever the request changed (a refused one may still have expired a lease) reaches
                    # every worker before the answer does.
                    await self.cluster.settle()
            if isinstance(payload, Deferred):
                payload = payload.render(await self._figures(payload.window))
            if isinstance(payload, bytes):
                await self._send(send, status, payload, CONTENT_TYPE_LATEST.encode())
            else:
                await self._json(send, status, payload)
        except AdminError as exc:
            headers = [(b"www-authenticate", b'Bearer realm="router-admin"')] if exc.status == 401 else []
            await self._json(send, exc.status, {"detail": exc.detail, **exc.extra}, headers)

    def _authorise(self, scope: Scope) -> None:
        expected = os.environ.get(self.token_env, "")
        if not expected:
            raise AdminError(503, f"the admin API is disabled: set {self.token_env} to a secret token")
        given = next((v for k, v in scope["headers"] if k.lower() == b"authorization"), b"")
        scheme, _, token = given.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise AdminError(401, "a valid bearer token is required")

    @staticmethod
    async def _read_body(receive: Receive) -> bytes:
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise AdminError(400, "client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise AdminError(413, f"body larger than {MAX_BODY} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _figures(self, window: Window | None) -> Figures:
        if self.cluster is not None:
            return await self.cluster.figures(window.number if window is not None else 0)
        return Figures.local(self.metrics, self.shadow, window)

    def _dispatch(self, method: str, path: str, body: bytes, query: dict[str, str], lease: str | None
                  ) -> tuple[int, Payload | Deferred]:
        if path == "/table" and method == "GET":
            return 200, table_as_dict(self.tables.version)
        if path == "/versions" and method == "GET":
            return 200, [describe(v) for v in self.tables.versions]
        if path == "/counters" and method == "GET":
            window = self._window(query)
            extra = {"window": window.number, "opened_at": window.opened_at} if window is not None else {}
            return 200, Deferred(window, lambda f: {"table_version": self.tables.version.number, **extra,
                                                    "routes": route_snapshot(f.routes, f.shadow, f.in_flight)})
        if path == "/counters/reset" and method == "POST":
            self.metrics.reset()
            return 200, {"detail": "counters reset"}
        if path == "/parity" and method == "GET":
            return 200, self._parity(query)
        if path == "/metrics" and method == "GET":
            return 200, Deferred(None, lambda f: generate_latest(f.registry))
        if path == "/rollback" and method == "POST":
            version = self.tables.rollback()
            if version is None:
                raise AdminError(409, "there is no earlier version to roll back to")
            return 200, table_as_dict(version)
        if path == "/status" and method == "GET":
            return 200, {**describe(self.tables.version),
                         "reload": self.reloader.status() if self.reloader is not None else None,
                         **({"workers": self.cluster.status()} if self.cluster is not None else {})}
        if path == "/windows" and method == "POST":
            window = self.metrics.windows.open()
            return 201, {"window": window.number, "opened_at": window.opened_at}
        if path == "/leases":
            return self._leases(method, None, None, body)
        found = ROUTE_PATH.match(path)
        if found and method == "PATCH":
            return 200, table_as_dict(self._patch_route(found.group(1), body, lease))
        windowed = WINDOW_PATH.match(path)
        if windowed and method == "DELETE":
            number = int(windowed.group(1))
            if not self.metrics.windows.close(number):
                raise AdminError(404, self._no_window(number))
            return 200, {"detail": f"window {number} closed"}
        leased = LEASE_PATH.match(path)
        if leased:
            return self._leases(method, leased.group(1), leased.group(2), body)
        if path in KNOWN or found or windowed:
            raise AdminError(405, f"{method} is not allowed on {path}")
        raise AdminError(404, f"no admin endpoint {path}")

    async def _reload(self) -> tuple[int, dict[str, Any]]:
        if self.reloader is None:
            raise AdminError(409, "this router was not started from a file")
        reloaded = await self.reloader.reload_async("admin")
        if self.reloader.last_error:
            raise AdminError(400, "the routes file is invalid; the current table keeps serving",
                             problems=self.reloader.last_error)
        return 200, table_as_dict(reloaded or self.tables.version)

    # -- windows ------------------------------------------------------------------------------------------------

    @staticmethod
    def _no_window(number: int | str) -> str:
        return f"no window {number} (the router restarted or it expired)"

    def _window(self, query: dict[str, str]) -> Window | None:
        given = query.get("window")
        if given is None:
            return None
        if not given.isdigit():
            raise AdminError(400, f"window: {given!r} is not a window number (from POST /windows)")
        window = self.metrics.windows.get(int(given))
        if window is None:
            raise AdminError(404, self._no_window(given))
        return window

    def _parity(self, query: dict[str, str]) -> Deferred:
        route = query.get("route") or None
        try:
            limit = max(0, min(200, int(query.get("limit", "20"))))
        except ValueError:
            raise AdminError(400, "limit must be an integer") from None
        window = self._window(query)
        return Deferred(window, lambda found: self._parity_figures(found, window, route, limit))

    def _parity_figures(self, found: Figures, window: Window | None, route: str | None, limit: int
                        ) -> dict[str, Any]:
        shadowed = {r.name for r in self.tables.current.table.routes if r.shadow is not None}
        if window is not None:
            figures = {name: f.as_dict() for name, f in found.shadow.items()}
        else:
            figures = found.shadow_total
        routes: dict[str, Any] = {}
        for name in sorted(shadowed | set(figures)):
            if route and name != route:
                continue
            counts = figures.get(name, {})
            compared = counts.get("compared", 0)
            routes[name] = {
                "shadowed": name in shadowed,
                **{key: counts.get(key, 0) for key in ("compared", "equal", "different", "errors", "dropped",
                                                       "queued", "sampled_out")},
                "rate": round(counts.get("equal", 0) / compared, 6) if compared else None,
            }
        store = self.parity.store if self.parity is not None else None
        out: dict[str, Any] = {
            "routes": routes,
            "latest": self.parity.recent.latest(route, limit, window=window.number if window else None)
            if self.parity is not None else [],
            "store": store.figures() if store is not None else None,
        }
        if window is not None:
            out.update(window=window.number, opened_at=window.opened_at)
        return out

    # -- leases -------------------------------------------------------------------------------------------------

    def _leases(self, method: str, lease_id: str | None, action: str | None, body: bytes
                ) -> tuple[int, Deferred]:
        # Rendered with the in-flight writes counted once the lease's change reached every worker: "drained"
        # then says that no write that got past the freeze is still on its way, in any worker.
        def rendered(lease: Lease, **extra: Any) -> Deferred:
            return Deferred(None, lambda f: {**extra, **lease.as_dict(f.in_flight)})

        leases = self.leases
        if lease_id is None:
            if method == "POST":
                return 201, rendered(leases.acquire(acquire_request(_json_body(body))))
            if method == "GET":
                leases.expire_due()
                live = list(leases.live.values())
                return 200, Deferred(None, lambda f: {"leases": [lease.as_dict(f.in_flight) for lease in live]})
        elif action == "/renew":
            if method == "POST":
                seconds, on_expiry = renew_request(_json_body(body))
                return 200, rendered(leases.renew(lease_id, seconds, on_expiry))
        elif method == "GET":
            return 200, rendered(leases.get(lease_id))
        elif method == "DELETE":
            lease = leases.release(lease_id)
            return 200, rendered(lease, detail=f"lease {lease.id} released; writes flow again on "
                                               f"{', '.join(lease.freeze) or 'no route'}")
        raise AdminError(405, f"{method} is not allowed on /leases{'/' + lease_id if lease_id else ''}"
                              f"{action or ''}")

    # -- routes -------------------------------------------------------------------------------------------------

    def _patch_route(self, name: str, body: bytes, lease: str | None) -> Version:
        changes = edits.check("body", _json_body(body))
        if name not in (self.tables.current.raw.get("routes") or {}):
            raise AdminError(404, f"no route {name!r}")
        # Fenced: a route held by a lease changes only with that lease, and a lost lease changes nothing.
        self.leases.fence(name, lease)
        origin = f"admin: routes.{name} {json.dumps(changes, sort_keys=True)}"
        return edits.apply(self.tables, {name: changes}, origin=origin + (f" (lease {lease})" if lease else ""))

    @staticmethod
    async def _json(send: Send, status: int, payload: Any, headers: list[tuple[bytes, bytes]] | None = None
                    ) -> None:
        await AdminApp._send(send, status, json.dumps(payload).encode(), b"application/json", headers)

    @staticmethod
    async def _send(send: Send, status: int, body: bytes, content_type: bytes,
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(headers or [])]})
        await send({"type": "http.response.body", "body": body})
