"""The order follows its shipment. Legacy coupling through a signal, the way the shop always did it."""

from django.dispatch import receiver
from django.utils import timezone

from legacy_monolith.orders.models import Order
from legacy_monolith.shipping.models import Shipment
from legacy_monolith.shipping.signals import shipment_status_changed

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
    Order.objects.filter(pk=shipment.order_id).update(
        status=ORDER_STATUS_FOR_SHIPMENT[status], updated_at=timezone.now()
    )
