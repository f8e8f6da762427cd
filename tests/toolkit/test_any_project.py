"""The toolkit as another project gets it: the wheel built from this repository, installed with its ``split``
extra into a fresh virtual environment with Django 4.2 (the oldest Django it supports), added to a Django
project that is not the shop (tests/toolkit/minimal_project.py: a lending library, two apps, a foreign key
and a signal across them). ``inventory`` flags both and proposes the order, ``scaffold`` writes the first
extraction, and the scaffolded plan's data steps run on SQLite, equal.

The new environment sees this one's packages through a ``.pth`` file (so the wheel's dependencies resolve
without a download), behind its own Django 4.2; the shop's packages are not there, and neither is this
repository: ``strangler`` comes from the wheel alone."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.toolkit.minimal_project import write_project

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


OLDEST_DJANGO = "Django>=4.2,<4.3"
# The environment borrows this one's packages, so what the wheel's other extras (and the shop) would bring is
# importable there: every command runs with those imports refused, as on a machine with [split] only.
NOT_INSTALLED = ("mitmproxy", "hypothesis", "psycopg", "pymysql", "uvicorn", "aiohttp", "httptools", "uvloop",
                 "prometheus_client", "jwt", "rest_framework", "drf_spectacular", "django_filters", "legacy_monolith",
                 "extracted")
MANAGE = f"""
import runpy, sys
from importlib.abc import MetaPathFinder
class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {NOT_INSTALLED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not installed with [split])", name=name)
sys.meta_path.insert(0, NotInstalled())
sys.path.insert(0, "")
sys.argv = ["manage.py", *sys.argv[1:]]
runpy.run_path("manage.py", run_name="__main__")
"""
WHEEL_SOURCES = ("pyproject.toml", "README.md", "strangler", "router")


def _run(*argv: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=600)  # noqa: S603
    assert done.returncode == 0, f"{' '.join(map(str, argv))}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def toolkit_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the built wheel installed (``[split]``) and Django 4.2."""
    base = tmp_path_factory.mktemp("toolkit")
    source = base / "source"   # a copy: the build writes build/ and *.egg-info next to the sources
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", base / "dist",
         source)
    wheels = list((base / "dist").glob("strangler_toolkit-*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert not [n for n in names if n.split("/")[0] in ("legacy_monolith", "extracted", "tests", "scripts")], names
    assert "strangler/scaffold/template/migrations/env.py.tmpl" in names
    assert "strangler/scaffold/template/identity.py" in names
    assert "strangler/scaffold/template/events/relay.py" in names
    assert "strangler/scaffold/template/migrations/versions/0002_events.py.tmpl" in names
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    ours = Path(_run(sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "borrowed.pth").write_text(f"{ours}\n")   # pip runs from here too; new installs land in `site`
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", OLDEST_DJANGO)
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", f"{wheels[0]}[split]")
    version = _run(python, "-c", "import django, strangler; print(django.get_version(), strangler.__file__)",
                   cwd=base)
    assert version.startswith("4.2.") and str(site) in version, version
    return python


class Project:
    def __init__(self, root: Path, python: Path) -> None:
        self.root, self.python = root, python
        self.env = {**os.environ, "LIBRARY_DB": str(root / "library.sqlite3")}
        for name in ("DJANGO_SETTINGS_MODULE", "MONOLITH_DATABASE_URL", "PYTHONPATH"):
            self.env.pop(name, None)

    def manage(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(self.python), "-c", MANAGE, *args], cwd=self.root, env=self.env,  # noqa: S603
                              capture_output=True, text=True, timeout=300)
        if ok:
            assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.manage(*args, "--json").stdout)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, toolkit_python: Path) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("library")
    write_project(root)
    project = Project(root, toolkit_python)
    project.manage("makemigrations", "shelf", "loans")
    project.manage("migrate", "-v", "0")
    project.manage("shell", "-c", "exec(open('seed.py').read())")
    yield project


def test_inventory_flags_the_foreign_key_and_the_signal_and_proposes_the_order(library: Project) -> None:
    report = library.json("strangler", "inventory")
    assert report["order"] == ["shelf", "loans"]
    crossing = [(r["app"], r["model"], r["field"], r["to_app"], r["on_delete"]) for r in report["relations"]
                if r["crosses"]]
    assert ("loans", "Loan", "book", "shelf", "PROTECT") in crossing
    signals = [(s["signal"], s["sender_app"], s["receiver_app"]) for s in report["signals"] if s["crosses"]]
    assert ("post_save", "shelf", "loans") in signals
    shelf = next(a for a in report["apps"] if a["app"] == "shelf")
    assert any(b.startswith("inbound foreign-key loans.Loan.book -> shelf.Book (PROTECT)") for b in shelf["blockers"])
    assert any(b.startswith("signal post_save (shelf) -> loans.receivers.book_saved") for b in shelf["blockers"])
    routes = {e["route"]: e for e in report["endpoints"]}
    assert routes["shelf/books/"]["app"] == "shelf"


def test_scaffold_writes_an_extraction_whose_data_steps_run_equal(library: Project) -> None:
    scaffolded = library.json("strangler", "scaffold", "shelf", "--out", "services", "--port", "8150")
    assert scaffolded["tables"] == ["books"]
    assert "services/shelf/migrations/versions/0001_initial.py" in scaffolded["files"]
    assert "services/shelf/identity.py" in scaffolded["files"]
    plan = "migration_plans/shelf.yaml"
    for op in ("provision", "capture", "copy", "sync", "verify"):
        result = library.json("strangler", "split", op, plan, "--quiet")
        if op == "copy":
            assert [(t["target"], t["rows"]) for t in result["tables"]] == [("books", 30)]
        if op == "verify":
            assert result["ok"], result
    with sqlite3.connect(library.root / "var" / "shelf.sqlite3") as conn:
        first = conn.execute("SELECT isbn, title, CAST(price AS TEXT), copies FROM books ORDER BY id").fetchone()
    assert first == ("9780000000001", "Book 1 – ünïcode", "1.25", 1)
    # The service's events (the template's events/ and revision 0002, provisioned above): an event written in
    # a transaction of the service reaches the embedded bus through the service's own relay.
    write = ("from services.shelf.db import make_engine; from services.shelf.events.outbox import record; "
             "from services.shelf.models import outbox\nwith make_engine().begin() as conn:\n"
             "    record(conn, outbox, 'shelf.book.lent', {'book': 1}, source='shelf')")
    env = {k: v for k, v in library.env.items() if k != "EVENTS_URL"}
    subprocess.run([str(library.python), "-c", write], cwd=library.root, env=env, check=True, timeout=60)  # noqa: S603
    relay = subprocess.run([str(library.python), "-m", "services.shelf", "relay", "--once"], cwd=library.root,  # noqa: S603
                           env=env, capture_output=True, text=True, timeout=60)
    assert relay.returncode == 0 and "1 published, 0 the bus had already" in relay.stderr, relay.stderr
    with sqlite3.connect(library.root / "var" / "events.sqlite3") as conn:
        assert conn.execute("SELECT subject FROM bus_messages").fetchall() == [("shelf.book.lent",)]
