"""The two sides of a contract check, as real processes on scratch data.

``Environment`` (a context manager) builds, from a plan and its routes file:

1. a scratch copy of the monolith's database (:mod:`strangler.contract.scratch`), a user and a staff member in
   it (:mod:`strangler.contract.identities`), and the ownership guard removed from the copy (a monolith
   past its cutover would otherwise refuse writes the real one never sees);
2. the service's scratch database, provisioned with the service's migrations and filled from the monolith's
   copy by the plan's own data split, then verified equal;
3. the monolith (gunicorn serving the project's WSGI application on the copy), the service (the plan's
   ``service.start``, its database variable pointing at its copy), and two routers started from the routes
   file: one with the plan's routes on the monolith (what clients get today), one with them on the service
   (what they get after the cutover). Both mint identity tokens with one secret made for this run, which the
   service is given, so identities work exactly as in production: the router asks the monolith who a
   credential belongs to, and passes the service a signed token (a refused one for a credential the monolith
   refuses, which the service answers as the monolith does).

``pair(request)`` sends one request to both routers at once; ``reset()`` puts both databases back as they
were after set-up (SQLite and PostgreSQL copies, see :mod:`strangler.contract.scratch`; after every write, so
each generated request meets the same data and any of them can be replayed while shrinking). Everything is
stopped and removed on exit; ``keep`` leaves the directory (logs, databases) for a look.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import yaml

from router import config as router_config
from router.compare import Response
from router.exceptions import ConfigError
from strangler import datasplit
from strangler.contract import identities, scratch
from strangler.contract.exceptions import ContractError
from strangler.contract.requests import ContractRequest
from strangler.datasplit import ownership
from strangler.datasplit.provision import temporary_env
from strangler.planfile.model import ContractGate, PlanFile
from strangler.processes import ManagedProcess, ProcessFailed, free_port

ALIAS = "strangler_contract"
ROUTER_HEALTH = "/__router/health"
Say = Callable[[str], None]


@dataclass(frozen=True)
class Answer:
    """One side's answer, or the error that stood in for it (status 0)."""

    response: Response
    seconds: float

    @property
    def status(self) -> int:
        return self.response.status


def default_host() -> str:
    """A Host the monolith accepts (its first plain ALLOWED_HOSTS entry), sent to both sides."""
    from django.conf import settings

    for host in getattr(settings, "ALLOWED_HOSTS", []) or []:
        if host and host != "*" and not host.startswith("."):
            return str(host)
    return "localhost"


