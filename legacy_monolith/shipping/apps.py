from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "legacy_monolith.shipping"
    label = "shipping"
