from django.apps import AppConfig


class LegacyMonolithConfig(AppConfig):
    """The project package is an app too: it holds the shared templates and ``seed_shop``."""

    name = "legacy_monolith"
    label = "legacy_monolith"
    default_auto_field = "django.db.models.BigAutoField"
