from __future__ import annotations

from django.db.models import QuerySet

from legacy_monolith.shipping.models import Shipment


def shipment_list(user) -> QuerySet[Shipment]:
    """Staff see every shipment; a customer only those of their own orders (``Shipment.user``: their order's
    customer, copied with the shipment, so that shipping answers without the orders)."""
    qs = Shipment.objects.prefetch_related("events")
    return qs if user.is_staff else qs.filter(user=user)
