"""The upstreams and the server block of the export: refused paths, header hygiene, liveness, the locations
(rendered by ``maps.dispatch``) and the actions, the named locations that proxy to a route's backend, its
fallback and its shadow."""

from __future__ import annotations

from urllib.parse import urlsplit

from router.export.nginx.plan import Plan
from router.export.nginx.syntax import (
    FALLBACK_STATUSES,
    LIVENESS_PATH,
    SHADOW_PREFIX,
    duration,
    indent,
    q,
    title,
)
from router.routing.headers import IDENTITY
from router.routing.table import SAFE_METHODS, Backend, Route


def upstreams(plan: Plan) -> list[str]:
    out: list[str] = [""]
    for name, backend in sorted(plan.table.backends.items()):
        out.extend(_upstream(plan, name, backend))
    out.append("")
    return out


def _upstream(plan: Plan, name: str, backend: Backend) -> list[str]:
    out = [f"upstream backend_{plan.backend_var[name]} {{  # backend {name}"]
    if backend.balance == "least_busy":
        out.append("    least_conn;")
    schemes = {urlsplit(t).scheme for t in backend.targets}
    if len(schemes) > 1:
        plan.cannot(f"backend {name!r} mixes http and https targets; nginx needs one scheme per upstream "
                    f"(using {_scheme(backend)})")
    for target in backend.targets:
        parts = urlsplit(target)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        out.append(f"    server {host}:{port} max_fails={backend.circuit_failures} "
                   f"fail_timeout={duration(backend.circuit_reset)};")
    out.append("    keepalive 32;")
    out.append("}")
    return out


def _scheme(backend: Backend) -> str:
    return urlsplit(backend.targets[0]).scheme


def _proxy_headers(extra: list[str] | None = None) -> list[str]:
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
    out.extend(f'proxy_set_header {title(h)} "";' for h in sorted(IDENTITY))
    out.extend(extra or [])
    return out


def server(plan: Plan, locations: list[list[str]]) -> list[str]:
    """The server block: refused paths, header hygiene, liveness, the locations' blocks, then the actions."""
    out: list[str] = ["server {"]
    s = out.append
    s(f"    listen {plan.listen};")
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
    out.extend(indent(_proxy_headers()))
    s("")
    s("    # The router's own liveness; never forwarded.")
    s(f"    location = {LIVENESS_PATH} {{")
    s("        set $router_route liveness;")
    s(f"        return 200 '{{\"status\":\"ok\",\"table_version\":\"{plan.table.version}\",\"via\":\"nginx\"}}';")
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
        out.extend(indent(block))
    s("")
    s("    # Actions: one named location per route x backend it can use (a canary has two). Each forwards")
    s("    # the normalised path (the rewrite makes nginx re-encode $uri instead of passing the raw one).")
    out.extend(indent(_default_action(plan)))
    for route in plan.routes:
        for backend in plan.choices(route):
            out.extend(indent(_route_action(plan, route, backend, False)))
            if route.fallback:
                out.extend(indent(_route_action(plan, route, backend, True)))
        if route.fallback:
            out.extend(indent(_fallback_action(plan, route)))
        if route.shadow:
            out.extend(indent(_shadow_location(plan, route)))
    out.append("}")
    return out


def _proxy(plan: Plan, backend_name: str) -> list[str]:
    backend = plan.table.backends[backend_name]
    return [
        f"proxy_connect_timeout {duration(backend.connect_timeout)};",
        f"proxy_send_timeout {duration(backend.read_timeout)};",
        f"proxy_read_timeout {duration(backend.read_timeout)};",
        f"proxy_pass {_scheme(backend)}://backend_{plan.backend_var[backend_name]};",
    ]


def _default_action(plan: Plan) -> list[str]:
    default = plan.table.default
    return ["", "location @default {  # no route: the table's default backend",
            "    set $router_route default;",
            f"    set $router_backend {q(default)};",
            "    set $router_fallback 0;",
            "    rewrite ^(.*)$ $1 break;",
            *indent(_proxy(plan, default)), "}"]


def _route_action(plan: Plan, route: Route, backend: str, once: bool) -> list[str]:
    name = plan.action(route, backend, once)
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
    out.extend(indent(_proxy(plan, backend)))
    out.append("}")
    return out


def _fallback_action(plan: Plan, route: Route) -> list[str]:
    assert route.fallback is not None
    return ["", f"location @route.{route.name}.fallback {{",
            f"    set $router_backend {q(route.fallback)};",
            "    set $router_fallback 1;",
            *indent(_proxy(plan, route.fallback)), "}"]


def _shadow_location(plan: Plan, route: Route) -> list[str]:
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
        out.append(f"    if ($router_shadow_{plan.route_var[route.name]} = 0) {{")
        out.append("        return 204;")
        out.append("    }")
    out.append("    rewrite ^ $router_shadow_path break;")
    out.extend(indent(_proxy_headers(["proxy_set_header X-Shadow-Request 1;"])[2:]))
    out.extend(indent(_proxy(plan, shadow.backend)))
    out.append("}")
    return out
