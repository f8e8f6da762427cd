"""The orders gateway's switch (``python manage.py orders_gateway``): refused while the settings are incomplete
or the service does not answer; status as text and JSON; the receiver and the checkout page follow it (their
remote side runs against the real service in tests/extracted/orders/)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from legacy_monolith import switches
from legacy_monolith.orders import gateway
from strangler.processes import free_port

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("orders_gateway", *args, stdout=out)
    return out.getvalue()


def test_remote_is_refused_without_a_token_or_an_answering_service(settings) -> None:
    settings.ORDERS_SERVICE_TOKEN = ""
    with pytest.raises(CommandError, match="ORDERS_SERVICE_TOKEN is not set"):
        run("remote", "--no-wait")
    settings.ORDERS_SERVICE_TOKEN = "t"
    settings.ORDERS_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="does not answer"):
        run("remote", "--no-wait")
    assert not gateway.remote_enabled()
    settings.ORDERS_SERVICE_URL = "ftp://x"
    with pytest.raises(CommandError, match="is not an http"):
        run("remote", "--no-wait")


def test_switching_and_status(settings) -> None:
    settings.ORDERS_SERVICE_TOKEN, settings.ORDERS_SERVICE_URL = "t", "http://127.0.0.1:8103"
    assert "orders gateway: remote (switched)" in run("remote", "--no-probe", "--no-wait")
    switches.clear_cache()
    assert gateway.remote_enabled()
    status = json.loads(run("status", "--json"))
    assert (status["mode"], status["switch"], status["remote_ready"]) == ("remote", "orders_gateway.remote", True)
    assert "orders gateway: local (switched)" in run("local", "--no-wait")
    assert "switch orders_gateway.remote: off" in run("status")


def test_local_moves_the_orders_whose_shipments_changed_unfollowed(settings, customer, make_product,
                                                                   place_order) -> None:
    """While remote, the receiver steps aside (the service follows by event); an event the service had not applied
    when a rollback made its copy read-only is postponed there for good. ``local`` puts such orders right from
    their shipments, which are the monolith's rows too; the others are left as they are."""
    from legacy_monolith.orders.models import Order
    from legacy_monolith.shipping import services as shipping
    from legacy_monolith.shipping.models import Shipment

    shipped, packed, cancelled, untouched = (place_order(customer, {make_product(stock=5): 1}) for _ in range(4))
    settings.ORDERS_SERVICE_TOKEN, settings.ORDERS_SERVICE_URL = "t", "http://127.0.0.1:8103"
    run("remote", "--no-probe", "--no-wait")
    switches.clear_cache()
    for order, steps in ((shipped, ["packed", "shipped"]), (packed, ["packed"])):
        shipment = Shipment.objects.get(order=order)
        for status in steps:
            shipping.shipment_set_status(shipment.pk, status=status, tracking_number="TRK1")
    shipping.shipment_cancel(Shipment.objects.get(order=cancelled))   # as the service's cancel asks it
    assert set(Order.objects.values_list("status", flat=True)) == {"placed"}   # nobody followed them here
    out = run("local", "--no-wait")
    switches.clear_cache()
    status = dict(Order.objects.values_list("pk", "status"))
    assert (status[shipped.pk], status[packed.pk], status[cancelled.pk], status[untouched.pk]) == (
        "shipped", "processing", "cancelled", "placed")
    assert "3 order(s) moved to their shipment's status" in out
    assert "0 order(s) moved" in run("local", "--no-wait")   # once
