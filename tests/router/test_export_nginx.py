"""The nginx export as text: structure of the generated configuration for a table with prefix, exact,
{param}, methods, header, canary, fallback and shadow routes (the real nginx runs it in e2e/test_nginx.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from router import config as config_module
from router.export import render_nginx

ROOT = Path(__file__).resolve().parents[2]
ROUTES = """\
version: 1
listen: 127.0.0.1:8080
max_body: 10MiB
default: monolith
backends:
  monolith: {targets: ["http://127.0.0.1:8000"], timeouts: {connect: 2, read: 30}}
  catalog:
    targets: ["http://127.0.0.1:8101", "http://127.0.0.1:8111"]
    balance: least_busy
    timeouts: {connect: 0.5, read: 10}
    circuit: {failures: 3, reset_after: 7}
  orders: {targets: "http://127.0.0.1:8103"}
  beta: {targets: "http://127.0.0.1:8110", health: {interval: 0}}
routes:
  catalog-reads: {path: /api/catalog/, methods: [GET], backend: catalog, canary: 10, fallback: monolith,
                  shadow: beta}
  catalog-item: {path: "/api/catalog/{id}", match: exact, backend: catalog}
  orders: {path: /api/orders/, backend: orders, fallback: monolith}
  order-items: {path: "/api/orders/{id}/items", backend: beta}
  beta-cart: {path: /api/cart/, backend: beta, header: {name: x-beta, value: "yes"}}
  healthz: {path: /healthz, match: exact, backend: orders}
"""


@pytest.fixture
def exported() -> tuple[str, list[str]]:
    return render_nginx(config_module.parse(ROUTES, source="routes.yaml"), prefix="/run/edge")


def block(text: str, head: str) -> str:
    """The body of the first block whose opening line starts with ``head`` (stripped)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(head)
                 and line.split("  #")[0].rstrip().endswith("{"))
    depth, out = 0, []
    for line in lines[start:]:
        depth += line.count("{") - line.count("}")
        out.append(line.strip())
        if depth == 0:
            break
    return "\n".join(out)


def test_complete_nginx_conf_with_runtime_paths_under_the_prefix(exported: tuple[str, list[str]]) -> None:
    text, _ = exported
    assert re.search(r"^events \{", text, re.M) and re.search(r"^http \{", text, re.M)
    assert "pid /run/edge/nginx.pid;" in text
    assert "error_log /run/edge/error.log warn;" in text
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        assert f"{kind}_temp_path /run/edge/{kind}_temp;" in text
    assert "access_log /run/edge/access.log router_json;" in text
    assert "log_format router_json escape=json" in text and '"request_id":"$router_request_id"' in text
    assert "listen 127.0.0.1:8080;" in text
    assert "client_max_body_size 10485760;" in text
    assert "merge_slashes on;" in text
    for line in ("proxy_http_version 1.1;", "proxy_request_buffering off;", "proxy_buffering off;",
                 "proxy_next_upstream error timeout http_502 http_503 http_504;"):
        assert line in text
    assert "non_idempotent" not in text.replace("non_idempotent is left out", "")
    assert text.count("{") == text.count("}")


def test_listen_override() -> None:
    text, _ = render_nginx(config_module.parse(ROUTES), listen="0.0.0.0:9999")
    assert "listen 0.0.0.0:9999;" in text and "listen 127.0.0.1:8080;" not in text


def test_upstreams(exported: tuple[str, list[str]]) -> None:
    text, _ = exported
    catalog = block(text, "upstream backend_catalog")
    assert "least_conn;" in catalog
    assert "server 127.0.0.1:8101 max_fails=3 fail_timeout=7s;" in catalog
    assert "server 127.0.0.1:8111 max_fails=3 fail_timeout=7s;" in catalog
    assert catalog.index("least_conn;") < catalog.index("keepalive 32;")
    monolith = block(text, "upstream backend_monolith")
    assert "least_conn" not in monolith and "server 127.0.0.1:8000 max_fails=5 fail_timeout=10s;" in monolith


