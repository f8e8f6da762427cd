"""The shipping plan (``migration_plans/shipping.yaml``, as committed): its schema passes ``plan check --offline``
and it requires the orders' plan; its data steps (provision, capture, copy, sync, verify) run by the executor
leave the service's database equal to the monolith's tables, including changes made after the copy (a shipment
moved with its history, a shipment made by the saga's internal API for an order the monolith has no row of yet);
and the monolith's expand step (migration shipping 0003) gives the shipments made before it their customers."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from legacy_monolith.orders.models import Order
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment
from strangler import datasplit as ds

ROOT = Path(__file__).resolve().parents[3]
PLAN = ROOT / "migration_plans" / "shipping.yaml"


def _strangler(*args: str) -> dict[str, object]:
    out = StringIO()
    call_command("strangler", *args, "--json", stdout=out)
    data: dict[str, object] = json.loads(out.getvalue())
    return data


def test_the_plan_passes_its_schema_and_requires_the_orders() -> None:
    checked = _strangler("plan", "check", str(PLAN), "--offline")
    assert checked["ok"] is True, checked
    assert "requires: [orders]" in PLAN.read_text()


@pytest.mark.slow
def test_the_data_steps_run_equal_on_sqlite(transactional_db: None, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    call_command("seed_shop", "--products", "30", "--users", "3", "--orders", "12", "-v", "0")
    service_url = f"sqlite:///{tmp_path / 'shipping-service.sqlite3'}"
    monkeypatch.setenv("SHIPPING_DATABASE_URL", service_url)
    monkeypatch.setenv("STRANGLER_STATE_DB", str(tmp_path / "state.sqlite3"))
    ran = _strangler("run", str(PLAN), "--to", "verify", "--yes")
    assert (ran["ok"], ran["at"]) == (True, "verify"), ran
    assert [step["step"] for step in ran["steps"]] == ["provision", "capture", "copy", "sync", "verify"]
    pending = Shipment.objects.filter(status=Shipment.Status.PENDING).order_by("id").first()
    assert pending is not None
    shipping_services.shipment_set_status(pending.pk, status=Shipment.Status.PACKED, note="after the copy")
    made = shipping_services.shipment_create_for(987654, 2, carrier="ups")  # the saga's, its order not here yet
    split = ds.open_split(PLAN)
    try:
        synced = ds.sync(split)
        assert synced.upserted >= 4  # the moved shipment, its history row, the new shipment and its first row
        verified = ds.verify(split)
        assert verified.ok, verified
        assert {t.target: t.source_rows for t in verified.tables} == {
            "shipments": 13, "shipment_events": verified.tables[1].source_rows}
    finally:
        ds.uncapture(split, drop_changelog=True)
        split.close()
    engine = sa.create_engine(service_url)
    try:
        with engine.connect() as conn:
            rows = {r[0]: r[1:] for r in conn.execute(sa.text("SELECT id, order_id, user_id, status FROM shipments"))}
            notes = [r[0] for r in conn.execute(sa.text(
                "SELECT note FROM shipment_events WHERE shipment_id = :id ORDER BY id"), {"id": pending.pk})]
    finally:
        engine.dispose()
    assert rows[made.pk] == (987654, 2, "pending")
    assert rows[pending.pk][1:] == (Order.objects.get(pk=pending.order_id).user_id, "packed")
    assert notes[-1] == "after the copy"


@pytest.mark.slow
def test_the_expand_migration_gives_older_shipments_their_customers(transactional_db: None) -> None:
    """Shipments made before ``Shipment.user`` existed take their order's user; a shipment whose order is not in
    this database (the orders service's, not synced back yet) keeps none."""
    executor = MigrationExecutor(connection)
    executor.migrate([("shipping", "0002_shipment_order_plain_id")])
    apps = executor.loader.project_state([("shipping", "0002_shipment_order_plain_id")]).apps
    user = apps.get_model("auth", "User").objects.create(username="older", email="older@example.com")
    order = apps.get_model("orders", "Order").objects.create(user_id=user.pk, total="1.00")
    old_shipment = apps.get_model("shipping", "Shipment")
    known = old_shipment.objects.create(order_id=order.pk)
    orphan = old_shipment.objects.create(order_id=order.pk + 1000)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Shipment.objects.get(pk=known.pk).user_id == user.pk
    assert Shipment.objects.get(pk=orphan.pk).user_id is None
