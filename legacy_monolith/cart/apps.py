from django.apps import AppConfig


class CartConfig(AppConfig):
    name = "legacy_monolith.cart"
    label = "cart"

    def ready(self) -> None:
        # An anonymous cart is merged into the user's cart when they log in.
        from legacy_monolith.cart import receivers  # noqa: F401
