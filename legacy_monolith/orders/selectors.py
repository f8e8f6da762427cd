from __future__ import annotations

from django.db.models import QuerySet

from legacy_monolith.orders.models import Order


def order_list(user) -> QuerySet[Order]:
    """Staff see every order; a customer only their own (another's is a 404, not a 403)."""
    qs = Order.objects.select_related("shipment").prefetch_related("lines")
    return qs if user.is_staff else qs.filter(user=user)
