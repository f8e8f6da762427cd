"""The export's entry point and the file around the sections: the head (what nginx cannot do), the main
context (pid, logs, events) and the http block's settings, then the maps, upstreams and server block."""

from __future__ import annotations

from router.config import RouterConfig
from router.export.nginx.maps import dispatch, http_maps
from router.export.nginx.plan import Plan
from router.export.nginx.server import server, upstreams
from router.export.nginx.syntax import DEFAULT_PREFIX, indent, q


def render_nginx(cfg: RouterConfig, *, prefix: str = DEFAULT_PREFIX, listen: str | None = None
                 ) -> tuple[str, list[str]]:
    """The nginx.conf for ``cfg`` and the warnings about what it cannot express."""
    plan = Plan(cfg, prefix, listen or cfg.listen)
    table = plan.table
    plan.notes_for_table()
    locations = plan.locations()
    p = plan.prefix
    lines: list[str] = []
    w = lines.append
    w(f"# nginx configuration exported from {cfg.source} (table version {table.version}) by")
    w("# `python -m router export nginx`. The Python router is the reference: this file routes the same")
    w("# requests to the same backends. Regenerate it; do not edit it by hand.")
    w(f"# Runtime files live under {p}: create it first (mkdir -p {p}), then: nginx -c THIS_FILE")
    w("#")
    w("# What nginx cannot do here (also printed as warnings by the export):")
    for note in plan.notes:
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
        plan.cannot("max_body 0 (no body at all) cannot be said: nginx reads 0 as 'no limit'; using 1 byte")
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
    body.extend(http_maps(plan))
    rendered = [dispatch(plan, index, loc) for index, loc in enumerate(locations)]
    if any(maps for maps, _ in rendered):
        b("")
        b("# Dispatch maps, one per location that has a choice to make. Key: the condition flags above, then")
        b("# the path; entries in the router's order (first match wins in a map, as in RouteTable.match()).")
        b("# Values name the named location (action) that serves the request.")
        for maps, _ in rendered:
            body.extend(maps)
    body.extend(upstreams(plan))
    body.extend(server(plan, [lines for _, lines in rendered]))
    lines.extend(indent(body))
    w("}")
    return "\n".join(lines) + "\n", list(plan.warnings)
