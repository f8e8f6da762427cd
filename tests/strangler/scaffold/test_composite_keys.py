"""``strangler scaffold`` and ``strangler inventory`` on a model whose primary key is Django 5.2's
``models.CompositePrimaryKey``: the service's table gets a primary key of the same columns, the plan a
``key: [..]``, and the scaffolded plan splits the app equal. (Skipped before Django 5.2, which has no composite
primary keys; the scaffold itself still runs there, see tests/toolkit.)"""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import django
import pytest
import sqlalchemy as sa
import yaml
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from django.db import connection, models
from django.test.utils import isolate_apps

from strangler import datasplit as ds
from strangler.datasplit.engines import open_engine
from strangler.datasplit.plan import load_plan
from strangler.inventory.apps import AppIndex, project_apps
from strangler.inventory.tables import tables as inventory_tables
from strangler.scaffold import scaffold
from tests.strangler.datasplit.conftest import drop, fresh_url, require

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(django.VERSION < (5, 2), reason="models.CompositePrimaryKey came with Django 5.2")]


@pytest.fixture
def ledger_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """The orders app as a registry of its own holding two models: a ledger (a text primary key) and its lines,
    keyed by (ledger, line_no); the scaffold and the inventory look at that registry."""
    with isolate_apps("legacy_monolith.orders") as registry:
        class Ledger(models.Model):
            __module__ = "legacy_monolith.orders.models"   # the app's own models, as the inventory tells them
            code = models.CharField(max_length=10, primary_key=True)
            title = models.CharField(max_length=40)

            class Meta:
                app_label = "orders"
                db_table = "orders_test_ledger"

            def __str__(self) -> str:
                return str(self.code)

        class LedgerLine(models.Model):
            __module__ = "legacy_monolith.orders.models"
            pk = models.CompositePrimaryKey("ledger", "line_no")
            ledger = models.ForeignKey(Ledger, on_delete=models.CASCADE)
            line_no = models.PositiveIntegerField()
            amount = models.DecimalField(max_digits=10, decimal_places=2)

            class Meta:
                app_label = "orders"
                db_table = "orders_test_ledger_line"

            def __str__(self) -> str:
                return f"{self.ledger_id}/{self.line_no}"

        monkeypatch.setattr("strangler.scaffold.apps", registry)
        # The module (strangler.inventory.tables is also the name of the package's function).
        monkeypatch.setattr(importlib.import_module("strangler.inventory.tables"), "apps", registry)
        yield Ledger, LedgerLine


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    out = f"gen_{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path, out
    for name in [m for m in sys.modules if m == out or m.startswith(out + ".")]:
        del sys.modules[name]


def test_the_inventory_names_every_column_of_a_composite_key(ledger_app: tuple[Any, Any]) -> None:
    found = {t.model: t.key for t in inventory_tables(AppIndex(project_apps()))}
    assert found["Ledger"] == ("code",)
    assert found["LedgerLine"] == ("ledger_id", "line_no")


def test_a_composite_primary_key_scaffolds_a_composite_table_and_plan_that_split_equal(
        transactional_db: None, ledger_app: tuple[Any, Any], generated: tuple[Path, str], tmp_path: Path) -> None:
    ledger, line = ledger_app
    root, out = generated
    report = scaffold("orders", name="ledgers", out=out, root=root, port=8190)
    assert report.tables == ["ledgers", "ledger_lines"]
    revision = (root / out / "ledgers" / "migrations" / "versions" / "0001_initial.py").read_text()
    assert 'sa.PrimaryKeyConstraint("ledger_id", "line_no", name="pk_ledger_lines")' in revision
    assert 'sa.PrimaryKeyConstraint("code", name="pk_ledgers")' in revision

    plan_path = root / "migration_plans" / "ledgers.yaml"
    text = plan_path.read_text()
    doc = yaml.safe_load(text)
    assert [t["key"] for t in doc["tables"]] == ["code", ["ledger_id", "line_no"]]
    assert "key: code\n" in text   # a one-column key is written as it always was
    doc["service"]["migrations"] = str(root / out / "ledgers" / "migrations")
    doc["service"]["database_url_env"] = f"STRANGLER_TEST_UNSET_{uuid.uuid4().hex[:8].upper()}"
    doc["service"]["default_database_url"] = f"sqlite:///{tmp_path / 'ledgers.sqlite3'}"
    plan_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert [t.keys for t in load_plan(plan_path).tables] == [("code",), ("ledger_id", "line_no")]

    with connection.schema_editor() as editor:
        editor.create_model(ledger)
        editor.create_model(line)
    split = ds.open_split(plan_path)
    try:
        for code in ("A", "B", "C"):
            owner = ledger.objects.create(code=code, title=f"ledger {code}")
            for n in range(1, 8):
                line.objects.create(ledger=owner, line_no=n, amount=Decimal(f"{n}.{n}0"))
        ds.provision(split)
        service = sa.create_engine(f"sqlite:///{tmp_path / 'ledgers.sqlite3'}")
        try:
            assert sa.inspect(service).get_pk_constraint("ledger_lines")["constrained_columns"] == [
                "ledger_id", "line_no"]
            models_module = __import__(f"{out}.ledgers.models", fromlist=["Base"])
            with service.connect() as conn:
                differences = compare_metadata(MigrationContext.configure(conn), models_module.Base.metadata)
            lines_table = models_module.Base.metadata.tables["ledger_lines"]
            assert [c.name for c in lines_table.primary_key.columns] == ["ledger_id", "line_no"]
            # The ledger tables' (the template's own tables are test_scaffold.py's to hold to their models).
            assert [d for d in differences if "ledger" in str(d) and "alembic_version" not in str(d)] == []
        finally:
            service.dispose()
        ds.capture(split)
        copied = ds.copy(split, batch_size=4)
        assert [(t.target, t.rows) for t in copied.tables] == [("ledgers", 3), ("ledger_lines", 21)]
        line.objects.filter(ledger_id="B", line_no=3).update(line_no=30)
        line.objects.filter(ledger_id="C", line_no=1).delete()
        line.objects.create(ledger_id="A", line_no=8, amount=Decimal("0.01"))
        result = ds.sync(split)
        assert (result.upserted, result.deleted) == (2, 2)
        assert ds.verify(split, chunk_size=5).ok
    finally:
        ds.uncapture(split, drop_changelog=True)
        split.close()
        with connection.schema_editor() as editor:
            editor.delete_model(line)
            editor.delete_model(ledger)


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_the_scaffolded_revision_makes_the_composite_key_on_a_real_server(
        kind: str, ledger_app: tuple[Any, Any], generated: tuple[Path, str], tmp_path: Path) -> None:
    """The generated revision on PostgreSQL and MariaDB too (skipped where no server answers)."""
    require(kind)
    root, out = generated
    scaffold("orders", name="ledgers", out=out, root=root, port=8190)
    url = fresh_url(kind, tmp_path, "ledgers")
    engine = open_engine(url, "test")
    engine.create()
    engine.dispose()
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(root / out / "ledgers" / "migrations"))
        cfg.set_main_option("sqlalchemy.url", url)
        command.upgrade(cfg, "head")
        server = sa.create_engine(url.replace("mysql://", "mysql+pymysql://").replace(
            "postgresql://", "postgresql+psycopg://"))
        try:
            assert sa.inspect(server).get_pk_constraint("ledger_lines")["constrained_columns"] == [
                "ledger_id", "line_no"]
        finally:
            server.dispose()
    finally:
        drop(url)
