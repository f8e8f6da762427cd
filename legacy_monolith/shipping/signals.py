from django.dispatch import Signal

# Sent inside the transaction that changed the status: kwargs ``shipment`` and ``status``.
shipment_status_changed = Signal()
