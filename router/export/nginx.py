"""A routing table as an nginx configuration: ``render_nginx(config) -> (nginx.conf text, warnings)``.

Pure: no I/O, no nginx needed. The result is a complete ``nginx.conf`` (``nginx -c FILE``) whose runtime
files (pid, logs, temp dirs) live under one prefix directory that must exist and be writable.

How the router's behaviour maps onto nginx (each point is also explained in the generated file):

- backends -> ``upstream`` blocks (``least_conn`` for least_busy; ``max_fails``/``fail_timeout`` for the
  circuit; ``keepalive``);
- route selection -> one location per route path (``=`` for exact and the bare form of a prefix, ``^~`` for
  literal prefixes, ordered ``~`` regexes for ``{param}`` patterns). nginx picks a location by path only and
  with its own precedence, so each location only *dispatches*: a ``map`` over the request's condition flags
  (method set, header, idempotency) and the path re-checks, in the router's most-specific-first order,
  every route that can match a path reaching that location, and names the *action* (a named location:
  route x backend) that serves it. Whatever location nginx picks, the same route wins as in
  ``RouteTable.match()``;
- canary -> ``split_clients`` on a sticky key (session cookie, else client address), salted with the
  route's backend like ``router.canary``;
- fallback -> ``proxy_intercept_errors`` + ``error_page 5xx = @fallback`` for idempotent requests without
  a body only (the dispatch map sends the others to a variant without interception: never sent twice);
- shadow -> ``mirror`` to an internal location that drops methods the route does not shadow.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from router.config import RouterConfig
from router.headers import IDENTITY, NEVER_MATCHABLE
from router.table import IDEMPOTENT_METHODS, SAFE_METHODS, Backend, Pattern, Route

DEFAULT_PREFIX = os.path.join(tempfile.gettempdir(), "router-nginx")  # runtime files; per user: --prefix
LIVENESS_PATH = "/__router/health"
SHADOW_PREFIX = "/__router/shadow/"  # /__router/ is the router's own: no route can collide with these
# Every 5xx nginx can intercept: the Python router falls back on any 5xx answer, not only 502-504.
FALLBACK_STATUSES = "500 501 502 503 504 505 506 507 508 510 511"
DISPATCH_STATUS = 418  # a status no backend answer is involved in: ``return 418`` + ``error_page 418 = @x``
_PLAIN = re.compile(r"^[A-Za-z0-9_./:@~%+-]+$")
_HEADER_VAR = re.compile(r"^[a-z0-9-]+$")
_COOKIE_VAR = re.compile(r"^[A-Za-z0-9_]+$")
_BAD_DECODED = r"~[\\\x00-\x1f\x7f]"  # PCRE: a backslash or a control character


def q(text: str) -> str:
    """An nginx string token: bare when safe, else double-quoted (nginx unescapes \\\\ and \\" in quotes)."""
    if text and _PLAIN.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _duration(seconds: float) -> str:
    ms = max(1, round(seconds * 1000))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _percent(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))


# -- patterns -------------------------------------------------------------------------------------------

def _literal_path(p: Pattern) -> str:
    if not p.parts:
        return "/"
    return "/" + "/".join(p.parts) + ("/" if p.kind == "exact" and p.trailing_slash else "")


def path_regex(p: Pattern) -> str:
    """The PCRE (anchored at the end, not the start) matching the decoded paths ``p`` matches."""
    body = "".join("/" + ("[^/]+" if Pattern.is_param(s) else re.escape(s)) for s in p.parts)
    if p.kind == "prefix":
        return body + "(?:/.*)?$" if p.parts else "/.*$"
    if not p.parts:
        return "/$"
    return body + ("/" if p.trailing_slash else "") + "$"


def _literal(p: Pattern) -> bool:
    return not any(Pattern.is_param(s) for s in p.parts)


