"""The admin API (127.0.0.1:8081 by default), behind a bearer token taken from the environment.

    GET  /healthz             no token needed
    GET  /table               the table in use, its version and where it came from
    GET  /versions            the history of versions (newest last)
    PATCH /routes/{name}      {"backend"?, "canary"?, "shadow"?, "fallback"?}: validated like the file
    POST /rollback            back to the previous version
    POST /reload              re-read the routes file
    GET  /counters            per-route figures (requests, status classes, per-backend error rate, p50/p99)
    POST /counters/reset      start a new window for those figures
    GET  /metrics             Prometheus exposition
    GET  /parity              shadow parity per route (compared, equal, different, errors, dropped, rate)
                              and the latest differences (?route=NAME&limit=N, default 20, at most 200)

Changes made here live until the next reload of the file (the file stays the source of truth); a migration
plan that must survive a router restart writes the file instead.
"""

from __future__ import annotations

import copy
import hmac
import json
import os
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from router.config import parse_data
from router.exceptions import ConfigError
from router.metrics import Metrics
from router.state import TableHolder, Version

if TYPE_CHECKING:
    from router.app import Receive, Scope, Send
    from router.reload import Reloader
    from router.shadow import ParityRecorder, ShadowMirror

MAX_BODY = 64 * 1024
ROUTE_PATH = re.compile(r"^/routes/([A-Za-z0-9][A-Za-z0-9_-]{0,62})$")
EDITABLE = {"backend", "canary", "shadow", "fallback", "freeze"}
MAX_FREEZE_SECONDS = 300


class AdminError(Exception):
    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.extra = status, detail, extra


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


class AdminApp:
    def __init__(self, tables: TableHolder, metrics: Metrics, *, token_env: str,
                 reloader: Reloader | None = None, shadow: ShadowMirror | None = None,
                 parity: ParityRecorder | None = None) -> None:
        self.tables = tables
        self.metrics = metrics
        self.shadow = shadow
        self.parity = parity
        self.token_env = token_env
        self.reloader = reloader

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
            payload: dict[str, Any] | list[Any] | bytes
            if path == "/parity" and method == "GET":
                status, payload = 200, self._parity(scope.get("query_string", b""))
            else:
                status, payload = self._dispatch(method, path, body)
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

    def _dispatch(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any] | list[Any] | bytes]:
        if path == "/table" and method == "GET":
            return 200, table_as_dict(self.tables.version)
        if path == "/versions" and method == "GET":
            return 200, [describe(v) for v in self.tables.versions]
        if path == "/counters" and method == "GET":
            return 200, {"table_version": self.tables.version.number, "routes": self.metrics.snapshot()}
        if path == "/counters/reset" and method == "POST":
            self.metrics.reset()
            return 200, {"detail": "counters reset"}
        if path == "/metrics" and method == "GET":
            return 200, generate_latest(self.metrics.registry)
        if path == "/rollback" and method == "POST":
            version = self.tables.rollback()
            if version is None:
                raise AdminError(409, "there is no earlier version to roll back to")
            return 200, table_as_dict(version)
        if path == "/reload" and method == "POST":
            if self.reloader is None:
                raise AdminError(409, "this router was not started from a file")
            reloaded = self.reloader.reload("admin")
            if self.reloader.last_error:
                raise AdminError(400, "the routes file is invalid; the current table keeps serving",
                                 problems=self.reloader.last_error)
            return 200, table_as_dict(reloaded or self.tables.version)
        found = ROUTE_PATH.match(path)
        if found and method == "PATCH":
            return 200, table_as_dict(self._patch_route(found.group(1), body))
        known = {"/table", "/versions", "/counters", "/counters/reset", "/metrics", "/rollback", "/reload",
                 "/parity"}
        if path in known or found:
            raise AdminError(405, f"{method} is not allowed on {path}")
        raise AdminError(404, f"no admin endpoint {path}")

    def _parity(self, query_string: bytes) -> dict[str, Any]:
        query = parse_qs(query_string.decode("latin-1"))
        route = query["route"][0] if query.get("route") else None
        try:
            limit = max(0, min(200, int((query.get("limit") or ["20"])[0])))
        except ValueError:
            raise AdminError(400, "limit must be an integer") from None
        shadowed = {r.name for r in self.tables.current.table.routes if r.shadow is not None}
        figures = self.shadow.snapshot() if self.shadow is not None else {}
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
        return {
            "routes": routes,
            "latest": self.parity.recent.latest(route, limit) if self.parity is not None else [],
            "store": store.figures() if store is not None else None,
        }

    def _patch_route(self, name: str, body: bytes) -> Version:
        try:
            changes = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise AdminError(400, f"body is not JSON: {exc}") from None
        if not isinstance(changes, dict) or not changes:
            raise AdminError(400, f"body must be a JSON object with some of: {', '.join(sorted(EDITABLE))}")
        unknown = set(changes) - EDITABLE
        if unknown:
            raise AdminError(400, f"cannot change {', '.join(sorted(unknown))} here; "
                                  f"editable: {', '.join(sorted(EDITABLE))}")
        current = self.tables.current
        raw = copy.deepcopy(current.raw)
        routes = raw.get("routes") or {}
        if name not in routes:
            raise AdminError(404, f"no route {name!r}")
        if "freeze" in changes:
            routes[name].pop("frozen_until", None)
            seconds = changes.pop("freeze")
            if seconds:  # 0 or null lifts a freeze
                if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                        or not 0 < seconds <= MAX_FREEZE_SECONDS:
                    raise AdminError(400, f"routes.{name}.freeze: {seconds!r} is not a number of seconds "
                                          f"(0-{MAX_FREEZE_SECONDS})")
                routes[name]["frozen_until"] = time.time() + float(seconds)
        for key, value in changes.items():
            if value is None:
                routes[name].pop(key, None)
            else:
                routes[name][key] = value
        try:
            new = parse_data(raw, source="admin")
        except ConfigError as exc:
            raise AdminError(400, "change refused; the current table keeps serving", problems=exc.problems) from None
        return self.tables.swap(new, origin=f"admin: routes.{name} {json.dumps(changes, sort_keys=True)}")

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
