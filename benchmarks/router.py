"""Claim: the router is fast enough to stand in front of the whole shop (issue 3, "Done means").

In ONE run, against the SAME upstream (nginx, one worker, access log off, serving a static 1 KB JSON file on a
free port, with its own temporary prefix and configuration), this measures with wrk
(``wrk -t1 -c32 -d10s --latency``, then ``-c1`` for the latency one connection adds):

1. ``direct``: wrk straight to the upstream nginx;
2. ``nginx-proxy``: nginx as a reverse proxy, with the configuration ``python -m router export nginx`` writes
   for a routes file whose default backend is the upstream and one ``/api/`` route to it (used as exported:
   worker_processes auto, JSON access log on);
3. ``router``: ``python -m router serve`` full-featured (its default transport, metrics, JSON access log with
   stderr redirected to a file, admin API enabled);
4. what each choice costs: ``router --no-access-log``, ``router --transport X`` for each other transport, and
   ``router canary 50``
   (the /api/ route at canary 50%, both sides the same upstream: the cost of the canary addon);
5. ``router-shadow``: the same /api/ route with a shadow (a second backend name on the same upstream, queue
   1000, comparisons stored in a SQLite parity store): what shadowing adds to the client's p50/p99, against
   ``router`` in the same run (issue 6: under 10% at p99).

Every request goes to ``/api/data.json`` (matched by the ``/api/`` route in both proxies). It prints
requests/s, p50 and p99 of each, the ratios of requests/s against direct and against nginx-proxy, and
PASS/MISS for issue 11's targets: the full-featured router reaches at least 0.2x nginx-proxy's requests/s;
adds at most 0.3 ms at p50 with one connection (router c1 p50 minus direct c1 p50); keeps p99 under 10 ms at
32 connections. Beside requests/s it reports the CPU time each proxy spent per request in the c32 run (its
whole process group, from /proc: far less sensitive to a shared machine's noise than requests/s).

``--workers N`` is passed on to the router when ``python -m router serve --help`` lists ``--workers`` (else
the router runs as it does by default, and the report says so); every transport the help lists besides the
default one gets a variant of its own (``router-<transport>``).

    .venv/bin/python benchmarks/router.py [--duration 10] [--connections 32] [--workers N] [--only direct,...]

Not part of the test suite. Every process it starts is stopped (and checked gone) before it exits; the exit
status is 1 when a target is missed, 2 when a measurement could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.wrk import WRK, Run, wrk  # noqa: E402

PYTHON = sys.executable
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PATH = "/api/data.json"
TARGET_RATIO = 0.2  # router requests/s over nginx-proxy's (issue 11)
TARGET_ADDED_P50_MS = 0.3  # router c1 p50 minus direct c1 p50
TARGET_P99_MS = 10.0  # router p99 at 32 connections

VARIANTS = ["direct", "nginx-proxy", "router", "router-no-access-log", "router-canary50", "router-shadow"]


@dataclass(frozen=True)
class RouterOptions:
    """What this checkout's ``python -m router serve`` accepts, read from its --help."""

    workers: bool  # --workers exists
    transports: tuple[str, ...]  # --transport's choices
    default_transport: str

    @classmethod
    def read(cls) -> RouterOptions:
        done = subprocess.run([PYTHON, "-m", "router", "serve", "--help"], cwd=ROOT, capture_output=True,  # noqa: S603
                              text=True, timeout=60, check=True)
        text = " ".join(done.stdout.split())
        found = re.search(r"--transport \{([a-z0-9,]+)\}", text)
        transports = tuple(found.group(1).split(",")) if found else ("aiohttp",)
        default = re.search(r"--transport \{[a-z0-9,]+\} .*?\(default: ([a-z0-9]+)", text)
        return cls("--workers" in text, transports, default.group(1) if default else transports[0])

    def variants(self) -> list[str]:
        """Every variant, with one per transport other than the default (after ``router-no-access-log``)."""
        others = [f"router-{t}" for t in self.transports if t != self.default_transport]
        return VARIANTS[:4] + others + VARIANTS[4:]


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of process group ``pgid``."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # fields[0] is the state: pgrp is the 5th field of stat, here index 2
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# -- processes -------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """A process started in its own process group, so stopping it takes its children (nginx workers) too."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    admin_url: str = ""  # routers only
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # noqa: S603
                                         cwd=ROOT, env=self.env, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(self.proc.pid):
                self.proc.poll()
                time.sleep(0.05)
            if not _group_alive(self.proc.pid):
                break
        self.proc.wait(timeout=5)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _group_alive(pgid: int) -> bool:
    found = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    return bool(found.stdout.strip())


