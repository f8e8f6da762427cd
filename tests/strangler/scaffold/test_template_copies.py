"""What every service repeats comes from one template (DESIGN.md: services share no code): the catalog
service's own copies of the template's modules are the template's, byte for byte. A fix made in one copy
only fails here until it is made in the template (and so reaches every service scaffolded after)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "strangler" / "scaffold" / "template"
CATALOG = ROOT / "extracted" / "catalog"


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.py"))}


@pytest.mark.parametrize("package", ["events"])
def test_the_catalogs_copy_of_a_template_package_is_the_templates(package: str) -> None:
    ours, template = _files(CATALOG / package), _files(TEMPLATE / package)
    assert sorted(ours) == sorted(template), "the same modules in both"
    different = [name for name in template if ours[name] != template[name]]
    assert not different, f"extracted/catalog/{package}/ differs from the template in {different}"


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
