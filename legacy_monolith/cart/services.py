"""Writes of the cart. Quantities are checked against current stock; prices are never stored here."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import OutOfStock

MAX_LINE_QUANTITY = 1000


def _check_stock(product: Product, quantity: int) -> None:
    if quantity > product.stock:
        raise OutOfStock(
            f"Only {product.stock} of {product.sku} in stock.",
            items=[{"product": product.pk, "sku": product.sku, "requested": quantity, "available": product.stock}],
        )


def _touch(cart: Cart) -> None:
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())


@transaction.atomic
def cart_add(cart: Cart, product: Product, quantity: int) -> CartItem:
    item, created = CartItem.objects.select_for_update().get_or_create(
        cart=cart, product=product, defaults={"quantity": quantity}
    )
    if not created:
        if item.quantity + quantity > MAX_LINE_QUANTITY:
            raise ValidationError({"quantity": [
                f"A cart line holds at most {MAX_LINE_QUANTITY}; this one has {item.quantity} already."]})
        item.quantity += quantity
    _check_stock(product, item.quantity)
    item.save()
    _touch(cart)
    return item


def _own_item(cart: Cart | None, item_id: int) -> CartItem:
    # Another cart's line is simply not found: a 404, never a 403 that confirms it exists.
    item = CartItem.objects.select_related("product").filter(cart=cart, pk=item_id).first() if cart else None
    if item is None:
        raise NotFound("No such item in your cart.")
    return item


@transaction.atomic
def cart_set_quantity(cart: Cart | None, item_id: int, quantity: int) -> CartItem:
    item = _own_item(cart, item_id)
    _check_stock(item.product, quantity)
    item.quantity = quantity
    item.save(update_fields=["quantity"])
    _touch(item.cart)
    return item


@transaction.atomic
def cart_remove(cart: Cart | None, item_id: int) -> None:
    _own_item(cart, item_id).delete()
    _touch(cart)


def cart_clear(cart: Cart | None) -> None:
    if cart is not None:
        cart.items.all().delete()
        _touch(cart)


@transaction.atomic
def cart_merge(source: Cart, target: Cart) -> None:
    """Moves an anonymous cart's lines into the user's cart (quantities add up, capped by stock)."""
    for item in source.items.select_related("product"):
        # Locked like cart_add's: the user may be adding to this very line in another tab while logging in
        # here, and the sum below must not be computed from a quantity that changes before it is written.
        line, created = CartItem.objects.select_for_update().get_or_create(
            cart=target, product=item.product, defaults={"quantity": item.quantity}
        )
        if not created:
            # The cap applies to what is added: a line never drops below what the user already had (and so
            # never to 0 when stock ran out meanwhile; checkout reports that shortage).
            merged = min(line.quantity + item.quantity, item.product.stock, MAX_LINE_QUANTITY)
            line.quantity = max(line.quantity, merged)
            line.save(update_fields=["quantity"])
    source.delete()
    _touch(target)