def overlap(a: Pattern, b: Pattern) -> bool:
    """Whether some normalised path matches both patterns."""
    for x, y in zip(a.parts, b.parts, strict=False):
        if not (Pattern.is_param(x) or Pattern.is_param(y) or x == y):
            return False
    la, lb = len(a.parts), len(b.parts)
    if a.kind == "exact" and b.kind == "exact":
        return la == lb and (la == 0 or a.trailing_slash == b.trailing_slash)
    if a.kind == "exact":
        return la >= lb
    if b.kind == "exact":
        return lb >= la
    return True


def covers(r: Pattern, loc: Pattern) -> bool:
    """Whether every path matching ``loc`` also matches ``r``."""
    same = all(Pattern.is_param(x) or x == y for x, y in zip(r.parts, loc.parts, strict=False))
    if r.kind == "exact":
        return (loc.kind == "exact" and len(r.parts) == len(loc.parts) and same
                and (not r.parts or r.trailing_slash == loc.trailing_slash))
    return len(r.parts) <= len(loc.parts) and same


def _pattern_key(p: Pattern) -> tuple[str, tuple[str, ...], bool]:
    return (p.kind, tuple("{}" if Pattern.is_param(s) else s for s in p.parts),
            p.kind == "exact" and bool(p.parts) and p.trailing_slash)


# -- the renderer -----------------------------------------------------------------------------------------

@dataclass
class _Location:
    pattern: Pattern
    forms: list[str]
    catch_all: bool = False
    candidates: list[Route] = field(default_factory=list)


