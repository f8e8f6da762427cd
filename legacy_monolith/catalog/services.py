"""Writes of the catalog: products, categories and stock.

Stock changes are single conditional UPDATEs (``stock >= n``), so two concurrent buyers of the last item
cannot both succeed whatever the database's isolation level. Edits write only the columns they change: a
whole-row save() would write back values read before a concurrent stock change and undo it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import DatabaseError, models, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.catalog.selectors import category_descendant_ids
from legacy_monolith.exceptions import OutOfStock, ProtectedObject


def category_save(category: Category, *, name: str, slug: str, parent: Category | None) -> Category:
    if category.pk is None:
        category.name, category.slug, category.parent = name, slug, parent
        category.save()
        return category
    # The API hands over every field, sent or not; only those that differ from the row as the request read it
    # are written, so a concurrent edit of another field (a rename racing a move) is not undone.
    wanted = {"name": name, "slug": slug, "parent_id": parent.pk if parent is not None else None}
    changed = [field for field, value in wanted.items() if getattr(category, field) != value]
    with transaction.atomic():
        if "parent_id" in changed and parent is not None:
            # Two moves at once could each pass the check against the tree as it was and close a loop
            # together: the tree is locked (the categories are few) and the check reads it after the lock.
            list(Category.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
            if parent.pk in category_descendant_ids(category.pk):
                raise ValidationError(
                    {"parent": ["A category cannot be placed under itself or one of its children."]})
        category.name, category.slug, category.parent = name, slug, parent
        _save_fields(category, ["parent" if field == "parent_id" else field for field in changed])
    return category


def category_delete(category: Category) -> None:
    try:
        category.delete()
    except ProtectedError as exc:
        raise ProtectedObject("This category still has products or subcategories.") from exc


def product_create(**fields) -> Product:
    return Product.objects.create(**fields)


def product_update(product: Product, **fields) -> Product:
    """Writes ``fields`` (what the request sent) and ``updated_at``, nothing else: the stock in ``product`` was
    read before, and writing it back would undo a stock change committed meanwhile (a PATCH of the name racing
    a sale lost the sale). PUT sends every field but the stock is optional there too."""
    for name, value in fields.items():
        setattr(product, name, value)
    _save_fields(product, fields)
    try:
        product.refresh_from_db()  # the answer shows the row as it is now, a concurrent stock change included
    except Product.DoesNotExist:
        pass  # deleted right after this write: answer what was written
    return product


def _save_fields(instance: models.Model, fields: Iterable[str]) -> None:
    """``instance.save(update_fields=fields)``. A row deleted meanwhile is a 404, as if the request had come a
    moment later; a whole-row save() used to insert it again, undoing the delete."""
    try:
        with transaction.atomic():  # a savepoint inside a caller's transaction, which stays usable after a failure
            instance.save(update_fields=list(fields))
    except DatabaseError as exc:
        # Django says "did not affect any rows" with a bare DatabaseError; the database's own are subclasses.
        if type(exc) is not DatabaseError or type(instance)._default_manager.filter(pk=instance.pk).exists():
            raise
        raise NotFound(f"No {type(instance).__name__} matches the given query.") from None


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
