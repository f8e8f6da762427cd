"""The orders plan (``migration_plans/orders.yaml``, as committed): its schema passes ``plan check --offline``, and its
data steps (provision, capture, copy, sync, verify) run by the executor leave the service's database equal to the
monolith's tables, including changes made after the copy (an order cancelled, a shipment moved, an order
deleted) and the shipment snapshot (``shipping_shipment`` -> ``order_shipments``)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from django.core.management import call_command

from legacy_monolith.orders import services as order_services
from legacy_monolith.orders.models import Order
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment
from strangler import datasplit as ds

ROOT = Path(__file__).resolve().parents[3]
PLAN = ROOT / "migration_plans" / "orders.yaml"


def _strangler(*args: str) -> dict[str, object]:
    out = StringIO()
    call_command("strangler", *args, "--json", stdout=out)
    data: dict[str, object] = json.loads(out.getvalue())
    return data


def test_the_plan_passes_its_schema_and_names_its_routes() -> None:
    checked = _strangler("plan", "check", str(PLAN), "--offline")
    assert checked["ok"] is True, checked


@pytest.mark.slow
def test_the_data_steps_run_equal_on_sqlite(transactional_db: None, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    call_command("seed_shop", "--products", "30", "--users", "3", "--orders", "12", "-v", "0")
    service_url = f"sqlite:///{tmp_path / 'orders-service.sqlite3'}"
    monkeypatch.setenv("ORDERS_DATABASE_URL", service_url)
    monkeypatch.setenv("STRANGLER_STATE_DB", str(tmp_path / "state.sqlite3"))
    ran = _strangler("run", str(PLAN), "--to", "verify", "--yes")
    assert (ran["ok"], ran["at"]) == (True, "verify"), ran
    assert [step["step"] for step in ran["steps"]] == ["provision", "capture", "copy", "sync", "verify"]
    # After the copy: an order cancelled (its status and its shipment's), a shipment moved on, an order deleted
    # (its lines and its shipment with it).
    placed = Order.objects.filter(status=Order.Status.PLACED).order_by("id").first()
    assert placed is not None
    order_services.cancel(placed.pk)
    packed = Shipment.objects.filter(status=Shipment.Status.PENDING).exclude(order=placed).order_by("id").first()
    assert packed is not None
    shipping_services.shipment_set_status(packed.pk, status=Shipment.Status.PACKED)
    gone = Order.objects.order_by("-id").first()
    assert gone is not None
    gone.delete()
    split = ds.open_split(PLAN)
    try:
        synced = ds.sync(split)
        assert synced.upserted > 0 and synced.deleted > 0
        verified = ds.verify(split)
        assert verified.ok, verified
        assert {t.target: t.source_rows for t in verified.tables} == {
            "orders": 11, "order_lines": verified.tables[1].source_rows, "order_shipments": 11}
    finally:
        ds.uncapture(split, drop_changelog=True)
        split.close()
    engine = sa.create_engine(service_url)
    try:
        with engine.connect() as conn:
            statuses = dict(conn.execute(sa.text("SELECT order_id, status FROM order_shipments")).all())
            order_status = conn.execute(sa.text("SELECT status FROM orders WHERE id = :id"), {"id": placed.pk}).scalar()
    finally:
        engine.dispose()
    assert (order_status, statuses[placed.pk], statuses[packed.order_id]) == ("cancelled", "cancelled", "packed")
    assert gone.pk not in statuses
