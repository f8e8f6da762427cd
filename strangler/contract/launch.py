"""How a contract check starts its processes: what each one runs, and the routes file each router reads.

- the monolith: gunicorn serving the project's own WSGI application (:func:`gunicorn_argv`), healthy when the
  routes file's health path for its backend (else the OpenAPI path) answers (:func:`monolith_health`);
- the service: the plan's own ``service.start`` with this run's free port put in (:func:`service_argv`);
- two routers, one routes file each (:func:`routes_for`): the plan's routes on the monolith (what clients get
  today) or on the service (what they get after the cutover), on this run's processes.

Pure functions of the plan, the routes file and this run's ports: :class:`~strangler.contract.environment.
Environment` starts and stops the processes.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from strangler.contract.exceptions import ContractError
from strangler.planfile.model import PlanFile

ROUTER_HEALTH = "/__router/health"
ADMIN_TOKEN_ENV = "STRANGLER_CONTRACT_ADMIN_TOKEN"  # noqa: S105 - the name of the variable, not a token


def gunicorn_argv(wsgi: str, port: int, workers: int) -> list[str]:
    """gunicorn serving ``wsgi`` (settings.WSGI_APPLICATION, ``module.attribute``) on ``port``."""
    if "." not in wsgi:
        raise ContractError("settings.WSGI_APPLICATION is not set: the contract check serves the monolith "
                            "with gunicorn from it")
    module, _, attribute = wsgi.rpartition(".")
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if gunicorn is None:
        raise ContractError("gunicorn is not installed: the contract check serves the monolith with it")
    return [gunicorn, f"{module}:{attribute}", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--graceful-timeout", "5"]


def monolith_health(raw: dict[str, Any], backend: str, openapi: str) -> str:
    """The path that says the monolith is up: its backend's health path in the routes file, else ``openapi``."""
    health = (raw.get("backends", {}).get(backend) or {}).get("health") or {}
    if isinstance(health, dict) and isinstance(health.get("path"), str):
        return str(health["path"])
    return openapi


def service_argv(plan: PlanFile, port: int) -> list[str]:
    """The plan's ``service.start`` ({python}: this interpreter) listening on ``port`` instead of its own."""
    start = plan.service.start
    if not start:
        raise ContractError(f"{plan.path}: service.start: required by the contract check (it starts its "
                            "own copy of the service)")
    planned = urlsplit(plan.service.url or "").port
    argv = [sys.executable if part == "{python}" else part for part in start]
    if any("{port}" in part for part in argv):
        return [part.replace("{port}", str(port)) for part in argv]
    if planned is not None and str(planned) in argv:
        return [str(port) if part == str(planned) else part for part in argv]
    if planned is not None and any(part.endswith(f"={planned}") for part in argv):
        return [part[: -len(str(planned))] + str(port) if part.endswith(f"={planned}") else part for part in argv]
    raise ContractError(f"{plan.path}: service.start: the contract check starts its own service on a free "
                        "port; put {port} where the port goes (or the port of service.url), got "
                        f"{' '.join(start)}")


def routes_for(raw: dict[str, Any], plan: PlanFile, moved: list[str], side: str, urls: dict[str, str],
               listen: int, admin: int) -> dict[str, Any]:
    """The routes file ``raw`` with the plan's ``moved`` routes on ``side``'s backend (nothing else routed),
    backends on this run's processes (``urls``), and the identity bridge asking this run's monolith."""
    assert plan.router is not None
    mono, svc = plan.router.monolith_backend, plan.router.service_backend
    backends: dict[str, Any] = {}
    for name, url in ((mono, urls["monolith"]), (svc, urls["service"])):
        original = dict((raw.get("backends") or {}).get(name) or {})
        original.pop("targets", None)
        original["health"] = {"interval": 0}  # one target each: nothing to balance away from
        backends[name] = {"targets": [url], **original}
    routes: dict[str, Any] = {}
    for name in moved:
        route = {k: v for k, v in (raw.get("routes") or {})[name].items()
                 if k in ("path", "match", "methods", "header")}
        route["backend"] = mono if side == "monolith" else svc
        routes[name] = route
    out: dict[str, Any] = {"version": 1, "listen": f"127.0.0.1:{listen}", "default": mono,
                           "backends": backends, "routes": routes,
                           "admin": {"listen": f"127.0.0.1:{admin}", "token_env": ADMIN_TOKEN_ENV}}
    if "max_body" in raw:
        out["max_body"] = raw["max_body"]
    identity = raw.get("identity")
    if isinstance(identity, dict):
        parts = urlsplit(str(identity.get("resolve_url", "")))
        target = urlsplit(urls["monolith"])
        out["identity"] = {**identity, "resolve_url": urlunsplit((target.scheme, target.netloc, parts.path,
                                                                  parts.query, ""))}
    return out
