"""Writes of shipping: creating a shipment at checkout and moving it through its statuses."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from legacy_monolith.events.outbox import record
from legacy_monolith.exceptions import InvalidTransition
from legacy_monolith.shipping.models import Shipment, ShipmentEvent
from legacy_monolith.shipping.signals import shipment_status_changed

S = Shipment.Status
# What staff may do through the API. Cancelling belongs to the order (it restocks), not to shipping.
STAFF_TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.PACKED},
    S.PACKED: {S.SHIPPED},
    S.SHIPPED: {S.IN_TRANSIT, S.DELIVERED},
    S.IN_TRANSIT: {S.DELIVERED},
    S.DELIVERED: set(),
    S.CANCELLED: set(),
}
CANCELLABLE = {S.PENDING, S.PACKED}


SHIPMENT_CHANGED = "shipping.shipment.changed"


def _changed(shipment: Shipment, event: ShipmentEvent) -> None:
    """Tells the other services (the orders service follows its shipments by this event, no longer by the
    signal), in the transaction of the change. ``version`` is the shipment event's id: a consumer keeps the
    newest version it saw and ignores an older one arriving late."""
    record(SHIPMENT_CHANGED, {"shipment": shipment.pk, "order": shipment.order_id, "status": shipment.status,
                              "carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
                              "version": event.pk}, source="shipping")


def shipment_create(order, *, carrier: str = Shipment.Carrier.POSTAL) -> Shipment:
    return shipment_create_for(order.pk, order.user_id, carrier=carrier)


@transaction.atomic
def shipment_create_for(order_id: int, user_id: int, *, carrier: str = Shipment.Carrier.POSTAL) -> Shipment:
    """The shipment of an order known by its id and its customer's (the orders service's order: its row here
    may come later)."""
    shipment = Shipment.objects.create(order_id=order_id, user_id=user_id, carrier=carrier)
    _changed(shipment, ShipmentEvent.objects.create(shipment=shipment, status=S.PENDING, note="Order placed"))
    return shipment


def _move(shipment: Shipment, status: str, note: str) -> Shipment:
    shipment.status = status
    shipment.updated_at = timezone.now()
    shipment.save(update_fields=["status", "tracking_number", "carrier", "updated_at"])
    _changed(shipment, ShipmentEvent.objects.create(shipment=shipment, status=status, note=note))
    shipment_status_changed.send(sender=Shipment, shipment=shipment, status=status)
    return shipment


@transaction.atomic
def shipment_set_status(
    shipment_id: int, *, status: str, note: str = "", tracking_number: str = "", carrier: str = ""
) -> Shipment:
    shipment = Shipment.objects.select_for_update().get(pk=shipment_id)
    if status not in STAFF_TRANSITIONS[shipment.status]:
        allowed = ", ".join(sorted(STAFF_TRANSITIONS[shipment.status])) or "none"
        raise InvalidTransition(
            f"Cannot move shipment {shipment.pk} from {shipment.status} to {status} (allowed: {allowed}).",
            current=shipment.status,
        )
    if carrier:
        shipment.carrier = carrier
    if tracking_number:
        shipment.tracking_number = tracking_number
    if status == S.SHIPPED and not shipment.tracking_number:
        raise ValidationError({"tracking_number": ["A tracking number is required to ship."]})
    return _move(shipment, status, note)


def shipment_cancel(shipment: Shipment, *, note: str = "Order cancelled") -> Shipment:
    """Called by the order's cancellation, inside its transaction."""
    if shipment.status not in CANCELLABLE:
        raise InvalidTransition(f"Shipment {shipment.pk} is already {shipment.status}.", current=shipment.status)
    return _move(shipment, S.CANCELLED, note)