class Environment:
    def __init__(self, plan: PlanFile, gate: ContractGate, *, root: Path, say: Say = print,
                 workdir: Path | None = None, keep: bool = False, service_env: dict[str, str] | None = None,
                 workers: int = 2, source_settings: dict[str, Any] | None = None) -> None:
        if plan.router is None or plan.endpoints is None:
            raise ContractError(f"{plan.path}: router and endpoints: required (the routes the plan moves)")
        self.plan, self.gate, self.root, self.say = plan, gate, root, say
        self.keep, self.workers = keep, workers
        self.service_env = dict(service_env or {})  # extra variables for the service (tests break it on purpose)
        self.source_settings = dict(source_settings or {})  # over the Django alias's settings (tests: a shop's)
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="strangler-contract-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.processes: list[ManagedProcess] = []
        self.databases: list[scratch.ScratchDatabase] = []
        self.clients: dict[str, httpx.Client] = {}
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="contract")
        self.routes_path = (root / gate.routes) if not Path(gate.routes).is_absolute() else Path(gate.routes)
        try:
            self.routes = router_config.load(self.routes_path)
        except ConfigError as exc:
            raise ContractError(f"{plan.path}: contract.routes: {exc}") from None
        self.moved = [r for r in (plan.endpoints.reads, plan.endpoints.writes) if r]
        missing = [r for r in self.moved if self.routes.table.route(r) is None]
        if missing:
            raise ContractError(f"{plan.path}: endpoints: no route {', '.join(map(repr, missing))} in "
                                f"{self.routes_path} (routes: {', '.join(r.name for r in self.routes.table.routes)})")
        self.secret = secrets.token_urlsafe(32)
        self.credentials: identities.Credentials | None = None
        self.monolith_db: scratch.ScratchDatabase | None = None
        self.service_db: scratch.ScratchDatabase | None = None
        self.urls: dict[str, str] = {}
        self.sent = 0
        self.host = default_host()

    # -- what the routes file says ------------------------------------------------------------------------------

    def covered(self, method: str, path: str) -> bool:
        """Whether the router's own matching sends ``method path`` to one of the plan's routes."""
        match = self.routes.table.match(method, path)
        return match.route is not None and match.route.name in self.moved

    @property
    def monolith_backend(self) -> str:
        assert self.plan.router is not None
        return self.plan.router.monolith_backend

    def real_monolith_url(self) -> str:
        backend = self.routes.table.backends.get(self.monolith_backend)
        return backend.targets[0] if backend is not None and backend.targets else "http://127.0.0.1:8000"

    def real_service_url(self) -> str:
        return self.plan.service.url or "http://127.0.0.1:8101"

    # -- life cycle ---------------------------------------------------------------------------------------------

    def __enter__(self) -> Environment:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        started = time.monotonic()
        self._databases()
        self.say(f"contract: scratch databases ready in {time.monotonic() - started:.1f}s "
                 f"({self.monolith_db and self.monolith_db.kind} and {self.service_db and self.service_db.kind})")
        self._processes()
        self.say(f"contract: monolith, service and two routers up in {time.monotonic() - started:.1f}s")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        self.pool.shutdown(wait=False)
        from django.db import connections

        if ALIAS in connections.databases:
            connections[ALIAS].close()
            del connections[ALIAS]
            del connections.databases[ALIAS]
        if not self.keep:
            for database in self.databases:
                try:
                    database.drop()
                except Exception as exc:  # noqa: BLE001 - clean-up goes on; the failure is said
                    self.say(f"contract: could not drop scratch database {database.django_name}: {exc}")
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            self.say(f"contract: kept {self.workdir} (logs, databases)")
        self.databases.clear()

    # -- data -------------------------------------------------------------------------------------------------

    @contextmanager
    def _service_database_env(self) -> Iterator[None]:
        """The plan's service database variable points at the scratch copy while the data split works, so
        every reader of it (the plan, an Alembic env.py) finds the copy, never the real database."""
        if self.service_db is None:
            yield
            return
        with temporary_env(self.plan.service.database_url_env, self.service_db.url):
            yield

    def _databases(self) -> None:
        from django.db import connections

        alias = self.plan.source.database
        if not alias:
            raise ContractError(f"{self.plan.path}: source: the contract check runs the monolith on a copy of "
                                "its Django database; name it with source.database (a DATABASES alias)")
        if alias not in connections.databases:
            raise ContractError(f"{self.plan.path}: source.database: no Django database alias {alias!r}")
        settings = {**connections[alias].settings_dict, **self.source_settings}
        self.source_alias = alias
        self.monolith_db = scratch.copy_django_database(settings, self.workdir)
        self.databases.append(self.monolith_db)
        connections.databases[ALIAS] = {**settings, "NAME": self.monolith_db.django_name}
        from strangler.datasplit.plan import SourceSpec, plan_from

        base = plan_from(self.plan, root=self.root)
        self.service_db = scratch.new_database_like(base.service_url(), self.workdir, "service")
        self.databases.append(self.service_db)
        split_plan = replace(base, source=SourceSpec(database=ALIAS),
                             service=replace(base.service, default_database_url=self.service_db.url))
        with self._service_database_env():
            split = datasplit.bind(split_plan)
            try:
                # The real monolith may be past its cutover: its copy would refuse writes the check sends.
                ownership.remove(split, "monolith")
                datasplit.provision(split)
                datasplit.copy(split)
                report = datasplit.verify(split)
                if not report.ok:
                    raise ContractError("the service's scratch copy differs from the monolith's after the copy: "
                                        + ", ".join(t["target"] for t in report.to_dict()["tables"] if not t["ok"]))
            finally:
                split.close()
        self.credentials = identities.create(ALIAS)
        connections[ALIAS].close()
        if self.resettable:
            started = time.monotonic()
            self.monolith_db.snapshot()
            if self.monolith_db.resettable:
                self.service_db.snapshot()
            if not self.resettable:
                self.say(f"contract: safe methods only: {self.reset_problem}")
            elif self.monolith_db.kind != "sqlite" or self.service_db.kind != "sqlite":
                self.say(f"contract: pristine rows kept for resets in {time.monotonic() - started:.1f}s")

    @property
    def resettable(self) -> bool:
        return bool(self.monolith_db and self.service_db and self.monolith_db.resettable
                    and self.service_db.resettable)

    @property
    def reset_problem(self) -> str | None:
        """Why writes cannot be checked (a copy that cannot be reset between requests), or None."""
        for side, database in (("the monolith's", self.monolith_db), ("the service's", self.service_db)):
            if database is not None and not database.resettable:
                return f"{side} copy: {database.reset_problem or database.kind + ' copies are not reset'}"
        return None

    def reset(self) -> None:
        """Both databases as they were after set-up."""
        assert self.monolith_db is not None and self.service_db is not None
        service = self.pool.submit(self.service_db.restore)  # both at once (the pool is idle between pairs)
        self.monolith_db.restore()
        service.result()

    # -- processes --------------------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        identity = self.routes.identity
        env = {**os.environ, "STRANGLER_CONTRACT_ADMIN_TOKEN": secrets.token_urlsafe(24)}
        env[identity.secret_env if identity else "ROUTER_IDENTITY_SECRET"] = self.secret
        return env

    def _start(self, name: str, argv: list[str], health: str, env: dict[str, str], cwd: Path | None = None
               ) -> ManagedProcess:
        process = ManagedProcess(name, argv, log_path=self.workdir / f"{name}.log", env=env, cwd=cwd or self.root)
        self.processes.append(process)
        process.start()
        try:
            process.wait_healthy(health, timeout=60)
        except ProcessFailed as exc:
            raise ContractError(f"the contract check's {name} did not start: {exc}") from None
        return process

    def _processes(self) -> None:
        from django.conf import settings

        assert self.monolith_db is not None and self.service_db is not None
        env = self._env()
        # The monolith: the project's own WSGI application and settings, its database pointed at the copy.
        port = free_port()
        self.urls["monolith"] = f"http://127.0.0.1:{port}"
        wsgi = str(getattr(settings, "WSGI_APPLICATION", "") or "")
        if "." not in wsgi:
            raise ContractError("settings.WSGI_APPLICATION is not set: the contract check serves the monolith "
                                "with gunicorn from it")
        module, _, attribute = wsgi.rpartition(".")
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
        if gunicorn is None:
            raise ContractError("gunicorn is not installed: the contract check serves the monolith with it")
        monolith_env = {**env, "DJANGO_SETTINGS_MODULE": "strangler.contract.scratch_settings",
                        "STRANGLER_CONTRACT_SETTINGS": str(settings.SETTINGS_MODULE),
                        "STRANGLER_CONTRACT_DATABASES": json.dumps({self.source_alias:
                                                                    {"NAME": self.monolith_db.django_name}})}
        health = self._monolith_health()
        self._start("monolith", [gunicorn, f"{module}:{attribute}", "--bind", f"127.0.0.1:{port}", "--workers",
                                 str(self.workers), "--graceful-timeout", "5"],
                    self.urls["monolith"] + health, monolith_env)
        # The service: the plan's own start command on a free port, its database variable on the copy.
        port = free_port()
        self.urls["service"] = f"http://127.0.0.1:{port}"
        service_env = {**env, **self.service_env}
        if self.plan.service.database_url_env:
            service_env[self.plan.service.database_url_env] = self.service_db.url
        if self.plan.service.monolith_url_env:  # what the service asks of the monolith, it asks of this copy
            service_env[self.plan.service.monolith_url_env] = self.urls["monolith"]
        self._start("service", self._service_argv(port), self.urls["service"] + self.plan.service.health,
                    service_env)
        for side in ("monolith", "service"):
            path = self.workdir / f"routes-{side}.yaml"
            listen = free_port()
            path.write_text(yaml.safe_dump(self._routes_for(side, listen, free_port()), sort_keys=False))
            self.urls[f"router-{side}"] = f"http://127.0.0.1:{listen}"
            # One process each (no worker pool): the check sends one request pair at a time.
            self._start(f"router-{side}", [sys.executable, "-m", "router", "serve", "--config", str(path)],
                        self.urls[f"router-{side}"] + ROUTER_HEALTH, {**env, "ROUTER_WORKERS": "1"})
            self.clients[side] = httpx.Client(base_url=self.urls[f"router-{side}"], timeout=30)

    def _monolith_health(self) -> str:
        backend = self.routes.raw.get("backends", {}).get(self.monolith_backend) or {}
        health = backend.get("health") or {}
        if isinstance(health, dict) and isinstance(health.get("path"), str):
            return str(health["path"])
        return self.gate.openapi

    def _service_argv(self, port: int) -> list[str]:
        start = self.plan.service.start
        if not start:
            raise ContractError(f"{self.plan.path}: service.start: required by the contract check (it starts its "
                                "own copy of the service)")
        planned = urlsplit(self.plan.service.url or "").port
        argv = [sys.executable if part == "{python}" else part for part in start]
        if any("{port}" in part for part in argv):
            return [part.replace("{port}", str(port)) for part in argv]
        if planned is not None and str(planned) in argv:
            return [str(port) if part == str(planned) else part for part in argv]
        if planned is not None and any(part.endswith(f"={planned}") for part in argv):
            return [part[: -len(str(planned))] + str(port) if part.endswith(f"={planned}") else part for part in argv]
        raise ContractError(f"{self.plan.path}: service.start: the contract check starts its own service on a free "
                            "port; put {port} where the port goes (or the port of service.url), got "
                            f"{' '.join(start)}")

    def _routes_for(self, side: str, listen: int, admin: int) -> dict[str, Any]:
        """The routes file with the plan's routes on ``side``'s backend (nothing else routed), backends on
        this run's processes, and the identity bridge asking this run's monolith."""
        assert self.plan.router is not None
        raw = self.routes.raw
        mono, svc = self.plan.router.monolith_backend, self.plan.router.service_backend
        backends: dict[str, Any] = {}
        for name, url in ((mono, self.urls["monolith"]), (svc, self.urls["service"])):
            original = dict((raw.get("backends") or {}).get(name) or {})
            original.pop("targets", None)
            original["health"] = {"interval": 0}  # one target each: nothing to balance away from
            backends[name] = {"targets": [url], **original}
        routes: dict[str, Any] = {}
        for name in self.moved:
            route = {k: v for k, v in (raw.get("routes") or {})[name].items()
                     if k in ("path", "match", "methods", "header")}
            route["backend"] = mono if side == "monolith" else svc
            routes[name] = route
        out: dict[str, Any] = {"version": 1, "listen": f"127.0.0.1:{listen}", "default": mono,
                               "backends": backends, "routes": routes,
                               "admin": {"listen": f"127.0.0.1:{admin}", "token_env": "STRANGLER_CONTRACT_ADMIN_TOKEN"}}
        if "max_body" in raw:
            out["max_body"] = raw["max_body"]
        identity = raw.get("identity")
        if isinstance(identity, dict):
            parts = urlsplit(str(identity.get("resolve_url", "")))
            target = urlsplit(self.urls["monolith"])
            out["identity"] = {**identity, "resolve_url": urlunsplit((target.scheme, target.netloc, parts.path,
                                                                      parts.query, ""))}
        return out

    # -- traffic ----------------------------------------------------------------------------------------------

    def headers(self, request: ContractRequest) -> list[tuple[str, str]]:
        headers = list(request.headers)
        credential = self.credentials.header(request.identity) if self.credentials else None
        if credential is not None:
            headers.append(credential)
        return headers

    def send(self, side: str, request: ContractRequest) -> Answer:
        client = self.clients[side]
        built = client.build_request(request.method, request.target, content=request.body)
        for name in ("accept", "accept-encoding", "user-agent"):
            if name in built.headers:
                del built.headers[name]  # only what the generated request says
        built.headers["Host"] = self.host  # one Host for both sides: absolute links are built from it
        for name, value in self.headers(request):
            built.headers[name] = value
        if request.body is None:
            built.headers.pop("content-length", None)
        started = time.monotonic()
        try:
            response = client.send(built)
            answer = Response(response.status_code, list(response.headers.multi_items()), response.content)
        except httpx.HTTPError as exc:
            answer = Response(0, [("content-type", "text/plain")], f"{type(exc).__name__}: {exc}".encode())
        return Answer(answer, time.monotonic() - started)

    def pair(self, request: ContractRequest) -> tuple[Answer, Answer]:
        """The answers of both sides to ``request``, sent at the same time (over the same data)."""
        self.sent += 1
        monolith = self.pool.submit(self.send, "monolith", request)
        service = self.pool.submit(self.send, "service", request)
        return monolith.result(), service.result()

    def get_json(self, path: str, identity: str = "staff") -> Any:
        answer = self.send("monolith", ContractRequest("GET", path, identity=identity,
                                                       headers=(("Accept", "application/json"),)))
        if answer.status != 200:
            raise ContractError(f"GET {path} on the monolith answered {answer.status}: "
                                f"{answer.response.body[:300].decode(errors='replace')}")
        try:
            return orjson.loads(answer.response.body)
        except orjson.JSONDecodeError as exc:
            raise ContractError(f"GET {path} on the monolith did not answer JSON: {exc}") from None

    def schema(self) -> Any:
        """The monolith's OpenAPI schema, asked of this run's monolith directly (it may not be routed)."""
        url = self.urls["monolith"] + self.gate.openapi
        try:
            response = httpx.get(url, timeout=60, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ContractError(f"the monolith's schema at {self.gate.openapi}: {exc}") from None
        if response.status_code != 200:
            raise ContractError(f"the monolith's schema at {self.gate.openapi} answered {response.status_code} "
                                "(set the contract step's openapi to where its OpenAPI document is)")
        try:
            return response.json()
        except ValueError:
            raise ContractError(f"the monolith's schema at {self.gate.openapi} is not JSON "
                                "(ask for ?format=json)") from None
