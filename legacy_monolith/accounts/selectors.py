from __future__ import annotations

from django.db.models import QuerySet

from legacy_monolith.accounts.models import Address


def address_list(user) -> QuerySet[Address]:
    return Address.objects.filter(user=user).order_by("id")


def default_address(user) -> Address | None:
    return address_list(user).order_by("-is_default", "id").first()
