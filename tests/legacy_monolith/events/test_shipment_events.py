"""The monolith's events (legacy_monolith/events/): shipping writes ``shipping.shipment.changed`` in the
transaction of every shipment it creates or moves (none for a refused move), ``publish_events`` publishes
them to the embedded bus once, and a service's inbox reads them: the envelope is the services' own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction

from extracted.catalog.events.bus import connect
from extracted.catalog.events.inbox import parse
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.events.models import OutboxEvent
from legacy_monolith.events.outbox import record
from legacy_monolith.exceptions import InvalidTransition
from legacy_monolith.orders import services as order_services
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment

pytestmark = pytest.mark.django_db(transaction=True)
SHIP_TO = {"full_name": "A", "line1": "B", "city": "C", "postal_code": "1", "country": "SE"}


@pytest.fixture
def bus_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    monkeypatch.setenv("EVENTS_URL", url)
    return url


def _place(user, make_product) -> Shipment:
    cart, _ = Cart.objects.get_or_create(user=user)
    CartItem.objects.create(cart=cart, product=make_product(stock=5), quantity=1)
    order = order_services.checkout(user=user, cart=cart, shipping=SHIP_TO, carrier="ups")
    return Shipment.objects.get(order=order)


def _events() -> list[dict]:
    return [json.loads(e.payload) for e in OutboxEvent.objects.order_by("id")]


def test_each_shipment_change_writes_its_event_and_a_refused_one_none(customer, make_product) -> None:
    shipment = _place(customer, make_product)
    shipping_services.shipment_set_status(shipment.pk, status="packed")
    with pytest.raises(InvalidTransition):
        shipping_services.shipment_set_status(shipment.pk, status="delivered")
    shipping_services.shipment_set_status(shipment.pk, status="shipped", tracking_number="TRK-1")
    events = _events()
    assert [e["subject"] for e in events] == ["shipping.shipment.changed"] * 3
    assert {e["source"] for e in events} == {"shipping"}
    data = [e["data"] for e in events]
    assert [(d["status"], d["tracking_number"]) for d in data] == [("pending", ""), ("packed", ""),
                                                                   ("shipped", "TRK-1")]
    assert {(d["shipment"], d["order"], d["carrier"]) for d in data} == {(shipment.pk, shipment.order_id, "ups")}
    assert data[0]["version"] < data[1]["version"] < data[2]["version"]


def test_a_checkout_that_rolls_back_leaves_no_event(customer, make_product) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        _place(customer, make_product)
        raise RuntimeError("the order failed after its shipment was made")
    assert _events() == []


def test_an_event_outside_a_transaction_is_refused() -> None:
    with pytest.raises(RuntimeError, match="in the transaction of its change"):
        record("shipping.shipment.changed", {}, source="shipping")


def test_the_relay_publishes_once_and_a_services_inbox_reads_the_events(customer, make_product, bus_url,
                                                                         capsys) -> None:
    shipment = _place(customer, make_product)
    shipping_services.shipment_set_status(shipment.pk, status="packed")
    call_command("publish_events", "--once")
    assert "2 published, 0 the bus had already" in capsys.readouterr().err
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    call_command("publish_events", "--once")
    assert "0 published" in capsys.readouterr().err

    async def read() -> list:
        bus = await connect(bus_url)
        try:
            sub = await bus.subscribe("orders-test", "shipping.shipment.*")
            return [parse(m) for m in await sub.fetch(10, 2.0)]
        finally:
            await bus.close()

    events = asyncio.run(read())
    assert [(e.source, e.subject, e.data["status"]) for e in events] == [
        ("shipping", "shipping.shipment.changed", "pending"), ("shipping", "shipping.shipment.changed", "packed")]
    assert [e.id for e in events] == list(OutboxEvent.objects.order_by("id").values_list("event_id", flat=True))
