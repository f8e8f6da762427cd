"""The http-level maps of the export: what nginx computes per request before a location serves it (request id,
refused paths, upgrades, the routes' condition flags, canary cohorts, shadowed methods), and each location's
dispatch map, which re-checks the router's candidates in the router's order and names the action."""

from __future__ import annotations

import re

from router.export.nginx.plan import Location, Plan, covers
from router.export.nginx.syntax import BAD_DECODED, COOKIE_VAR, DISPATCH_STATUS, path_regex, percent, q
from router.routing.table import IDEMPOTENT_METHODS


def http_maps(plan: Plan) -> list[str]:
    """The maps every request goes through: request id, refused paths, upgrades, the condition flags, canary
    cohorts and shadowed methods."""
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
    o("    " + q(BAD_DECODED) + " 1;")
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
    if plan.method_flags or plan.header_flags:
        o("# Condition flags (1/0) of the routes' methods and headers; nginx chooses locations by path only,")
        o("# so the dispatch maps below read these flags. Header values compare exactly; a header sent with")
        o("# an empty value counts as absent here (the router counts it as present).")
        for methods, index in plan.method_flags.items():
            alternatives = "|".join(re.escape(m) for m in sorted(methods))
            o(f"map $request_method $router_flag{index} {{")
            o(f"    {q('~^(?:' + alternatives + ')$')} 1;")
            o("    default 0;")
            o("}")
        for (name, value), index in plan.header_flags.items():
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
    if plan.idem_flag is not None:
        o("# Whether a failed request may go to the route's fallback: an idempotent method and no body, as")
        o("# the router decides (a request with a body is never sent twice).")
        o('map "$request_method:$http_content_length:$http_transfer_encoding" $router_idempotent {')
        alternatives = "|".join(sorted(IDEMPOTENT_METHODS))
        o(f"    {q('~^(?:' + alternatives + '):0*:$')} 1;")
        o("    default 0;")
        o("}")
        o("")
    canaries = [r for r in plan.routes if len(plan.choices(r)) > 1]
    if canaries:
        cookie = plan.session_cookie
        o("# Canary cohorts: sticky by session cookie, else client address (the router also uses the user id).")
        o("# The key is salted with the route's backend, as in the router: a person's side is the same on")
        o("# every route of one backend, and whoever is moved at 10% is still moved at 50% (the first")
        o("# bucket only grows).")
        if COOKIE_VAR.match(cookie):
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
              f"$router_canary_{plan.route_var[route.name]} {{  # route {route.name}")
            o(f"    {percent(route.canary)} {plan.action(route, route.backend)};")
            o(f"    * {plan.action(route, plan.table.default)};")
            o("}")
        o("")
    for route in plan.routes:
        if route.shadow is None or route.shadow_writes:
            continue
        o(f"map $request_method $router_shadow_{plan.route_var[route.name]} {{  # methods route "
          f"{route.name} shadows")
        alternatives = "|".join(re.escape(m) for m in sorted(route.shadow.methods))
        o(f"    {q('~^(?:' + alternatives + ')$')} 1;")
        o("    default 0;")
        o("}")
    return out


def dispatch(plan: Plan, index: int, loc: Location) -> tuple[list[str], list[str]]:
    """(the dispatch map of location ``index``, http-level; its location blocks, which only hand the request
    to the action the map names)"""
    maps: list[str] = []
    out = [""]
    names = ", ".join(r.name for r in loc.candidates) or "none"
    out.append(f"# {loc.pattern.kind} {loc.pattern.text}: candidates, most specific first: {names}; "
               f"else {plan.table.default}")
    entries: list[tuple[str, str]] = []
    for route in loc.candidates:
        path = "" if covers(route.pattern, loc.pattern) else path_regex(route.pattern)
        if route.fallback:
            entries.append((plan.flags_regex(route, "1") + path, plan.route_value(route)))
            entries.append((plan.flags_regex(route, "0") + path, plan.route_value(route, once=True)))
        else:
            entries.append((plan.flags_regex(route, None) + path, plan.route_value(route)))
    default = "default"
    if entries and set(entries[-1][0]) <= {"."}:
        default = entries.pop()[1]
    var = f"router_to_{index}"
    if not entries:
        target = "@" + default
    else:
        maps.append(f"# dispatch of {' | '.join(loc.forms)}")
        maps.append(f'map "{plan.selector}" ${var} {{')
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
