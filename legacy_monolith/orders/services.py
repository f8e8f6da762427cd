"""Checkout and cancellation: the shop's one cross-app transaction.

Checkout takes stock from the catalog, snapshots prices into order lines, empties the cart and opens the
shipment, all in one database transaction: either everything happened or nothing did.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog import services as catalog_services
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import InvalidTransition, OutOfStock
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment

SHIPPING_FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country")


@transaction.atomic
def checkout(*, user, cart: Cart | None, shipping: dict[str, str], carrier: str = Shipment.Carrier.POSTAL) -> Order:
    # Locking the lines makes a second checkout of the same cart (a double-clicked "Place order") wait for
    # this one, then find them gone, instead of ordering them again from a stale read.
    items = list(CartItem.objects.select_for_update().filter(cart=cart).order_by("product_id")) if cart else []
    if not items:
        raise ValidationError({"cart": ["Your cart is empty."]})
    quantities = Counter({item.product_id: item.quantity for item in items})
    # Lock the rows in id order (PostgreSQL/MariaDB; SQLite already holds the write lock from BEGIN
    # IMMEDIATE) so prices and stock cannot change under us, and concurrent checkouts queue, not deadlock.
    products = {p.pk: p for p in Product.objects.select_for_update().filter(pk__in=quantities).order_by("pk")}
    short = [
        {"product": p.pk, "sku": p.sku, "requested": quantities[p.pk], "available": p.stock if p.is_active else 0}
        for p in products.values()
        if not p.is_active or p.stock < quantities[p.pk]
    ]
    if short:
        names = ", ".join(f"{s['sku']} (requested {s['requested']}, available {s['available']})" for s in short)
        raise OutOfStock(f"Not enough stock for: {names}.", items=short)
    catalog_services.stock_reserve(dict(quantities))

    total = sum((products[pid].price * qty for pid, qty in quantities.items()), Decimal("0.00"))
    order = Order.objects.create(
        user=user, total=total, **{f"ship_{name}": shipping.get(name, "") for name in SHIPPING_FIELDS}
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=order, product_id=pid, sku=products[pid].sku, name=products[pid].name,
                  unit_price=products[pid].price, quantity=qty)
        for pid, qty in quantities.items()
    )
    CartItem.objects.filter(cart=cart).delete()
    shipping_services.shipment_create(order, carrier=carrier)
    return order


@transaction.atomic
def cancel(order_id: int) -> Order:
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status not in (Order.Status.PLACED, Order.Status.PROCESSING):
        raise InvalidTransition(f"Order {order.number} is {order.status} and can no longer be cancelled.",
                                current=order.status)
    catalog_services.stock_release(dict(order.lines.values_list("product_id", "quantity")))
    shipment = Shipment.objects.select_for_update().filter(order=order).first()
    if shipment is not None:
        shipping_services.shipment_cancel(shipment)  # the receiver moves the order along with it
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED, updated_at=timezone.now())
    order.refresh_from_db()
    return order
