"""The router benchmark's setups: the upstream nginx, the nginx proxy ``python -m router export nginx`` writes,
and ``python -m router serve``, with the files they read (nginx configuration, routes file, the 1 KB body)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.processes import ROOT, Process, free_port, group_cpu, wait_healthy
from benchmarks.wrk import Run, wrk

PYTHON = sys.executable
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PATH = "/api/data.json"


def upstream_conf(prefix: Path, root: Path, port: int) -> str:
    return textwrap.dedent(f"""\
        # The benchmark's upstream: one worker serving static files.
        worker_processes 1;
        pid {prefix}/nginx.pid;
        error_log {prefix}/error.log warn;
        events {{ worker_connections 4096; }}
        http {{
            access_log off;
            client_body_temp_path {prefix}/client_body_temp;
            proxy_temp_path {prefix}/proxy_temp;
            fastcgi_temp_path {prefix}/fastcgi_temp;
            uwsgi_temp_path {prefix}/uwsgi_temp;
            scgi_temp_path {prefix}/scgi_temp;
            keepalive_requests 1000000;
            server {{
                listen 127.0.0.1:{port};
                root {root};
                default_type application/json;
            }}
        }}
        """)


def routes_yaml(upstream: str, listen: str, *, canary: float | None = None, shadow: bool = False) -> str:
    backends = f'  upstream: {{targets: ["{upstream}"], health: {{path: /data.json, interval: 5}}}}\n'
    if shadow:  # the shadow is a second backend name on the same nginx, as a canary's other side is
        backends += f'  upstream-shadow: {{targets: ["{upstream}"], health: {{path: /data.json, interval: 5}}}}\n'
        route = "  api: {path: /api/, backend: upstream, shadow: {backend: upstream-shadow, queue: 1000}}\n"
        return (f"version: 1\nlisten: {listen}\ndefault: upstream\nbackends:\n{backends}routes:\n{route}"
                f"admin:\n  listen: 127.0.0.1:1\n  token_env: ROUTER_ADMIN_TOKEN\n"
                f"parity:\n  store: parity-shadow.sqlite3\n")
    if canary is None:
        route = "  api: {path: /api/, backend: upstream}\n"
    else:  # a second backend name on the same target, so both sides of the canary hit the same nginx
        backends += f'  upstream-new: {{targets: ["{upstream}"], health: {{path: /data.json, interval: 5}}}}\n'
        route = f"  api: {{path: /api/, backend: upstream-new, canary: {canary:g}}}\n"
    return (f"version: 1\nlisten: {listen}\ndefault: upstream\nbackends:\n{backends}routes:\n{route}"
            f"admin:\n  listen: 127.0.0.1:1\n  token_env: ROUTER_ADMIN_TOKEN\n")


def json_body(size: int = 1024) -> bytes:
    items: list[dict[str, object]] = []
    body = b""
    while True:
        n = len(items)
        items.append({"id": n, "sku": f"SKU-{n:06d}", "name": f"Product {n}", "price": "19.99", "stock": n * 7})
        candidate = json.dumps({"items": items, "pad": ""}).encode()
        if len(candidate) > size:
            break
        body = candidate
    data = json.loads(body)
    data["pad"] = "x" * (size - len(body))
    result = json.dumps(data).encode()
    assert len(result) == size, len(result)
    return result


@dataclass
class Bench:
    work: Path
    duration: float
    connections: int
    processes: list[Process] = field(default_factory=list)
    upstream_url: str = ""
    body: bytes = b""
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    notes: list[str] = field(default_factory=list)
    router_args: list[str] = field(default_factory=list)  # given to every router (--workers N)

    def launch(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        process = Process(name, argv, self.work / f"{name}.out", env)
        self.processes.append(process)
        process.start()
        return process

    def start_upstream(self) -> None:
        prefix = self.work / "upstream"
        root = prefix / "www"
        (root / "api").mkdir(parents=True)
        self.body = json_body()
        for path in (root / "data.json", root / "api" / "data.json"):
            path.write_bytes(self.body)
        # nginx's workers run as nobody when started by root: let them read the files.
        for directory in (self.work, prefix, root, root / "api"):
            directory.chmod(0o755)
        port = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(upstream_conf(prefix, root, port))
        process = self.launch("upstream", [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"])
        self.upstream_url = f"http://127.0.0.1:{port}"
        wait_healthy(process, self.upstream_url + PATH, self.body)

    def start_nginx_proxy(self) -> tuple[Process, str]:
        base = self.work / "nginx-proxy"
        prefix = base / "run"
        prefix.mkdir(parents=True)
        port = free_port()
        routes = base / "routes.yaml"
        routes.write_text(routes_yaml(self.upstream_url, f"127.0.0.1:{port}"))
        conf = base / "nginx.conf"
        subprocess.run([PYTHON, "-m", "router", "export", "nginx", str(routes), "-o", str(conf),  # noqa: S603
                        "--prefix", str(prefix)], cwd=ROOT, check=True, capture_output=True, timeout=60)
        checked = subprocess.run([NGINX, "-t", "-p", str(prefix), "-c", str(conf)],  # noqa: S603
                                 capture_output=True, text=True, timeout=30, check=False)
        if checked.returncode != 0:
            raise RuntimeError(f"nginx -t refused the export:\n{checked.stderr}")
        process = self.launch("nginx-proxy", [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"])
        url = f"http://127.0.0.1:{port}"
        wait_healthy(process, url + "/__router/health")
        wait_healthy(process, url + PATH, self.body)
        return process, url

    def start_router(self, name: str, extra: list[str], canary: float | None = None,
                     shadow: bool = False) -> tuple[Process, str]:
        port, admin = free_port(), free_port()
        routes = self.work / f"{name}.yaml"
        routes.write_text(routes_yaml(self.upstream_url, f"127.0.0.1:{port}", canary=canary, shadow=shadow))
        env = {**os.environ, "ROUTER_ADMIN_TOKEN": self.token}
        # stdout+stderr (the JSON access log goes to stderr) are redirected to WORK/NAME.out.
        process = self.launch(name, [PYTHON, "-m", "router", "serve", "--config", str(routes),
                                     "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}",
                                     *self.router_args, *extra], env)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(process, url + "/__router/health")
        wait_healthy(process, url + PATH, self.body)
        process.admin_url = f"http://127.0.0.1:{admin}"
        return process, url

    def counters(self, process: Process) -> dict[str, object] | None:
        request = urllib.request.Request(process.admin_url + "/counters",  # noqa: S310 - our own loopback URL
                                         headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our own loopback URL
                return json.loads(response.read())  # type: ignore[no-any-return]
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def measure(self, url: str, process: Process | None = None) -> tuple[Run, Run, float | None]:
        """The c32 run, the c1 run, and the CPU microseconds ``process`` (its group) spent per request of the
        c32 run (None without a process: the direct runs)."""
        wrk(url, self.connections, 1)  # warm-up: pools filled, nothing recorded
        before = group_cpu(process.pid) if process is not None else 0.0
        loaded = wrk(url, self.connections, self.duration)
        cpu = (group_cpu(process.pid) - before) * 1e6 / loaded.requests if process and loaded.requests else None
        single = wrk(url, 1, self.duration)
        return loaded, single, cpu