def wait_healthy(process: Process, url: str, expect: bytes | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited before it was healthy:\n{process.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
                body = response.read()
                if response.status == 200 and (expect is None or body == expect):
                    return
                last = f"status {response.status}, {len(body)} bytes"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} not healthy at {url} within {timeout:g}s ({last}):\n{process.tail()}")


# -- wrk -------------------------------------------------------------------------------------------------



# -- the setups ------------------------------------------------------------------------------------------

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


Result = tuple[Run, Run, str, float | None]  # c32 run, c1 run, note, CPU microseconds per request (c32)


def run_variant(bench: Bench, name: str, options: RouterOptions) -> Result:
    """Start the variant's proxy (if any), measure it, stop it."""
    if name == "direct":
        loaded, single, _ = bench.measure(bench.upstream_url + PATH)
        return loaded, single, "nginx 1 worker, static file", None
    if name == "nginx-proxy":
        process, url = bench.start_nginx_proxy()
        try:
            loaded, single, cpu = bench.measure(url + PATH, process)
        finally:
            process.stop()
        return loaded, single, "exported conf as is (workers auto, access log on)", cpu
    transport = name.removeprefix("router-")
    if transport in options.transports:
        extra, canary = ["--transport", transport], None
    else:
        extra, canary = {
            "router": ([], None),
            "router-no-access-log": (["--no-access-log"], None),
            "router-canary50": ([], 50.0),
            "router-shadow": ([], None),
        }[name]
    shadow = name == "router-shadow"
    process, url = bench.start_router(name, extra, canary, shadow=shadow)
    try:
        loaded, single, cpu = bench.measure(url + PATH, process)
        counters = bench.counters(process)
    finally:
        process.stop()
    note = " ".join(extra) or ("canary 50 on /api/" if canary else "shadow on /api/, parity store" if shadow
                               else f"{options.default_transport}, access log, metrics")
    if bench.router_args:
        note += " " + " ".join(bench.router_args)
    if counters is not None:
        routes = counters.get("routes", {})
        counted = sum(int(r.get("requests", 0)) for r in routes.values()) if isinstance(routes, dict) else 0
        note += f"; {counted} requests counted"
        figures = routes.get("api", {}).get("shadow") if isinstance(routes, dict) else None
        if shadow and isinstance(figures, dict):
            note += (f"; shadow: {figures.get('compared', 0)} compared, {figures.get('equal', 0)} equal, "
                     f"{figures.get('dropped', 0)} dropped, {figures.get('errors', 0)} errors")
    log_lines = sum(1 for line in process.log.read_text(errors="replace").splitlines() if line.startswith("{"))
    if log_lines:
        note += f", {log_lines} log lines"
    return loaded, single, note, cpu


# -- report ----------------------------------------------------------------------------------------------

def machine() -> str:
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    nginx_version = subprocess.run([NGINX, "-v"], capture_output=True, text=True, check=False).stderr.strip()  # noqa: S603
    wrk_version = subprocess.run([WRK, "-v"], capture_output=True, text=True, check=False).stdout.split("\n")[0]  # noqa: S603
    return (f"nproc {os.cpu_count()} ({cpu or platform.machine()}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {nginx_version}, {wrk_version.split(' Copyright')[0]}")


def report(results: dict[str, Result], connections: int) -> list[tuple[str, bool | None, str]]:
    direct = results.get("direct")
    proxy = results.get("nginx-proxy")

    def ratio(run: Run, base: Result | None) -> str:
        return f"{run.rps / base[0].rps:.3f}x" if base else "-"

    c = connections
    header = (f"{'variant':<21} {f'c{c} req/s':>10} {'x direct':>9} {'x nginx':>8} {f'c{c} p50':>9} {f'c{c} p99':>9}"
              f" {'c1 req/s':>9} {'c1 p50':>8} {'c1 p99':>8} {'c1 +p50':>8} {'CPU us/req':>10}  notes")
    print(header)
    print("-" * len(header))
    for name, (loaded, single, note, cpu) in results.items():
        added_text = f"{single.p50_ms - direct[1].p50_ms:+.3f}" if direct else "-"
        errors = [e for e in (loaded.errors, single.errors) if e]
        cpu_text = f"{cpu:.1f}" if cpu is not None else "-"
        print(f"{name:<21} {loaded.rps:>10.0f} {ratio(loaded, direct):>9} {ratio(loaded, proxy):>8}"
              f" {loaded.p50_ms:>9.3f} {loaded.p99_ms:>9.3f} {single.rps:>9.0f} {single.p50_ms:>8.3f}"
              f" {single.p99_ms:>8.3f} {added_text:>8} {cpu_text:>10}  {note}"
              + (f"; ERRORS: {' | '.join(errors)}" if errors else ""))
    print(f"(latencies in ms; 'c1 +p50' = c1 p50 minus direct's c1 p50; ratios are of requests/s; 'CPU us/req' ="
          f" CPU time of the proxy's processes (all workers) during the c{c} run over its requests)")

    verdicts: list[tuple[str, bool | None, str]] = []
    router = results.get("router")
    if router is None:
        return verdicts
    if proxy:
        value = router[0].rps / proxy[0].rps
        verdicts.append((f"router req/s >= {TARGET_RATIO}x nginx-proxy", value >= TARGET_RATIO,
                         f"{router[0].rps:.0f} / {proxy[0].rps:.0f} = {value:.3f}x"))
    if direct:
        added = router[1].p50_ms - direct[1].p50_ms
        verdicts.append((f"router adds <= {TARGET_ADDED_P50_MS:g} ms at p50 (c1)", added <= TARGET_ADDED_P50_MS,
                         f"{router[1].p50_ms:.3f} - {direct[1].p50_ms:.3f} = {added:.3f} ms"))
    verdicts.append((f"router p99 < {TARGET_P99_MS:g} ms (c{c})", router[0].p99_ms < TARGET_P99_MS,
                     f"{router[0].p99_ms:.3f} ms"))
    shadowed = results.get("router-shadow")
    if shadowed is not None:
        for label, base, with_shadow in ((f"c{c}", router[0], shadowed[0]), ("c1", router[1], shadowed[1])):
            added_p99 = with_shadow.p99_ms / base.p99_ms - 1 if base.p99_ms else float("inf")
            print(f"shadow {label}: p50 {base.p50_ms:.3f} -> {with_shadow.p50_ms:.3f} ms, "
                  f"p99 {base.p99_ms:.3f} -> {with_shadow.p99_ms:.3f} ms ({added_p99 * 100:+.1f}%)")
            # One run each, one after the other: p99 moves more than that between runs on this machine.
            # The verdict on the shadow's cost is benchmarks/shadow_overhead.py's (interleaved rounds).
            verdicts.append((f"shadow's p99 cost ({label}), single run", None,
                             f"{with_shadow.p99_ms:.3f} / {base.p99_ms:.3f} ms = {added_p99 * 100:+.1f}%"))
    if router[0].errors or router[1].errors:
        verdicts.append(("router answered without errors", False, f"{router[0].errors} {router[1].errors}"))
    print()
    for label, ok, detail in verdicts:
        print(f"{'INFO' if ok is None else 'PASS' if ok else 'MISS'}  {label:<42} {detail}")
    return verdicts


def leftovers(bench: Bench) -> list[str]:
    left = []
    for process in bench.processes:
        if process.proc is not None and _group_alive(process.pid):
            left.append(f"{process.name} (process group {process.pid})")
    found = subprocess.run(["pgrep", "-af", str(bench.work)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    left += [line for line in found.stdout.splitlines() if line.strip()]
    return left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default: %(default)s)")
    parser.add_argument("--workers", type=int, help="router worker processes, passed as --workers N when the "
                        "router has that option (default: the router's own default)")
    parser.add_argument("--only", help="comma-separated variants to run, in this order (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs)")
    args = parser.parse_args(argv)
    options = RouterOptions.read()
    known = options.variants()
    variants = [v.strip() for v in (args.only or ",".join(known)).split(",") if v.strip()]
    unknown = sorted(set(variants) - set(known))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(known)}")
    for tool in (WRK, NGINX):
        if not os.access(tool, os.X_OK):
            print(f"{tool} is not installed", file=sys.stderr)
            return 2

    print(f"# router benchmark, {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"# command: {' '.join([Path(PYTHON).name, *sys.argv])}")
    print(f"# machine: {machine()}")
    print(f"# load: wrk -t1 -c{args.connections} -d{args.duration:g}s --latency, then -c1 (1 s warm-up at "
          f"c{args.connections} first); GET {PATH} (1 KB JSON), same upstream for all")
    if args.workers is not None and not options.workers:
        print(f"# --workers {args.workers} not passed: this router has no --workers option (one process)")
    router_args = ["--workers", str(args.workers)] if args.workers is not None and options.workers else []
    print(f"# router: transports {', '.join(options.transports)} (default {options.default_transport}); "
          f"{' '.join(router_args) or 'its default worker count'}")
    work = Path(tempfile.mkdtemp(prefix="router-bench-"))
    bench = Bench(work, args.duration, args.connections, router_args=router_args)
    results: dict[str, Result] = {}
    failed = False
    try:
        bench.start_upstream()
        for name in variants:
            print(f"# measuring {name} ...", file=sys.stderr, flush=True)
            try:
                results[name] = run_variant(bench, name, options)
            except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                failed = True
                print(f"# {name}: not measured: {exc}", file=sys.stderr)
    finally:
        for process in reversed(bench.processes):
            process.stop()
        left = leftovers(bench)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    verdicts = report(results, args.connections)
    if left:
        print(f"\nLEFT RUNNING: {left}", file=sys.stderr)
        return 2
    print(f"\n# every process started was stopped (pgrep finds none){'; kept ' + str(work) if args.keep else ''}")
    if failed:
        return 2
    return 1 if any(ok is False for _, ok, _ in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