def test_locations_for_prefix_exact_and_params(exported: tuple[str, list[str]]) -> None:
    text, _ = exported
    assert "location = /api/catalog {" in text and "location ^~ /api/catalog/ {" in text
    assert "location = /healthz {" in text
    assert 'location ~ "^/api/catalog/[^/]+$" {' in text
    assert 'location ~ "^/api/orders/[^/]+/items(?:/.*)?$" {' in text
    assert "location / {" in text
    regexes = re.findall(r"^\s*location ~ (.+) \{", text, re.M)
    assert regexes == ['"^/api/catalog/[^/]+$"', '"^/api/orders/[^/]+/items(?:/.*)?$"']  # most specific first
    assert "location = /__router/health {" in block(text, "server {")
    assert "return 200 '{\"status\":\"ok\"" in block(text, "location = /__router/health")


def test_dispatch_maps_follow_the_routers_order(exported: tuple[str, list[str]]) -> None:
    text, _ = exported
    # Flags: methods GET/HEAD, header x-beta = yes, idempotent-without-body.
    assert '"~^(?:GET|HEAD)$" 1;' in block(text, "map $request_method $router_flag0")
    assert '"~^yes$" 1;' in block(text, "map $http_x_beta $router_flag1")
    assert "$router_idempotent" in text
    catalog = block(text, 'map "$router_flag0$router_flag1$router_idempotent$uri" $router_to_3')
    entries = [line for line in catalog.splitlines()[1:-1]]
    # exact /api/catalog/{id} first (whatever the method), then the GET route (with/without fallback), then
    # the default
    assert entries == ['"~^.../api/catalog/[^/]+$" route.catalog-item.catalog;',
                       '"~^1.1" "${router_canary_catalog_reads}";',
                       '"~^1.0" "${router_canary_catalog_reads}.once";',
                       "default default;"]
    assert "error_page 418 = @${router_to_3};" in block(text, "location ^~ /api/catalog/")
    orders = block(text, 'map "$router_flag0$router_flag1$router_idempotent$uri" $router_to_5')
    assert orders.index("/api/orders/[^/]+/items") < orders.index("route.orders.orders;")
    # A location whose only route covers it dispatches straight to the route's action.
    assert "error_page 418 = @route.healthz.orders;" in block(text, "location = /healthz")
    assert "error_page 418 = @default;" in block(text, "location / {")


def test_canary_split_clients(exported: tuple[str, list[str]]) -> None:
    text, _ = exported
    split = block(text, 'split_clients "catalog:$router_sticky_key" $router_canary_catalog_reads')
    assert "10% route.catalog-reads.catalog;" in split and "* route.catalog-reads.monolith;" in split
    sticky = block(text, "map $cookie_sessionid $router_sticky_key")
    assert '"" "client:$remote_addr";' in sticky and 'default "session:$cookie_sessionid";' in sticky


def test_fallback_only_for_the_retryable_variant(exported: tuple[str, list[str]]) -> None:
    text, _ = exported
    primary = block(text, "location @route.orders.orders {")
    assert "proxy_intercept_errors on;" in primary
    assert re.search(r"error_page 500 .*502 503 504.* = @route\.orders\.fallback;", primary)
    assert "proxy_pass http://backend_orders;" in primary
    once = block(text, "location @route.orders.orders.once {")
    assert "proxy_intercept_errors" not in once and "error_page" not in once
    fallback = block(text, "location @route.orders.fallback {")
    assert "proxy_pass http://backend_monolith;" in fallback
    # The canary's default side has no fallback: the fallback is that same backend.
    assert "error_page" not in block(text, "location @route.catalog-reads.monolith {")


