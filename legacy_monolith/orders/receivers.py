"""The order follows its shipment. Legacy coupling through a signal, the way the shop always did it."""

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
