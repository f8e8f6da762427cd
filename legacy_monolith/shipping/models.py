from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from legacy_monolith.orders.models import Order


class Shipment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PACKED = "packed"
        SHIPPED = "shipped"
        IN_TRANSIT = "in_transit"
        DELIVERED = "delivered"
        CANCELLED = "cancelled"

    class Carrier(models.TextChoices):
        POSTAL = "postal"
        DHL = "dhl"
        UPS = "ups"
        FEDEX = "fedex"

    # No database constraint: once the orders service owns the orders, it asks for a shipment as soon as its
    # order exists there, before the data split has copied that order's row into this database.
    order = models.OneToOneField(Order, related_name="shipment", on_delete=models.CASCADE, db_constraint=False)
    # The customer the shipment goes to: their order's user, copied when the shipment is made (the expand step
    # of the shipping extraction). Shipping scopes a customer's shipments by it instead of joining the order, which
    # the shipping service cannot do (the orders are another service's); no database constraint, a plain id as the
    # order's. Null only for a shipment made before the column was (its migration fills them from their orders).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="+", on_delete=models.DO_NOTHING, null=True,
                             db_constraint=False)
    carrier = models.CharField(max_length=20, choices=Carrier.choices, default=Carrier.POSTAL)
    tracking_number = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"shipment {self.pk} ({self.status})"


class ShipmentEvent(models.Model):
    shipment = models.ForeignKey(Shipment, related_name="events", on_delete=models.CASCADE)
    status = models.CharField(max_length=20, choices=Shipment.Status.choices)
    note = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.status} at {self.created_at:%Y-%m-%d %H:%M}"
