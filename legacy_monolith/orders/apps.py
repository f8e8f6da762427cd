from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "legacy_monolith.orders"
    label = "orders"

    def ready(self) -> None:
        # Legacy coupling, kept on purpose: the order's status follows its shipment through a signal.
        from legacy_monolith.orders import receivers  # noqa: F401
