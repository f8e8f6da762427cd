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

What each process runs and the routers' routes files come from :mod:`strangler.contract.launch`; how a
request is sent and what comes back, from :mod:`strangler.contract.traffic`.
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
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import yaml

from router import config as router_config
from router.exceptions import ConfigError
from strangler import datasplit
from strangler.contract import identities, scratch
from strangler.contract.exceptions import ContractError
from strangler.contract.launch import (
    ADMIN_TOKEN_ENV,
    ROUTER_HEALTH,
    gunicorn_argv,
    monolith_health,
    routes_for,
    service_argv,
)
from strangler.contract.requests import ContractRequest
from strangler.contract.traffic import Answer, default_host, fetch_schema, json_of, send_request
from strangler.datasplit import ownership
from strangler.datasplit.provision import temporary_env
from strangler.planfile.model import ContractGate, PlanFile
from strangler.processes import ManagedProcess, ProcessFailed, free_port

ALIAS = "strangler_contract"
Say = Callable[[str], None]


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
        self.moved = list(dict.fromkeys((*plan.endpoints.reads, *plan.endpoints.writes)))
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
                # The callers once the guard is off (a plan owning the users, past its cutover, had them refused),
                # and before the copy: a service that owns the users and their credentials (an accounts
                # extraction) takes them with the rest, as its real copy holds the real users'. Made after the
                # copy, the user's token was the monolith's alone and the service refused it (401 against 200).
                self.credentials = identities.create(ALIAS)
                connections[ALIAS].close()
                datasplit.provision(split)
                datasplit.copy(split)
                report = datasplit.verify(split)
                if not report.ok:
                    raise ContractError("the service's scratch copy differs from the monolith's after the copy: "
                                        + ", ".join(t["target"] for t in report.to_dict()["tables"] if not t["ok"]))
            finally:
                split.close()
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
        env = {**os.environ, ADMIN_TOKEN_ENV: secrets.token_urlsafe(24)}
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
        argv = gunicorn_argv(str(getattr(settings, "WSGI_APPLICATION", "") or ""), port, self.workers)
        monolith_env = {**env, "DJANGO_SETTINGS_MODULE": "strangler.contract.scratch_settings",
                        "STRANGLER_CONTRACT_SETTINGS": str(settings.SETTINGS_MODULE),
                        "STRANGLER_CONTRACT_DATABASES": json.dumps({self.source_alias:
                                                                    {"NAME": self.monolith_db.django_name}})}
        health = monolith_health(self.routes.raw, self.monolith_backend, self.gate.openapi)
        self._start("monolith", argv, self.urls["monolith"] + health, monolith_env)
        # The service: the plan's own start command on a free port, its database variable on the copy.
        port = free_port()
        self.urls["service"] = f"http://127.0.0.1:{port}"
        service_env = {**env, **scratch_env(self.plan.service.scratch_env, self.workdir), **self.service_env}
        if self.plan.service.database_url_env:
            service_env[self.plan.service.database_url_env] = self.service_db.url
        if self.plan.service.monolith_url_env:  # what the service asks of the monolith, it asks of this copy
            service_env[self.plan.service.monolith_url_env] = self.urls["monolith"]
        self._start("service", service_argv(self.plan, port), self.urls["service"] + self.plan.service.health,
                    service_env)
        for side in ("monolith", "service"):
            path = self.workdir / f"routes-{side}.yaml"
            listen = free_port()
            routes = routes_for(self.routes.raw, self.plan, self.moved, side, self.urls, listen, free_port())
            path.write_text(yaml.safe_dump(routes, sort_keys=False))
            self.urls[f"router-{side}"] = f"http://127.0.0.1:{listen}"
            # One process each (no worker pool): the check sends one request pair at a time.
            self._start(f"router-{side}", [sys.executable, "-m", "router", "serve", "--config", str(path)],
                        self.urls[f"router-{side}"] + ROUTER_HEALTH, {**env, "ROUTER_WORKERS": "1"})
            self.clients[side] = httpx.Client(base_url=self.urls[f"router-{side}"], timeout=30)

    # -- traffic ----------------------------------------------------------------------------------------------

    def headers(self, request: ContractRequest) -> list[tuple[str, str]]:
        headers = list(request.headers)
        credential = self.credentials.header(request.identity) if self.credentials else None
        if credential is not None:
            headers.append(credential)
        return headers

    def send(self, side: str, request: ContractRequest) -> Answer:
        return send_request(self.clients[side], self.host, self.headers(request), request)

    def pair(self, request: ContractRequest) -> tuple[Answer, Answer]:
        """The answers of both sides to ``request``, sent at the same time (over the same data)."""
        self.sent += 1
        monolith = self.pool.submit(self.send, "monolith", request)
        service = self.pool.submit(self.send, "service", request)
        return monolith.result(), service.result()

    def get_json(self, path: str, identity: str = "staff") -> Any:
        return json_of(path, self.send("monolith", ContractRequest("GET", path, identity=identity,
                                                                   headers=(("Accept", "application/json"),))))

    def schema(self) -> Any:
        """The monolith's OpenAPI schema, asked of this run's monolith directly (it may not be routed)."""
        return fetch_schema(self.urls["monolith"], self.gate.openapi)


def scratch_env(variables: dict[str, str], workdir: Path) -> dict[str, str]:
    """The plan's ``service.scratch_env`` for the check's copy of the service, ``{workdir}`` filled in."""
    return {name: value.replace("{workdir}", str(workdir)) for name, value in variables.items()}
