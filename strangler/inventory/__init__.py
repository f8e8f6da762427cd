"""``strangler inventory``: reads the Django project it is installed in and proposes how to take it apart.

Every URL pattern with its view, methods and app; every model's table; every relation and signal that crosses
apps; the imports between apps (grimp); with a router access log, the traffic per endpoint. From those: what
each app depends on, what blocks moving it, the apps that can only move together and the order, least coupled
first (see ``coupling``). Reported as text, JSON or an HTML page with the coupling graph drawn (``render``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.urls import Resolver404, resolve

from strangler.inventory import coupling
from strangler.inventory.apps import AppIndex, project_apps
from strangler.inventory.exceptions import InventoryError, TrafficLogError
from strangler.inventory.imports import import_links
from strangler.inventory.model import AppReport, Inventory
from strangler.inventory.signals import signal_links
from strangler.inventory.tables import relations, tables
from strangler.inventory.traffic import requests_per_route
from strangler.inventory.urls import endpoints

__all__ = ["Inventory", "InventoryError", "TrafficLogError", "take"]


def take(labels: list[str] | None = None, *, traffic: Path | None = None) -> Inventory:
    started = time.monotonic()
    configs = project_apps(labels)
    index = AppIndex(configs)
    found_endpoints = endpoints(index)
    if traffic is not None:
        counts = requests_per_route(traffic)
        found_endpoints = [replace(e, requests=counts.get(e.route, 0)) for e in found_endpoints]
    found_tables, found_relations = tables(index), relations(index)
    found_signals, found_imports = signal_links(index), import_links(index)
    core = index.label_of(getattr(settings, "ROOT_URLCONF", None))
    identity = _identity_app(index)
    # An app that serves no URL has nothing the router could move (an outbox, an audit log, shared
    # helpers): it is not proposed; its tables go with the apps that use them, or stay.
    unrouted = sorted({c.label for c in configs} - {e.app for e in found_endpoints} - {core, identity})
    movable = {c.label for c in configs} - {core, identity} - set(unrouted)
    deps = coupling.dependencies(movable, found_relations)
    link_weights = coupling.weights(movable, found_relations, found_signals, found_imports)
    groups = coupling.order(deps, link_weights)
    order = [app for group in groups for app in group] + ([identity] if identity else [])
    apps = coupling.reports({c.label: c.name for c in configs}, movable, deps, link_weights)
    for report in apps.values():
        report.tables = [t.table for t in found_tables if t.app == report.app]
        mine = [e for e in found_endpoints if e.app == report.app]
        report.endpoints, report.write_endpoints = len(mine), sum(1 for e in mine if e.writes)
        report.blockers = coupling.blockers(report.app, found_relations, found_signals, found_imports, core)
    return Inventory(project=str(getattr(settings, "ROOT_URLCONF", "?")).split(".")[0],
                     apps=[apps[c.label] for c in configs], endpoints=found_endpoints, tables=found_tables,
                     relations=found_relations, signals=found_signals, imports=found_imports,
                     seams=[g for g in groups if len(g) > 1], order=order, identity_app=identity,
                     reasons=_reasons(groups, deps, apps, core, identity, unrouted),
                     seconds=round(time.monotonic() - started, 3))


def _identity_app(index: AppIndex) -> str | None:
    """The project app that serves LOGIN_URL, else the one that holds a project AUTH_USER_MODEL."""
    login = str(getattr(settings, "LOGIN_URL", "") or "")
    if login.startswith("/"):
        try:
            label = index.label_of(resolve(login)._func_path)
        except Resolver404:
            label = None
        if label is not None:
            return label
    model_app = str(getattr(settings, "AUTH_USER_MODEL", "auth.User")).split(".")[0]
    return model_app if model_app in index.labels else None


def _reasons(groups: list[list[str]], deps: dict[str, set[str]], apps: dict[str, AppReport],
             core: str | None, identity: str | None, unrouted: list[str]) -> list[str]:
    lines = []
    for n, group in enumerate(groups, 1):
        name = " + ".join(group)
        needs = sorted({d for app in group for d in deps[app]} - set(group))
        why = f"after {', '.join(needs)} (its tables reference theirs)" if needs else "references no other app's tables"
        together = " (their foreign keys form a circle: one seam)" if len(group) > 1 else ""
        weight = sum(apps[a].coupling for a in group)
        lines.append(f"{n}. {name}: {why}; coupling {weight}{together}")
    if identity:
        lines.append(f"{len(groups) + 1}. {identity}: last, it holds identity (LOGIN_URL / the user model): the "
                     f"router's identity bridge asks it who each caller is until it moves")
    for app in unrouted:
        lines.append(f"-  {app}: not proposed, it serves no URL (nothing the router could move); its tables go "
                     "with the apps that use them, or stay")
    if core:
        lines.append(f"-  {core}: stays, it holds the root URLconf and the code the apps share")
    return lines
