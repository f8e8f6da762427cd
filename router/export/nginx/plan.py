"""What the export knows before it writes a line: the routes nginx can serve, the identifiers and condition
flags it gives them, the locations nginx will choose by path and each one's candidate routes (in the router's
order), and the notes on what nginx cannot do."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from router.config import RouterConfig
from router.export.nginx.syntax import COOKIE_VAR, HEADER_VAR, is_literal, literal_path, path_regex, q
from router.routing.headers import NEVER_MATCHABLE
from router.routing.table import Pattern, Route


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


@dataclass
class Location:
    """One nginx location (its forms: the bare and the '/' form of a literal prefix) and the routes that can
    match a path reaching it, most specific first."""

    pattern: Pattern
    forms: list[str]
    catch_all: bool = False
    candidates: list[Route] = field(default_factory=list)


class Plan:
    """The table as nginx will see it; the sections' renderers read it, and add to its notes."""

    def __init__(self, cfg: RouterConfig, prefix: str, listen: str) -> None:
        self.cfg = cfg
        self.table = cfg.table
        self.prefix = prefix.rstrip("/") or "/"
        self.listen = listen
        self.warnings: list[str] = []
        self.notes: list[str] = []  # "cannot express" comments for the file's head
        self.backend_var = self.idents(sorted(self.table.backends))
        self.route_var = self.idents([r.name for r in self.table.routes])
        self.routes = [r for r in self.table.routes if self.expressible(r)]
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
    def idents(names: Iterable[str]) -> dict[str, str]:
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

    def expressible(self, route: Route) -> bool:
        if route.header is None:
            return True
        name = route.header[0]
        if name in NEVER_MATCHABLE:
            # The router strips this header before matching, so the route never matches; nginx would match
            # it, so the route is left out here as well (``check`` warns about it too).
            self.cannot(f"route {route.name!r} waits for header {name!r}, which the router removes before "
                        "routing; it never matches and is left out")
            return False
        if not HEADER_VAR.match(name):
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
    def session_cookie(self) -> str:
        """The cookie canary cohorts stick by (the identity bridge's, else Django's default)."""
        return self.cfg.identity.session_cookie if self.cfg.identity else "sessionid"

    @property
    def selector(self) -> str:
        names = [f"$router_flag{i}" for i in range(self.n_flags - (1 if self.idem_flag is not None else 0))]
        if self.idem_flag is not None:
            names.append("$router_idempotent")
        return "".join(names) + "$uri"

    # -- locations --

    def locations(self) -> list[Location]:
        groups: dict[tuple[str, tuple[str, ...], bool], Pattern] = {}
        for route in self.routes:  # most specific first
            groups.setdefault(_pattern_key(route.pattern), route.pattern)
        out: list[Location] = []
        seen: set[str] = set()
        root: Location | None = None
        for pattern in groups.values():
            if pattern.kind == "prefix" and not pattern.parts:
                root = Location(pattern, ["location /"], catch_all=True)
                continue
            if pattern.kind == "exact":
                forms = ([f"location = {q(literal_path(pattern))}"] if is_literal(pattern)
                         else [f"location ~ {q('^' + path_regex(pattern))}"])
            elif is_literal(pattern):
                bare = literal_path(pattern)
                forms = [f"location = {q(bare)}", f"location ^~ {q(bare + '/')}"]
            else:
                forms = [f"location ~ {q('^' + path_regex(pattern))}"]
            forms = [f for f in forms if f not in seen]  # '= /a' of prefix /a when exact /a exists already
            seen.update(forms)
            if forms:
                out.append(Location(pattern, forms))
        if root is None:
            root = Location(Pattern.parse("/", "prefix"), ["location /"], catch_all=True)
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

    # -- notes --

    def notes_for_table(self) -> None:
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
        cookie = self.session_cookie
        if not COOKIE_VAR.match(cookie):
            self.cannot(f"session cookie {cookie!r} has no nginx $cookie_ variable; canaries stick by client "
                        "address only")

