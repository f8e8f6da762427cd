"""What every service repeats comes from one template (DESIGN.md: services share no code): each service's own
copies of the template's modules are the template's, byte for byte (apart from the generated header line the
scaffold puts on them, which a copy made before the scaffold does not have; a ``.tmpl`` file rendered with the
service's values). A fix made in one copy only fails here until it is made in the template (and so reaches every
service scaffolded after)."""

from __future__ import annotations

from pathlib import Path

import pytest

from strangler.scaffold import TEMPLATE, render, template_values
from strangler.scaffold.plan import Service

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("catalog", "cart", "orders", "shipping", "accounts")
# Each one's `serve --port` default.
PORTS = {"catalog": 8101, "cart": 8102, "orders": 8103, "shipping": 8104, "accounts": 8105}

# The modules each service holds as the template renders them; what a service does not hold as the template's
# (and why) is in the README's scaffold paragraph.
HELD: dict[str, tuple[str, ...]] = {
    "exceptions.py": SERVICES,
    "responses.py": SERVICES,
    "negotiation.py": SERVICES,
    "parsers.py": SERVICES,
    "multipart.py": SERVICES,
    "multipart_stream.py": SERVICES,
    "gate.py": SERVICES,
    "logs.py": SERVICES,
    "context.py": SERVICES,   # the cart subclasses it (cookies.py: the session and CSRF cookies' answers)
    "settings.py": SERVICES,  # the cart's own variables (what it calls, the session cookie) are in upstreams.py
    "notfound.py": SERVICES,
    "health.py": SERVICES,
    "routing.py": SERVICES,   # {id:NAME_id} and the /healthz route every URL table holds
    "views.py": SERVICES,     # what every resources.py builds on: answers, Allow, Vary, negotiation, authentication
    "identity.py": SERVICES,
    "callers.py": SERVICES,
    "csrf.py": SERVICES,      # DRF's CSRF check of a session caller's write (resources.py calls enforce_for)
    "db.py": SERVICES,
    "base.py": SERVICES,      # what models.py derives from: the declarative base and its naming, ID, TIMESTAMP
    "migrate.py": SERVICES,
    "fields.py": SERVICES,
    "pagination.py": ("catalog", "orders", "shipping", "accounts"),   # the cart has no list
    "outbound.py": SERVICES,
    "commands.py": SERVICES,  # serve, migrate, check
    # The cart has no events: no relay command, its __main__ runs the commands alone.
    "__main__.py": ("catalog", "orders", "shipping", "accounts"),
    "migrations/env.py": SERVICES,
}


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.py"))}


def _source(module: str) -> Path:
    plain = TEMPLATE / module
    return plain if plain.exists() else TEMPLATE / f"{module}.tmpl"


def _as_generated(service: str, module: str) -> str:
    values = template_values(Service(name=service, app=service, package=f"extracted.{service}",
                                     directory=f"extracted/{service}", port=PORTS[service]))
    text = render(_source(module), values)
    header, _, rest = text.partition("\n")
    assert header == values["generated"], f"{module}: the template's first line is the generated header"
    return rest


@pytest.mark.parametrize(("module", "service"), [(m, s) for m, services in HELD.items() for s in services])
def test_a_services_copy_of_a_template_module_is_the_templates(module: str, service: str) -> None:
    ours = _without_header((ROOT / "extracted" / service / module).read_bytes()).decode("utf-8")
    assert ours == _as_generated(service, module), (
        f"extracted/{service}/{module} differs from what strangler/scaffold/template/ renders for it")


def test_every_template_module_of_the_service_package_is_held_or_generated_only() -> None:
    """A module added to the template is held equal here, or said to be the skeleton's only."""
    # app.py routes each service's own endpoints; resources.py is where a service's views start (the catalog,
    # the cart and orders each have their own permissions, sessions, OPTIONS metadata: see the README).
    skeleton_only = {"__init__.py", "app.py", "resources.py"}
    modules = {p.name.removesuffix(".tmpl") for p in TEMPLATE.iterdir() if p.is_file() and p.suffix in (".py", ".tmpl")}
    assert modules - skeleton_only == {module for module in HELD if "/" not in module}


@pytest.mark.parametrize(("package", "service"), [("events", "catalog"), ("events", "orders"),
                                                          ("events", "shipping"), ("events", "accounts")])
def test_a_services_copy_of_a_template_package_is_the_templates(package: str, service: str) -> None:
    """Byte for byte, apart from the generated header a scaffolded copy starts with (the catalog's has none)."""
    ours = {name: _without_header(text) for name, text in _files(ROOT / "extracted" / service / package).items()}
    template = _files(TEMPLATE / package)
    assert sorted(ours) == sorted(template), "the same modules in both"
    different = [name for name in template if ours[name] != template[name]]
    assert not different, f"extracted/{service}/{package}/ differs from the template in {different}"


def _without_header(text: bytes) -> bytes:
    first, _, rest = text.partition(b"\n")
    return rest if first.startswith(b"# Generated by `strangler scaffold ") else text


def test_the_monoliths_bus_clients_are_the_templates() -> None:
    """The monolith publishes with its own copy of the bus clients (it shares no code with the services and
    knows nothing of the toolkit): the same modules, byte for byte."""
    ours = _files(ROOT / "legacy_monolith" / "events" / "transports")
    del ours["__init__.py"]
    template = _files(TEMPLATE / "events")
    different = [name for name in ours if ours[name] != template.get(name)]
    assert sorted(ours) == ["bus.py", "crashpoints.py", "embedded.py", "exceptions.py", "jetstream.py",
                            "transport.py"]
    assert not different, f"legacy_monolith/events/transports/ differs from the template in {different}"
