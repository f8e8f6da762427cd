"""Reads of the catalog. Other apps (cart, orders) read products through here or through the models."""

from __future__ import annotations

from django.db.models import QuerySet

from legacy_monolith.catalog.models import Category, Product


def category_descendant_ids(category_id: int) -> list[int]:
    """The category and everything under it. The tree is small, so one query and a walk in memory."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Category.objects.values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, stack = [], [category_id]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, ()))
    return found


def category_list() -> QuerySet[Category]:
    return Category.objects.order_by("id")


def product_list(*, include_inactive: bool = False) -> QuerySet[Product]:
    qs = Product.objects.select_related("category")
    return qs if include_inactive else qs.filter(is_active=True)


def product_visible_to(user) -> QuerySet[Product]:
    """Staff see withdrawn products too; everyone else only what is on sale."""
    return product_list(include_inactive=bool(user and user.is_authenticated and user.is_staff))


def products_by_ids(ids: list[int]) -> QuerySet[Product]:
    """The products among ``ids`` that exist, active or not, in id order (the internal batch read)."""
    return Product.objects.filter(pk__in=ids).order_by("id")
