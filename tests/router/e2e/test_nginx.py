"""The nginx export under the real nginx binary: ``nginx -t`` accepts it, and requests through nginx reach the
backend that the Python router's ``RouteTable.match()`` picks (methods, headers, params, canary 0%/100%,
sticky cohorts, fallback when the primary is down or answers 5xx, shadow, header hygiene).

Skips when no nginx binary is installed (``.ci/run`` installs Debian's nginx-light when missing).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from router import config as config_module
from router.export import render_nginx
from router.routing.paths import normalise
from strangler.processes import ManagedProcess, free_port
from tests.router.e2e.helpers import dead_url, header_values, seen_with_id, wait_for
from tests.support.servers import running_upstream

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                       if os.access(p, os.X_OK)), None)
if NGINX is None:
    pytest.skip("no nginx binary (PATH, /usr/sbin/nginx); .ci/run installs Debian's nginx-light",
                allow_module_level=True)
assert NGINX is not None


@dataclass
class Nginx:
    url: str
    conf: Path
    prefix: Path
    process: ManagedProcess
    cfg: config_module.RouterConfig


def routes(urls: dict[str, str]) -> str:
    dead = dead_url()
    return textwrap.dedent(f"""\
        version: 1
        listen: 127.0.0.1:1
        max_body: 1MiB
        default: monolith
        backends:
          monolith: {{targets: ["{urls['monolith']}"], health: {{interval: 0}}}}
          catalog: {{targets: ["{urls['catalog']}"], health: {{interval: 0}}, timeouts: {{connect: 1, read: 5}}}}
          orders: {{targets: ["{urls['orders']}"], balance: least_busy}}
          beta: {{targets: ["{urls['beta']}"], circuit: {{failures: 3, reset_after: 2}}}}
          dead: {{targets: ["{dead}"], timeouts: {{connect: 1, read: 2}}}}
        routes:
          catalog-reads: {{path: /echo/catalog/, methods: [GET], backend: catalog, shadow: beta}}
          catalog-item: {{path: "/echo/catalog/{{id}}", match: exact, backend: orders}}
          orders: {{path: /echo/orders, backend: orders}}
          order-items: {{path: "/echo/orders/{{id}}/items/", backend: beta}}
          orders-beta: {{path: /echo/orders/, header: {{name: x-beta, value: "yes"}}, backend: beta}}
          orders-special: {{path: /echo/orders/special/, match: exact, backend: catalog}}
          deep: {{path: "/echo/{{area}}/deep", backend: beta}}
          deep-writes: {{path: "/echo/{{area}}/deep", methods: [POST, PUT], backend: catalog}}
          root-exact: {{path: /echo, match: exact, backend: catalog}}
          canary-none: {{path: /echo/canary0/, backend: catalog, canary: 0}}
          canary-all: {{path: /echo/canary100/, backend: catalog, canary: 100, shadow: beta}}
          canary-half: {{path: /echo/canary50/, backend: catalog, canary: 50}}
          down: {{path: /echo/down/, backend: dead, fallback: monolith}}
          failing: {{path: /status/, backend: catalog, fallback: monolith}}
        """)


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    names = ["monolith", "catalog", "orders", "beta"]
    with (running_upstream(tmp_path_factory.mktemp("up"), names[0]) as (a, _),
          running_upstream(tmp_path_factory.mktemp("up"), names[1]) as (b, _),
          running_upstream(tmp_path_factory.mktemp("up"), names[2]) as (c, _),
          running_upstream(tmp_path_factory.mktemp("up"), names[3]) as (d, _)):
        yield dict(zip(names, [a, b, c, d], strict=True))


def _gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Nginx]:
    base = tmp_path_factory.mktemp("nginx")
    source = base / "routes.yaml"
    source.write_text(routes(upstreams))
    cfg = config_module.load(source)
    port = free_port()
    prefix = base / "run"
    prefix.mkdir()
    text, _warnings = render_nginx(cfg, prefix=str(prefix), listen=f"127.0.0.1:{port}")
    conf = base / "nginx.conf"
    conf.write_text(text)
    checked = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = ManagedProcess("nginx", [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
                             log_path=base / "nginx.out")
    process.start()
    assert process.proc is not None
    pid = process.proc.pid
    try:
        process.wait_healthy(f"http://127.0.0.1:{port}/__router/health")
        yield Nginx(f"http://127.0.0.1:{port}", conf, prefix, process, cfg)
    finally:
        # A graceful stop through nginx's own signal, then make sure master and workers are gone.
        subprocess.run([NGINX, "-p", str(prefix), "-c", str(conf), "-s", "quit"], capture_output=True, timeout=30)
        try:
            process.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(pid, signal.SIGKILL)
            process.proc.wait(timeout=10)
        finally:
            process.stop()
        deadline = time.monotonic() + 10
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(pid), "nginx (master or a worker) is still running"


def expected(cfg: config_module.RouterConfig, method: str, raw_path: str, headers: dict[str, str]) -> str:
    match = cfg.table.match(method, normalise(raw_path), {k.lower(): v for k, v in headers.items()})
    route = match.route
    if route is not None and route.canary is not None:
        return route.backend if route.canary >= 100 else cfg.table.default if route.canary <= 0 else "?"
    return match.backend


CASES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/echo/catalog/", {}),
    ("GET", "/echo/catalog", {}),
    ("HEAD", "/echo/catalog/a/b", {}),
    ("POST", "/echo/catalog/a/b", {}),
    ("GET", "/echo/catalogue", {}),
    ("GET", "/echo/catalog/42", {}),
    ("POST", "/echo/catalog/42", {}),
    ("GET", "/echo/catalog/42/", {}),
    ("GET", "/echo/orders", {}),
    ("DELETE", "/echo/orders/7", {}),
    ("GET", "/echo/orders/7", {"X-Beta": "yes"}),
    ("GET", "/echo/orders/7", {"X-Beta": "no"}),
    ("GET", "/echo/orders/7/items", {}),
    ("GET", "/echo/orders/7/items/3", {"X-Beta": "yes"}),
    ("GET", "/echo/orders/7/itemsX", {}),
    ("GET", "/echo/orders/special/", {}),
    ("GET", "/echo/orders/special", {}),
    ("GET", "/echo/orders/special/", {"X-Beta": "yes"}),
    ("GET", "/echo/x/deep", {}),
    ("POST", "/echo/x/deep/more", {}),
    ("PATCH", "/echo/x/deep/more", {}),
    ("GET", "/echo/orders/deep", {}),
    ("GET", "/echo/orders/deep", {"X-Beta": "yes"}),
    ("GET", "/echo", {}),
    ("GET", "/echo/", {}),
    ("GET", "/echo/other/thing", {}),
    ("GET", "/echo/catalog/../orders/7/items/", {}),
    ("GET", "/echo/catalog/%2e%2e/orders/7/items/", {}),
    ("GET", "/echo//orders//7//items", {}),
    ("GET", "/echo/./catalog/./x", {}),
    ("GET", "/echo/canary0/a", {}),
    ("GET", "/echo/canary100/a", {}),
    ("POST", "/echo/canary100/a", {}),
    ("GET", "/", {}),
]


@pytest.mark.parametrize(("method", "path", "headers"), CASES, ids=[f"{m} {p} {h}" for m, p, h in CASES])
def test_requests_reach_the_backend_the_router_picks(nginx: Nginx, method: str, path: str,
                                                     headers: dict[str, str]) -> None:
    want = expected(nginx.cfg, method, path, headers)
    with httpx.Client(base_url=nginx.url, timeout=10) as client:
        response = client.request(method, httpx.URL(nginx.url + path), headers=headers,
                                  extensions={"target": path.encode()})
    assert response.headers.get("x-upstream") == want, (response.status_code, response.text[:300])
    if method != "HEAD" and path.startswith("/echo"):
        # The backend gets the normalised path, as from the Python router (never the raw '..' or '//').
        assert response.json()["raw_path"] == normalise(path)


def test_nginx_t_accepts_the_export_and_cli_writes_it(tmp_path: Path, nginx: Nginx) -> None:
    out = tmp_path / "cli.conf"
    done = subprocess.run([sys.executable, "-m", "router", "export", "nginx", str(nginx.conf.with_name("routes.yaml")),
                           "-o", str(out), "--prefix", str(tmp_path), "--listen", f"127.0.0.1:{free_port()}"],
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 0, done.stderr
    assert "warning: nginx export:" in done.stderr
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(out)], capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_liveness_and_header_hygiene(nginx: Nginx) -> None:
    health = httpx.get(f"{nginx.url}/__router/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    request_id = f"nginx-{uuid.uuid4().hex}"
    response = httpx.get(f"{nginx.url}/echo/anything", timeout=5, headers={
        "X-Request-ID": request_id, "X-User-Id": "1", "X-Identity-Token": "forged", "Remote-User": "admin",
        "X-Forwarded-For": "6.6.6.6", "Host": "shop.example:8443"})
    echo = response.json()
    assert response.headers["x-request-id"] == request_id
    assert header_values(echo, "x-request-id") == [request_id]
    for name in ("x-user-id", "x-identity-token", "remote-user"):
        assert header_values(echo, name) == []
    assert header_values(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert header_values(echo, "host") == ["shop.example:8443"]
    assert header_values(echo, "x-forwarded-host") == ["shop.example:8443"]
    bad = httpx.get(f"{nginx.url}/echo/x", timeout=5, headers={"X-Request-ID": "no spaces allowed"})
    assert bad.headers["x-request-id"] != "no spaces allowed" and len(bad.headers["x-request-id"]) == 32


@pytest.mark.parametrize("path", ["/echo/orders%2F7/items/", "/echo/catalog%2fx", "/echo/a%5Cb"])
def test_encoded_slashes_are_refused(nginx: Nginx, path: str) -> None:
    with httpx.Client(timeout=5) as client:
        response = client.request("GET", httpx.URL(nginx.url + path), extensions={"target": path.encode()})
    assert response.status_code == 400
    assert response.json()["code"] == "rejected"


def test_canary_is_sticky_by_session(nginx: Nginx) -> None:
    seen: dict[str, str] = {}
    for n in range(40):
        cookie = f"session-{n}"
        sides = {httpx.get(f"{nginx.url}/echo/canary50/x", cookies={"sessionid": cookie}, timeout=5)
                 .headers["x-upstream"] for _ in range(3)}
        assert len(sides) == 1, f"{cookie} flipped between {sides}"
        seen[cookie] = sides.pop()
    assert set(seen.values()) == {"catalog", "monolith"}  # 40 sessions at 50%: both sides occur


def test_fallback_when_the_primary_is_down(nginx: Nginx, upstreams: dict[str, str]) -> None:
    response = httpx.get(f"{nginx.url}/echo/down/x", timeout=10)
    assert response.status_code == 200 and response.headers["x-upstream"] == "monolith"
    # Not idempotent: never sent twice, so no fallback either.
    request_id = f"post-{uuid.uuid4().hex}"
    posted = httpx.post(f"{nginx.url}/echo/down/x", content=b"{}", timeout=10, headers={"X-Request-ID": request_id})
    assert posted.status_code == 502
    assert seen_with_id(upstreams["monolith"], request_id) == []
    # A GET with a body is not retried either.
    with_body = httpx.request("GET", f"{nginx.url}/echo/down/x", content=b"x", timeout=10)
    assert with_body.status_code == 502


def test_fallback_when_the_primary_answers_5xx(nginx: Nginx) -> None:
    response = httpx.get(f"{nginx.url}/status/503", timeout=10)
    assert response.headers["x-upstream"] == "monolith"  # the fallback answered (with its own 503)
    ok = httpx.get(f"{nginx.url}/status/201", timeout=10)
    assert ok.status_code == 201 and ok.headers["x-upstream"] == "catalog"
    posted = httpx.post(f"{nginx.url}/status/500", timeout=10)
    assert posted.status_code == 500 and posted.headers["x-upstream"] == "catalog"


def test_shadow_mirrors_safe_methods_only(nginx: Nginx, upstreams: dict[str, str]) -> None:
    read_id, write_id = f"read-{uuid.uuid4().hex}", f"write-{uuid.uuid4().hex}"
    response = httpx.get(f"{nginx.url}/echo/catalog/x/y?q=1", timeout=5, headers={"X-Request-ID": read_id})
    assert response.headers["x-upstream"] == "catalog"
    wait_for(lambda: bool(seen_with_id(upstreams["beta"], read_id)), timeout=5)
    [mirrored] = seen_with_id(upstreams["beta"], read_id)
    assert mirrored["method"] == "GET" and mirrored["raw_path"] == "/echo/catalog/x/y"
    assert header_values(mirrored, "x-shadow-request") == ["1"]
    posted = httpx.post(f"{nginx.url}/echo/canary100/x", content=b"{}", timeout=5, headers={"X-Request-ID": write_id})
    assert posted.headers["x-upstream"] == "catalog"
    time.sleep(0.5)
    assert seen_with_id(upstreams["beta"], write_id) == []