class _Renderer:
    def __init__(self, cfg: RouterConfig, prefix: str, listen: str) -> None:
        self.cfg = cfg
        self.table = cfg.table
        self.prefix = prefix.rstrip("/") or "/"
        self.listen = listen
        self.warnings: list[str] = []
        self.notes: list[str] = []  # "cannot express" comments for the file's head
        self.backend_var = self._idents(sorted(self.table.backends))
        self.route_var = self._idents([r.name for r in self.table.routes])
        self.routes = [r for r in self.table.routes if self._expressible(r)]
        self.method_flags: dict[frozenset[str], int] = {}
        self.header_flags: dict[tuple[str, str | None], int] = {}
        for route in self.routes:
            if route.methods is not None and route.methods not in self.method_flags:
                self.method_flags[route.methods] = len(self.method_flags) + len(self.header_flags)
            if route.header is not None and route.header not in self.header_flags:
                self.header_flags[route.header] = len(self.method_flags) + len(self.header_flags)
        self.n_flags = len(self.method_flags) + len(self.header_flags)
        self.idem_flag = self.n_flags if any(r.fallback for r in self.routes) else None
        if self.idem_flag is not None:
            self.n_flags += 1

    # -- helpers --

    @staticmethod
    def _idents(names: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        used: set[str] = set()
        for name in names:
            base = re.sub(r"[^A-Za-z0-9]", "_", name)
            ident, n = base, 2
            while ident in used:
                ident, n = f"{base}_{n}", n + 1
            used.add(ident)
            out[name] = ident
        return out

    def cannot(self, message: str) -> None:
        """Something the router does that this nginx configuration does not: a comment and a warning."""
        if message not in self.notes:
            self.notes.append(message)
            self.warnings.append(f"nginx export: {message}")

    def _expressible(self, route: Route) -> bool:
        if route.header is None:
            return True
        name = route.header[0]
        if name in NEVER_MATCHABLE:
            # The router strips this header before matching, so the route never matches; nginx would match
            # it, so the route is left out here as well (``check`` warns about it too).
            self.cannot(f"route {route.name!r} waits for header {name!r}, which the router removes before "
                        "routing; it never matches and is left out")
            return False
        if not _HEADER_VAR.match(name):
            self.cannot(f"route {route.name!r}: header {name!r} has no nginx $http_ variable (only letters, "
                        "digits and '-'; nginx drops names with '_' by default); the route is left out, so its "
                        "requests go where the next matching route sends them")
            return False
        return True

    def action(self, route: Route, backend: str, once: bool = False) -> str:
        return f"route.{route.name}.{backend}" + (".once" if once else "")

    def choices(self, route: Route) -> list[str]:
        """Backends a route's requests can be served by (the canary's split)."""
        if route.canary is None or route.canary >= 100:
            return [route.backend]
        if route.canary <= 0:
            return [self.table.default]
        return [route.backend, self.table.default]

    def route_value(self, route: Route, once: bool = False) -> str:
        """What a dispatch map yields for ``route``: an action name, or the canary's split variable."""
        choices = self.choices(route)
        if len(choices) == 1:
            return self.action(route, choices[0], once)
        var = f"$router_canary_{self.route_var[route.name]}"
        return "${" + var[1:] + "}" + (".once" if once else "")

    def flags_regex(self, route: Route, idem: str | None) -> str:
        flags = ["."] * self.n_flags
        if route.methods is not None:
            flags[self.method_flags[route.methods]] = "1"
        if route.header is not None:
            flags[self.header_flags[route.header]] = "1"
        if idem is not None and self.idem_flag is not None:
            flags[self.idem_flag] = idem
        return "".join(flags)

    @property
    def selector(self) -> str:
        names = [f"$router_flag{i}" for i in range(self.n_flags - (1 if self.idem_flag is not None else 0))]
        if self.idem_flag is not None:
            names.append("$router_idempotent")
        return "".join(names) + "$uri"

    # -- sections --

    def locations(self) -> list[_Location]:
        groups: dict[tuple[str, tuple[str, ...], bool], Pattern] = {}
        for route in self.routes:  # most specific first
            groups.setdefault(_pattern_key(route.pattern), route.pattern)
        out: list[_Location] = []
        seen: set[str] = set()
        root: _Location | None = None
        for pattern in groups.values():
            if pattern.kind == "prefix" and not pattern.parts:
                root = _Location(pattern, ["location /"], catch_all=True)
                continue
            if pattern.kind == "exact":
                forms = ([f"location = {q(_literal_path(pattern))}"] if _literal(pattern)
                         else [f"location ~ {q('^' + path_regex(pattern))}"])
            elif _literal(pattern):
                bare = _literal_path(pattern)
                forms = [f"location = {q(bare)}", f"location ^~ {q(bare + '/')}"]
            else:
                forms = [f"location ~ {q('^' + path_regex(pattern))}"]
            forms = [f for f in forms if f not in seen]  # '= /a' of prefix /a when exact /a exists already
            seen.update(forms)
            if forms:
                out.append(_Location(pattern, forms))
        if root is None:
            root = _Location(Pattern.parse("/", "prefix"), ["location /"], catch_all=True)
        out.append(root)
        for loc in out:
            for route in self.routes:
                if loc.catch_all:
                    # Only paths that no other location takes reach 'location /': no route but a '/' prefix
                    # route can match them (every other route's path has a location of its own).
                    if route.pattern.kind != "prefix" or route.pattern.parts:
                        continue
                elif not overlap(loc.pattern, route.pattern):
                    continue
                loc.candidates.append(route)
                if route.methods is None and route.header is None and covers(route.pattern, loc.pattern):
                    break  # everything after it is unreachable from this location
        return out

    def render(self) -> tuple[str, list[str]]:
        table, cfg = self.table, self.cfg
        self._notes_for_table()
        locations = self.locations()
        p = self.prefix
        lines: list[str] = []
        w = lines.append
        w(f"# nginx configuration exported from {cfg.source} (table version {table.version}) by")
        w("# `python -m router export nginx`. The Python router is the reference: this file routes the same")
        w("# requests to the same backends. Regenerate it; do not edit it by hand.")
        w(f"# Runtime files live under {p}: create it first (mkdir -p {p}), then: nginx -c THIS_FILE")
        w("#")
        w("# What nginx cannot do here (also printed as warnings by the export):")
        for note in self.notes:
            w(f"#   - {note}")
        w("")
        w("worker_processes auto;")
        w(f"pid {q(p + '/nginx.pid')};")
        w(f"error_log {q(p + '/error.log')} warn;")
        w("")
        w("events {")
        w("    worker_connections 4096;")
        w("}")
        w("")
        w("http {")
        body: list[str] = []
        b = body.append
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            b(f"{kind}_temp_path {q(f'{p}/{kind}_temp')};")
        b("")
        b("# One JSON object a line, with the request id the backends see and log too.")
        b("log_format router_json escape=json '{\"ts\":\"$time_iso8601\",\"request_id\":\"$router_request_id\","
          "\"method\":\"$request_method\",\"path\":\"$uri\",\"route\":\"$router_route\",\"backend\":\"$router_backend\","
          "\"target\":\"$upstream_addr\",\"status\":$status,\"upstream_status\":\"$upstream_status\","
          "\"duration_s\":$request_time,\"bytes_in\":$request_length,\"bytes_out\":$bytes_sent,"
          "\"client\":\"$remote_addr\",\"fallback\":\"$router_fallback\"}';")
        b(f"access_log {q(p + '/access.log')} router_json;")
        b("")
        b("server_tokens off;")
        b("# $router_route/$router_backend/$router_fallback are set by the location that serves a request;")
        b("# requests answered by nginx itself (400, liveness) log them empty.")
        b("uninitialized_variable_warn off;")
        b("default_type application/octet-stream;")
        b("# Duplicate slashes are merged before locations are chosen, as the router's normalisation does.")
        b("merge_slashes on;")
        b("# Needed for a fallback: the dispatch to the route is itself an error_page (see the locations).")
        b("recursive_error_pages on;")
        max_body = cfg.max_body
        if max_body == 0:
            self.cannot("max_body 0 (no body at all) cannot be said: nginx reads 0 as 'no limit'; using 1 byte")
            max_body = 1
        b(f"client_max_body_size {max_body};")
        b("")
        b("# Streaming both ways, pooled HTTP/1.1 connections to the backends.")
        b("proxy_http_version 1.1;")
        b("proxy_request_buffering off;")
        b("proxy_buffering off;")
        b("# A failed attempt (also what counts toward max_fails) is an error, a timeout or a 502/503/504, as")
        b("# in the router's passive health. nginx retries such an attempt on another target of the same")
        b("# backend; non_idempotent is left out, so a POST/PATCH is never sent twice (nginx's default).")
        b("proxy_next_upstream error timeout http_502 http_503 http_504;")
        b("# The router answers with its own request id; the backend's is not passed on.")
        b("proxy_hide_header X-Request-ID;")
        b("")
        body.extend(self._maps())
        rendered = [self._location(index, loc) for index, loc in enumerate(locations)]
        if any(maps for maps, _ in rendered):
            b("")
            b("# Dispatch maps, one per location that has a choice to make. Key: the condition flags above, then")
            b("# the path; entries in the router's order (first match wins in a map, as in RouteTable.match()).")
            b("# Values name the named location (action) that serves the request.")
            for maps, _ in rendered:
                body.extend(maps)
        body.extend(self._upstreams())
        body.extend(self._server([lines for _, lines in rendered]))
        lines.extend(("    " + line) if line else "" for line in body)
        w("}")
        return "\n".join(lines) + "\n", list(self.warnings)

    def _notes_for_table(self) -> None:
        table, cfg = self.table, self.cfg
        self.cannot("the admin API, hot reload (file watch, SIGHUP, admin), per-route metrics and the identity "
                    "of the table version are the Python router's: re-export and `nginx -s reload` instead")
        if cfg.identity is not None:
            self.cannot("the identity bridge (session or API token -> signed X-Identity-Token) needs a call to "
                        f"{cfg.identity.resolve_url} and a signature; nginx only clears the identity headers "
                        "clients send, so services behind nginx get no identity token")
        if any(r.canary is not None and 0 < r.canary < 100 for r in self.routes):
            self.cannot("canary stickiness by user id (from the identity bridge) is not available: nginx keys "
                        "cohorts by session cookie, else client address; its hash (MurmurHash2) also differs "
                        "from the router's, so the people in a cohort differ between the two")
        if any(b.health_interval > 0 for b in table.backends.values()):
            self.cannot("active health checks (GET health path every few seconds) need nginx Plus or a module; "
                        "only passive health (max_fails/fail_timeout) is exported")
        if any(len(b.targets) == 1 for b in table.backends.values()):
            self.cannot("nginx ignores max_fails for a backend with a single target (it is never marked down), "
                        "so a failing single-target backend is retried on every request instead of its circuit "
                        "opening; fallbacks still apply")
        if any(r.shadow for r in self.routes):
            self.cannot("shadow: nginx mirrors without a bounded queue and discards the answer: no response "
                        "comparison and no parity figures (the comparison engine is the router's); a slow shadow "
                        "backend holds the client's keep-alive connection until the mirror finishes")
        cookie = cfg.identity.session_cookie if cfg.identity else "sessionid"
        if not _COOKIE_VAR.match(cookie):
            self.cannot(f"session cookie {cookie!r} has no nginx $cookie_ variable; canaries stick by client "
                        "address only")

    def _maps(self) -> list[str]:
        out: list[str] = []
        o = out.append
        o("# X-Request-ID: the client's when it is sane (as the router's check), else one of nginx's.")
        o("map $http_x_request_id $router_request_id {")
        o('    "~^[A-Za-z0-9._:-]{1,128}$" $http_x_request_id;')
        o("    default $request_id;")
        o("}")
        o("")
        o("# Paths the router refuses (400) rather than guess: nginx decodes %2F to '/' before choosing a")
        o("# location (it would route /api%2Fcatalog/ like /api/catalog/), so encoded slashes, backslashes and")
        o("# NUL are refused from the raw request line; control characters and backslashes after decoding.")
        o("map $request_uri $router_bad_escape {")
        o('    "~*^[^?]*%(?:2f|5c|00)" 1;')
        o("    default 0;")
        o("}")
        o("map $uri $router_bad_path {")
        o("    " + q(_BAD_DECODED) + " 1;")
        o("    default 0;")
        o("}")
        o("")
        o("# WebSocket upgrades pass through; any other Upgrade is dropped, and Connection is cleared so the")
        o("# upstream keep-alive pool is used.")
        o("map $http_upgrade $router_upgrade {")
        o('    "~*^websocket$" $http_upgrade;')
        o('    default "";')
        o("}")
        o("map $router_upgrade $router_connection {")
        o('    "" "";')
        o("    default upgrade;")
        o("}")
        o("")
        if self.method_flags or self.header_flags:
            o("# Condition flags (1/0) of the routes' methods and headers; nginx chooses locations by path only,")
            o("# so the dispatch maps below read these flags. Header values compare exactly; a header sent with")
            o("# an empty value counts as absent here (the router counts it as present).")
            for methods, index in self.method_flags.items():
                alternatives = "|".join(re.escape(m) for m in sorted(methods))
                o(f"map $request_method $router_flag{index} {{")
                o(f"    {q('~^(?:' + alternatives + ')$')} 1;")
                o("    default 0;")
                o("}")
            for (name, value), index in self.header_flags.items():
                var = "$http_" + name.replace("-", "_")
                o(f"map {var} $router_flag{index} {{  # header {name}" + (f" = {value!r}" if value is not None
                                                                           else " present"))
                if value is None:
                    o('    "" 0;')
                    o("    default 1;")
                else:
                    o(f"    {q('~^' + re.escape(value) + '$')} 1;")
                    o("    default 0;")
                o("}")
            o("")
        if self.idem_flag is not None:
            o("# Whether a failed request may go to the route's fallback: an idempotent method and no body, as")
            o("# the router decides (a request with a body is never sent twice).")
            o('map "$request_method:$http_content_length:$http_transfer_encoding" $router_idempotent {')
            alternatives = "|".join(sorted(IDEMPOTENT_METHODS))
            o(f"    {q('~^(?:' + alternatives + '):0*:$')} 1;")
            o("    default 0;")
            o("}")
            o("")
        canaries = [r for r in self.routes if len(self.choices(r)) > 1]
        if canaries:
            cookie = self.cfg.identity.session_cookie if self.cfg.identity else "sessionid"
            o("# Canary cohorts: sticky by session cookie, else client address (the router also uses the user id).")
            o("# The key is salted with the route's backend, as in the router: a person's side is the same on")
            o("# every route of one backend, and whoever is moved at 10% is still moved at 50% (the first")
            o("# bucket only grows).")
            if _COOKIE_VAR.match(cookie):
                o(f"map $cookie_{cookie} $router_sticky_key {{")
                o('    "" "client:$remote_addr";')
                o(f'    default "session:$cookie_{cookie}";')
                o("}")
            else:
                o('map "" $router_sticky_key {')
                o('    default "client:$remote_addr";')
                o("}")
            for route in canaries:
                assert route.canary is not None
                o(f"split_clients {q(route.backend + ':$router_sticky_key')} "
                  f"$router_canary_{self.route_var[route.name]} {{  # route {route.name}")
                o(f"    {_percent(route.canary)} {self.action(route, route.backend)};")
                o(f"    * {self.action(route, self.table.default)};")
                o("}")
            o("")
        for route in self.routes:
            if route.shadow is None or route.shadow_writes:
                continue
            o(f"map $request_method $router_shadow_{self.route_var[route.name]} {{  # methods route "
              f"{route.name} shadows")
            alternatives = "|".join(re.escape(m) for m in sorted(route.shadow.methods))
            o(f"    {q('~^(?:' + alternatives + ')$')} 1;")
            o("    default 0;")
            o("}")
        return out

    def _upstreams(self) -> list[str]:
        out: list[str] = [""]
        for name, backend in sorted(self.table.backends.items()):
            out.extend(self._upstream(name, backend))
        out.append("")
        return out

    def _upstream(self, name: str, backend: Backend) -> list[str]:
        out = [f"upstream backend_{self.backend_var[name]} {{  # backend {name}"]
        if backend.balance == "least_busy":
            out.append("    least_conn;")
        schemes = {urlsplit(t).scheme for t in backend.targets}
        if len(schemes) > 1:
            self.cannot(f"backend {name!r} mixes http and https targets; nginx needs one scheme per upstream "
                        f"(using {self._scheme(backend)})")
        for target in backend.targets:
            parts = urlsplit(target)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            host = parts.hostname or ""
            host = f"[{host}]" if ":" in host else host
            out.append(f"    server {host}:{port} max_fails={backend.circuit_failures} "
                       f"fail_timeout={_duration(backend.circuit_reset)};")
        out.append("    keepalive 32;")
        out.append("}")
        return out

    @staticmethod
    def _scheme(backend: Backend) -> str:
        return urlsplit(backend.targets[0]).scheme

    def _proxy_headers(self, extra: list[str] | None = None) -> list[str]:
        out = [
            "# Header hygiene, as the router's: the router is the edge, so X-Forwarded-For is the peer, not",
            "# appended to. Host passes as the client sent it (with its port), like the router's.",
            "proxy_set_header Host $http_host;",
            "proxy_set_header X-Forwarded-For $remote_addr;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
            "proxy_set_header X-Forwarded-Host $http_host;",
            'proxy_set_header Forwarded "";',
            'proxy_set_header X-Real-IP "";',
            "proxy_set_header X-Request-ID $router_request_id;",
            "proxy_set_header Upgrade $router_upgrade;",
            "proxy_set_header Connection $router_connection;",
            'proxy_set_header Proxy-Connection "";',
            'proxy_set_header Proxy-Authorization "";',
            'proxy_set_header TE "";',
            'proxy_set_header Trailer "";',
            "# Identity headers come from the identity bridge only, never from a client.",
        ]
        out.extend(f'proxy_set_header {_title(h)} "";' for h in sorted(IDENTITY))
        out.extend(extra or [])
        return out

    def _server(self, locations: list[list[str]]) -> list[str]:
        out: list[str] = ["server {"]
        s = out.append
        s(f"    listen {self.listen};")
        s("    default_type application/json;")
        s("    add_header X-Request-ID $router_request_id always;")
        s("")
        s("    # A non-normalisable path never reaches a route. nginx itself resolves dot segments (also %2e%2e)")
        s("    # and refuses to climb above the root; the router clamps at the root instead.")
        s("    if ($router_bad_escape) {")
        s("        set $router_route rejected;")
        s("        return 400 '{\"detail\":\"path has an encoded slash, backslash or NUL\",\"code\":\"rejected\","
          "\"request_id\":\"$router_request_id\"}';")
        s("    }")
        s("    if ($router_bad_path) {")
        s("        set $router_route rejected;")
        s("        return 400 '{\"detail\":\"path has a backslash or control characters\",\"code\":\"rejected\","
          "\"request_id\":\"$router_request_id\"}';")
        s("    }")
        s("")
        out.extend("    " + line if line else "" for line in self._proxy_headers())
        s("")
        s("    # The router's own liveness; never forwarded.")
        s(f"    location = {LIVENESS_PATH} {{")
        s("        set $router_route liveness;")
        s(f"        return 200 '{{\"status\":\"ok\",\"table_version\":\"{self.table.version}\",\"via\":\"nginx\"}}';")
        s("    }")
        s("")
        s("    # Locations. nginx's precedence is not the router's: it takes an '=' location first, else the")
        s("    # longest prefix ('^~' stops there), else the first matching regex in file order, else the")
        s("    # longest plain prefix, and it knows nothing of methods or headers. The router takes the most")
        s("    # specific route: exact over prefix, more segments, literal over {param}, methods-restricted, then")
        s("    # header-restricted. So a location here only narrows the candidates: its dispatch map re-checks, in")
        s("    # the router's order, every route that can match a path reaching it (flags + path regex) and names")
        s("    # the action (a named location below) that serves the request; the last entry is the route that")
        s("    # covers the whole location, or the default backend. Regex locations are still listed most")
        s("    # specific first, so nginx usually lands on the winner's own location already.")
        for block in locations:
            out.extend("    " + line if line else "" for line in block)
        s("")
        s("    # Actions: one named location per route x backend it can use (a canary has two). Each forwards")
        s("    # the normalised path (the rewrite makes nginx re-encode $uri instead of passing the raw one).")
        out.extend("    " + line if line else "" for line in self._default_action())
        for route in self.routes:
            for backend in self.choices(route):
                out.extend("    " + line if line else "" for line in self._route_action(route, backend, False))
                if route.fallback:
                    out.extend("    " + line if line else "" for line in self._route_action(route, backend, True))
            if route.fallback:
                out.extend("    " + line if line else "" for line in self._fallback_action(route))
            if route.shadow:
                out.extend("    " + line if line else "" for line in self._shadow_location(route))
        out.append("}")
        return out

    def _location(self, index: int, loc: _Location) -> tuple[list[str], list[str]]:
        """(the dispatch map, http-level; the location blocks)"""
        maps: list[str] = []
        out = [""]
        names = ", ".join(r.name for r in loc.candidates) or "none"
        out.append(f"# {loc.pattern.kind} {loc.pattern.text}: candidates, most specific first: {names}; "
                   f"else {self.table.default}")
        entries: list[tuple[str, str]] = []
        for route in loc.candidates:
            path = "" if covers(route.pattern, loc.pattern) else path_regex(route.pattern)
            if route.fallback:
                entries.append((self.flags_regex(route, "1") + path, self.route_value(route)))
                entries.append((self.flags_regex(route, "0") + path, self.route_value(route, once=True)))
            else:
                entries.append((self.flags_regex(route, None) + path, self.route_value(route)))
        default = "default"
        if entries and set(entries[-1][0]) <= {"."}:
            default = entries.pop()[1]
        var = f"router_to_{index}"
        if not entries:
            target = "@" + default
        else:
            maps.append(f"# dispatch of {' | '.join(loc.forms)}")
            maps.append(f'map "{self.selector}" ${var} {{')
            for regex, value in entries:
                maps.append(f"    {q('~^' + regex)} {q(value)};")
            maps.append(f"    default {q(default)};")
            maps.append("}")
            target = "@${" + var + "}"
        for form in loc.forms:
            out.append(f"{form} {{")
            out.append(f"    error_page {DISPATCH_STATUS} = {target};")
            out.append(f"    return {DISPATCH_STATUS};")
            out.append("}")
        return maps, out

    def _proxy(self, backend_name: str) -> list[str]:
        backend = self.table.backends[backend_name]
        return [
            f"proxy_connect_timeout {_duration(backend.connect_timeout)};",
            f"proxy_send_timeout {_duration(backend.read_timeout)};",
            f"proxy_read_timeout {_duration(backend.read_timeout)};",
            f"proxy_pass {self._scheme(backend)}://backend_{self.backend_var[backend_name]};",
        ]

    def _default_action(self) -> list[str]:
        default = self.table.default
        return ["", "location @default {  # no route: the table's default backend",
                "    set $router_route default;",
                f"    set $router_backend {q(default)};",
                "    set $router_fallback 0;",
                "    rewrite ^(.*)$ $1 break;",
                *("    " + line for line in self._proxy(default)), "}"]

    def _route_action(self, route: Route, backend: str, once: bool) -> list[str]:
        name = self.action(route, backend, once)
        out = ["", f"location @{name} {{"]
        out.append(f"    set $router_route {q(route.name)};")
        out.append(f"    set $router_backend {q(backend)};")
        out.append("    set $router_fallback 0;")
        shadow = route.shadow is not None and backend != route.shadow.backend
        if shadow:
            out.append("    set $router_shadow_path $uri;")
        out.append("    rewrite ^(.*)$ $1 break;")
        if route.fallback and route.fallback != backend and not once:
            out.append(f"    # fallback to {route.fallback}: any 5xx or failure of {backend} (after nginx's own "
                       "retries on its other targets)")
            out.append("    proxy_intercept_errors on;")
            out.append(f"    error_page {FALLBACK_STATUSES} = @route.{route.name}.fallback;")
        elif once:
            out.append("    # not idempotent, or has a body: never sent twice, so no fallback")
        if shadow:
            assert route.shadow is not None
            writes = route.shadow_writes or bool(route.shadow.methods - SAFE_METHODS)
            out.append(f"    mirror {SHADOW_PREFIX}{route.name};")
            out.append(f"    mirror_request_body {'on' if writes else 'off'};")
        out.extend("    " + line for line in self._proxy(backend))
        out.append("}")
        return out

    def _fallback_action(self, route: Route) -> list[str]:
        assert route.fallback is not None
        return ["", f"location @route.{route.name}.fallback {{",
                f"    set $router_backend {q(route.fallback)};",
                "    set $router_fallback 1;",
                *("    " + line for line in self._proxy(route.fallback)), "}"]

    def _shadow_location(self, route: Route) -> list[str]:
        shadow = route.shadow
        assert shadow is not None
        out = ["", f"# Shadow of route {route.name} -> {shadow.backend}, fed by 'mirror' (a background subrequest"]
        if route.shadow_writes:
            out.append("# whose answer is discarded). shadow_writes: every method is mirrored, bodies included.")
        else:
            out.append("# whose answer is discarded). nginx mirrors every method; the methods the route does not")
            out.append("# shadow (writes, by default) are answered here at once and never reach the shadow")
            out.append("# backend, and mirror_request_body is off unless a shadowed method may carry a body.")
        out.append(f"location = {SHADOW_PREFIX}{route.name} {{")
        out.append("    internal;")
        if not route.shadow_writes:
            out.append(f"    if ($router_shadow_{self.route_var[route.name]} = 0) {{")
            out.append("        return 204;")
            out.append("    }")
        out.append("    rewrite ^ $router_shadow_path break;")
        out.extend("    " + line for line in self._proxy_headers(["proxy_set_header X-Shadow-Request 1;"])[2:])
        out.extend("    " + line for line in self._proxy(shadow.backend))
        out.append("}")
        return out


def render_nginx(cfg: RouterConfig, *, prefix: str = DEFAULT_PREFIX, listen: str | None = None
                 ) -> tuple[str, list[str]]:
    """The nginx.conf for ``cfg`` and the warnings about what it cannot express."""
    return _Renderer(cfg, prefix, listen or cfg.listen).render()
