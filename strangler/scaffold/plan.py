"""The scaffolded extraction's plan file and its routes: the data split of every table of the app (plain ids
named), the service, the router's backend and one read and one write route per URL prefix the app serves,
every one of them moved by the plan (``endpoints.reads`` and ``endpoints.writes`` list them all)."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from strangler.inventory.model import WRITE_METHODS, Endpoint
from strangler.scaffold.schema import TableSpec

READ_METHODS = ["GET", "HEAD", "OPTIONS"]


@dataclass(frozen=True)
class Service:
    name: str          # "cart"
    app: str           # the Django app's label
    package: str       # "extracted.cart"
    directory: str     # "extracted/cart" (relative to the project's root)
    port: int

    @property
    def env(self) -> str:
        return f"{self.name.upper()}_DATABASE_URL"


def prefixes(endpoints: list[Endpoint]) -> list[str]:
    """The URL prefixes the app's patterns live under: their first two literal segments (``/api/cart/``),
    or the first (``/cart/``); a pattern at the root is its own prefix."""
    found: list[str] = []
    for e in endpoints:
        if not e.route.split("/")[0]:
            continue   # the site's root: a route of its own would take every path (see root_patterns)
        parts = []
        for part in e.route.split("/"):
            if not part or any(ch in part for ch in "<(?[^$\\"):
                break
            parts.append(part)
            if len(parts) == 2 or parts[0] != "api":
                break
        prefix = "/" + "".join(p + "/" for p in parts) if parts else "/" + e.route.split("/")[0]
        if prefix not in found and not any(prefix.startswith(f) for f in found):
            found = [f for f in found if not f.startswith(prefix)] + [prefix]
    return sorted(found)


def root_patterns(endpoints: list[Endpoint]) -> list[str]:
    return [f"/{e.route}" for e in endpoints if not e.route.split("/")[0]]


def routes(service: Service, endpoints: list[Endpoint]) -> dict[str, object]:
    """Routes to merge into the router's routes file: they start on the monolith; the plan moves them."""
    out: dict[str, object] = {}
    writes = any(e.writes for e in endpoints)
    for prefix in prefixes(endpoints):
        slug = prefix.strip("/").replace("/", "-") or "root"
        out[f"{slug}-reads"] = {"path": prefix, "methods": READ_METHODS, "backend": "monolith"}
        if writes:
            out[f"{slug}-writes"] = {"path": prefix, "methods": sorted(WRITE_METHODS), "backend": "monolith"}
    return {"backends": {service.name: {"targets": [f"http://127.0.0.1:{service.port}"],
                                        "health": {"path": "/healthz", "interval": 2},
                                        "timeouts": {"connect": 1, "read": 10}}},
            "routes": out}


def _one_or_all(names: list[str]) -> str | list[str] | None:
    """A route's name when there is one (what a hand-written plan says), the list of them when there are
    several (one per URL prefix of the app), None when there is none (the plan check says what is missing)."""
    return names[0] if len(names) == 1 else (names or None)


def plan_text(service: Service, tables: list[TableSpec], route_names: list[str]) -> str:
    doc = {
        "name": service.name,
        "service": {"name": service.name, "database_url_env": service.env,
                    "default_database_url": f"sqlite:///var/{service.name}.sqlite3",
                    "migrations": f"{service.directory}/migrations", "version_table": f"alembic_version_{service.name}",
                    "start": ["{python}", "-m", service.package, "--port", str(service.port)],
                    "url": f"http://127.0.0.1:{service.port}", "health": "/healthz"},
        "source": {"database": "default"},
        "tables": [{"source": t.source, "target": t.name, "key": t.key[0] if len(t.key) == 1 else list(t.key),
                    "columns": {c.name: c.name for c in t.columns},
                    **({"plain_ids": [col for col, _ in t.plain_ids]} if t.plain_ids else {})} for t in tables],
        "router": {"admin_url": "http://127.0.0.1:8081", "token_env": "ROUTER_ADMIN_TOKEN",
                   "monolith_backend": "monolith", "service_backend": service.name},
        "endpoints": {"reads": _one_or_all([r for r in route_names if r.endswith("-reads")]),
                      "writes": _one_or_all([r for r in route_names if r.endswith("-writes")])},
        "steps": ["provision", "capture", "copy", "sync", "verify",
                  {"shadow": {"min_requests": 30, "max_mismatch_rate": 0.05, "timeout": 180}},
                  {"canary": {"percent": 10, "min_requests": 20, "max_error_rate": 0.01, "timeout": 180}},
                  {"cutover": {"freeze_seconds": 5, "lease_seconds": 3}}, "decommission"],
    }
    writes = any(r.endswith("-writes") for r in route_names)
    if not writes:   # a cutover switches the writes: with none routed, the plan stops at the canary
        doc["steps"] = doc["steps"][:-2]  # type: ignore[index]
    notes = [f"# Generated by `strangler scaffold {service.app}`: the extraction of the {service.app} app into the "
             f"{service.name} service.",
             "# Validate with: python manage.py strangler plan check THIS_FILE --offline; the data steps run with",
             "#   python manage.py strangler run THIS_FILE --to verify; shadow and canary pass once the service",
             "#   answers the app's endpoints as the monolith does.",
             *[f"# plain id (no constraint in the service): {t.name}.{col} -> {target}"
               for t in tables for col, target in t.plain_ids]]
    if not writes:
        notes += [f"# No URL pattern of {service.app} writes: the monolith keeps writing these tables (signals, admin,",
                  "#   other apps), so there is no cutover step; add the routes that write them to endpoints.writes",
                  "#   and a cutover step when the service is to own them."]
    return "\n".join(notes) + "\n" + dump(doc)


class _NoAliases(yaml.SafeDumper):
    """Writes a list used twice (the read methods of every reads route) out each time: no &id001 / *id001."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def dump(doc: object) -> str:
    return yaml.dump(doc, Dumper=_NoAliases, sort_keys=False, width=110, allow_unicode=True)
