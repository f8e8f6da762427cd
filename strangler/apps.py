from django.apps import AppConfig


class StranglerConfig(AppConfig):
    """Added to a monolith's INSTALLED_APPS, it brings ``python manage.py strangler ...``."""

    name = "strangler"
    label = "strangler"
    verbose_name = "Strangler migration toolkit"
