"""The order follows its shipment. Legacy coupling through a signal, the way the shop always did it."""

from django.db.models import F
from django.dispatch import receiver
from django.utils import timezone

from legacy_monolith import switches
from legacy_monolith.orders.gateway import SWITCH
from legacy_monolith.orders.models import Order
from legacy_monolith.shipping.models import Shipment
from legacy_monolith.shipping.signals import shipment_status_changed

# On once the orders are cut over to their service (the orders plan's hook sets it: orders/gateway.py).
ORDERS_SERVICE_SWITCH = SWITCH

ORDER_STATUS_FOR_SHIPMENT = {
    Shipment.Status.PENDING: Order.Status.PLACED,
    Shipment.Status.PACKED: Order.Status.PROCESSING,
    Shipment.Status.SHIPPED: Order.Status.SHIPPED,
    Shipment.Status.IN_TRANSIT: Order.Status.SHIPPED,
    Shipment.Status.DELIVERED: Order.Status.DELIVERED,
    Shipment.Status.CANCELLED: Order.Status.CANCELLED,
}


@receiver(shipment_status_changed, dispatch_uid="orders.follow_shipment")
def follow_shipment(sender, shipment, status, **kwargs):
    if switches.is_enabled(ORDERS_SERVICE_SWITCH):
        # The orders service owns the orders (its copy here is fed from it, and refuses writes): it follows
        # the shipment by the ``shipping.shipment.changed`` event shipping records in the same transaction.
        return
    Order.objects.filter(pk=shipment.order_id).update(
        status=ORDER_STATUS_FOR_SHIPMENT[status], updated_at=timezone.now()
    )


def follow_missed_shipments() -> dict[int, str]:
    """Each order whose shipment changed after the order last did, moved to its shipment's status (the orders
    gateway's ``local`` runs it: ``{order id: new status}``).

    While the gateway was remote the receiver above stepped aside and the orders service followed the shipments by
    event; an event it had not applied when a rollback made its copy read-only again is postponed there, and the
    monolith, which owns the orders again, never saw the change. Both the order and its shipment are the
    monolith's rows now, so the order is put right from its shipment. An order that follows its shipment was
    updated with it (or after it: a cancel), so only those whose shipment is newer are looked at; an order of the
    service's still ``pending`` (its checkout was cut short) is left as it is.
    """
    moved: dict[int, str] = {}
    stale = (Order.objects.filter(shipment__updated_at__gt=F("updated_at"))
             .exclude(status="pending").values_list("pk", "status", "shipment__status"))
    for order_id, status, shipment_status in stale:
        wanted = ORDER_STATUS_FOR_SHIPMENT.get(shipment_status)
        if wanted is None:
            continue
        if wanted != status:
            Order.objects.filter(pk=order_id, status=status).update(status=wanted, updated_at=timezone.now())
            moved[order_id] = wanted
    return moved
