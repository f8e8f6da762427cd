from __future__ import annotations

from django.db.models import QuerySet

from legacy_monolith.shipping.models import Shipment


def shipment_list(user) -> QuerySet[Shipment]:
    """Staff see every shipment; a customer only those of their own orders."""
    qs = Shipment.objects.select_related("order").prefetch_related("events")
    return qs if user.is_staff else qs.filter(order__user=user)