def test_shadow_mirror(exported: tuple[str, list[str]]) -> None:
    text, _ = exported
    primary = block(text, "location @route.catalog-reads.catalog {")
    assert "mirror /__router/shadow/catalog-reads;" in primary and "mirror_request_body off;" in primary
    shadow = block(text, "location = /__router/shadow/catalog-reads")
    assert "internal;" in shadow and "proxy_pass http://backend_beta;" in shadow
    assert "if ($router_shadow_catalog_reads = 0) {" in shadow
    assert "proxy_set_header X-Shadow-Request 1;" in shadow
    methods = block(text, "map $request_method $router_shadow_catalog_reads")
    assert '"~^(?:GET|HEAD|OPTIONS|TRACE)$" 1;' in methods


def test_timeouts_follow_the_backend(exported: tuple[str, list[str]]) -> None:
    text, _ = exported
    item = block(text, "location @route.catalog-item.catalog {")
    assert "proxy_connect_timeout 500ms;" in item and "proxy_read_timeout 10s;" in item
    default = block(text, "location @default {")
    assert "proxy_connect_timeout 2s;" in default and "proxy_read_timeout 30s;" in default


def test_header_hygiene(exported: tuple[str, list[str]]) -> None:
    text, _ = exported
    server = block(text, "server {")
    for line in ("proxy_set_header X-Forwarded-For $remote_addr;", "proxy_set_header X-Forwarded-Proto $scheme;",
                 "proxy_set_header X-Forwarded-Host $http_host;", "proxy_set_header X-Request-ID $router_request_id;",
                 "proxy_set_header Connection $router_connection;",
                 "add_header X-Request-ID $router_request_id always;"):
        assert line in server
    for name in ("X-Identity-Token", "X-User-Id", "X-User-Is-Staff", "X-Authenticated-User", "X-Remote-User",
                 "Remote-User"):
        assert f'proxy_set_header {name} "";' in server
    request_id = block(text, "map $http_x_request_id $router_request_id")
    assert '"~^[A-Za-z0-9._:-]{1,128}$" $http_x_request_id;' in request_id and "default $request_id;" in request_id
    assert '"~*^[^?]*%(?:2f|5c|00)" 1;' in block(text, "map $request_uri $router_bad_escape")


def test_what_nginx_cannot_do_is_a_comment_and_a_warning() -> None:
    text, warnings = render_nginx(config_module.parse(ROUTES + """\
identity: {resolve_url: "http://127.0.0.1:8000/api/accounts/me/"}
"""))
    joined = "\n".join(warnings)
    for words in ("identity bridge", "by user id", "active health checks", "comparison"):
        assert words in joined
        assert words in text.split("worker_processes")[0]  # in the head comment as well


def test_routes_that_can_never_match_are_left_out() -> None:
    text, warnings = render_nginx(config_module.parse(ROUTES + """\
  staff: {path: /admin/, backend: beta, header: {name: x-user-id}}
""".replace("routes:\n", "routes:\n", 1)))
    assert "route.staff." not in text
    assert any("'x-user-id'" in w for w in warnings)


def test_cli(tmp_path: Path) -> None:
    source = tmp_path / "routes.yaml"
    source.write_text(ROUTES)
    out = tmp_path / "nginx.conf"
    done = subprocess.run([sys.executable, "-m", "router", "export", "nginx", str(source), "-o", str(out),
                           "--prefix", str(tmp_path / "run"), "--listen", "127.0.0.1:9090"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "listen 127.0.0.1:9090;" in out.read_text()
    assert "warning: nginx export:" in done.stderr
    stdout = subprocess.run([sys.executable, "-m", "router", "export", "nginx", str(source)],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert stdout.returncode == 0 and stdout.stdout.startswith("# nginx configuration exported from")
    source.write_text(ROUTES.replace("backend: orders, fallback: monolith", "backend: ordres"))
    bad = subprocess.run([sys.executable, "-m", "router", "export", "nginx", str(source)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 1 and "routes.orders.backend" in bad.stderr and bad.stdout == ""
