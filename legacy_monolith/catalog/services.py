"""Writes of the catalog: products, categories and stock.

Stock changes are single conditional UPDATEs (``stock >= n``), so two concurrent buyers of the last item
cannot both succeed whatever the database's isolation level.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, ProtectedError
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.catalog.selectors import category_descendant_ids
from legacy_monolith.exceptions import OutOfStock, ProtectedObject


def category_save(category: Category, *, name: str, slug: str, parent: Category | None) -> Category:
    if category.pk is not None and parent is not None and parent.pk in category_descendant_ids(category.pk):
        raise ValidationError({"parent": ["A category cannot be placed under itself or one of its children."]})
    category.name, category.slug, category.parent = name, slug, parent
    category.save()
    return category


def category_delete(category: Category) -> None:
    try:
        category.delete()
    except ProtectedError as exc:
        raise ProtectedObject("This category still has products or subcategories.") from exc


def product_create(**fields) -> Product:
    return Product.objects.create(**fields)


def product_update(product: Product, **fields) -> Product:
    for name, value in fields.items():
        setattr(product, name, value)
    product.save()
    return product


def product_delete(product: Product) -> None:
    try:
        product.delete()
    except ProtectedError as exc:
        raise ProtectedObject("Orders reference this product; deactivate it instead of deleting it.") from exc


def stock_adjust(product_id: int, delta: int) -> Product:
    """Adds ``delta`` (may be negative) to the stock; refuses to go below zero."""
    with transaction.atomic():
        qs = Product.objects.filter(pk=product_id)
        if delta < 0:
            qs = qs.filter(stock__gte=-delta)
        if not qs.update(stock=F("stock") + delta, updated_at=timezone.now()):
            product = Product.objects.get(pk=product_id)  # raises DoesNotExist -> 404 when it is gone
            raise OutOfStock(
                f"Stock of {product.sku} is {product.stock}; it cannot go down by {-delta}.",
                available=product.stock,
            )
        return Product.objects.get(pk=product_id)


def stock_reserve(quantities: dict[int, int]) -> None:
    """Takes ``quantities`` ({product_id: n}) out of stock, all or nothing. Call inside a transaction."""
    for product_id in sorted(quantities):  # one global lock order: no deadlocks between checkouts
        updated = Product.objects.filter(pk=product_id, is_active=True, stock__gte=quantities[product_id]).update(
            stock=F("stock") - quantities[product_id], updated_at=timezone.now()
        )
        if not updated:
            raise OutOfStock("Not enough stock.", items=stock_shortfall(quantities))


def stock_release(quantities: dict[int, int]) -> None:
    for product_id in sorted(quantities):
        Product.objects.filter(pk=product_id).update(
            stock=F("stock") + quantities[product_id], updated_at=timezone.now()
        )


def stock_shortfall(quantities: dict[int, int]) -> list[dict]:
    """Which of ``quantities`` cannot be served now, for the 409 body."""
    short = []
    products: Iterable[Product] = Product.objects.filter(pk__in=quantities).order_by("pk")
    for product in products:
        wanted = quantities[product.pk]
        available = product.stock if product.is_active else 0
        if wanted > available:
            short.append({"product": product.pk, "sku": product.sku, "requested": wanted, "available": available})
    return short
