"""Checkout and cancellation: the shop's one cross-app transaction.

Checkout takes stock, snapshots prices into order lines, empties the cart and opens the shipment. Stock is
taken through the catalog gateway (:mod:`legacy_monolith.catalog.gateway`), whose switch says who owns it:

- local (the shop as it always was): all of it in one database transaction; either everything happened or
  nothing did.
- remote (the catalog is cut over to its service): the service, owner of the stock, reserves first; then the
  order, its lines (sku, name and price as the service answered them), the emptied cart and the shipment are
  written in one local transaction. If that fails, the reservation is released at the service (compensation)
  and the error goes on. Stock is never taken locally in this mode.

Cancel gives the stock back: locally inside its transaction, or at the service once its transaction has
committed.
"""

from __future__ import annotations

import logging
from collections import Counter
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.catalog.gateway import ProductSnapshot, StockGateway, stock_gateway
from legacy_monolith.exceptions import InvalidTransition, ShopError
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment

log = logging.getLogger(__name__)
REMOTE_ATTEMPTS = 3
SHIPPING_FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country")


def checkout(*, user, cart: Cart | None, shipping: dict[str, str], carrier: str = Shipment.Carrier.POSTAL) -> Order:
    stock = stock_gateway()
    if stock.remote:
        return _checkout_remote(stock, user=user, cart=cart, shipping=shipping, carrier=carrier)
    return _checkout_local(stock, user=user, cart=cart, shipping=shipping, carrier=carrier)


def _cart_quantities(cart: Cart | None, *, lock: bool) -> Counter[int]:
    if cart is None:
        return Counter()
    items = CartItem.objects.filter(cart=cart).order_by("product_id")
    if lock:
        # Locking the lines makes a second checkout of the same cart (a double-clicked "Place order") wait
        # for this one, then find them gone, instead of ordering them again from a stale read.
        items = items.select_for_update()
    return Counter({item.product_id: item.quantity for item in items})


def _empty_cart() -> ValidationError:
    return ValidationError({"cart": ["Your cart is empty."]})


@transaction.atomic
def _checkout_local(stock: StockGateway, *, user, cart, shipping, carrier) -> Order:
    quantities = _cart_quantities(cart, lock=True)
    if not quantities:
        raise _empty_cart()
    products = stock.reserve(dict(quantities))  # locks the products in id order, checks, takes the stock
    return _place(user=user, cart=cart, shipping=shipping, carrier=carrier, quantities=quantities,
                  products=products)


def _checkout_remote(stock: StockGateway, *, user, cart, shipping, carrier) -> Order:
    for _attempt in range(REMOTE_ATTEMPTS):
        quantities = _cart_quantities(cart, lock=False)
        if not quantities:
            raise _empty_cart()
        # The owner first, outside any local transaction (no local lock is held over the HTTP call). A
        # shortage is the service's 409, raised as OutOfStock before anything is written here.
        products = stock.reserve(dict(quantities))
        try:
            with transaction.atomic():
                if _cart_quantities(cart, lock=True) == quantities:
                    return _place(user=user, cart=cart, shipping=shipping, carrier=carrier,
                                  quantities=quantities, products=products)
        except BaseException:
            _compensate(stock, quantities)
            raise
        # The cart changed between the read and the lock (another tab, a concurrent checkout of the same
        # cart): give the reservation back and start again from what the cart holds now.
        _compensate(stock, quantities)
    raise ShopError("Your cart changed while the order was being placed; please try again.")


def _compensate(stock: StockGateway, quantities: Counter[int]) -> None:
    try:
        stock.release(dict(quantities))
    except Exception:
        # The reservation stays taken at the service: say exactly what to give back.
        log.exception("could not release a reservation at the catalog service after a failed checkout",
                      extra={"release": dict(quantities)})


def _place(*, user, cart, shipping, carrier, quantities: Counter[int], products: dict[int, ProductSnapshot]) -> Order:
    total = sum((products[pid]["price"] * qty for pid, qty in quantities.items()), Decimal("0.00"))
    order = Order.objects.create(
        user=user, total=total, **{f"ship_{name}": shipping.get(name, "") for name in SHIPPING_FIELDS}
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=order, product_id=pid, sku=products[pid]["sku"], name=products[pid]["name"],
                  unit_price=products[pid]["price"], quantity=qty)
        for pid, qty in quantities.items()
    )
    CartItem.objects.filter(cart=cart).delete()
    shipping_services.shipment_create(order, carrier=carrier)
    return order


def cancel(order_id: int) -> Order:
    stock = stock_gateway()
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in (Order.Status.PLACED, Order.Status.PROCESSING):
            raise InvalidTransition(f"Order {order.number} is {order.status} and can no longer be cancelled.",
                                    current=order.status)
        quantities = dict(order.lines.values_list("product_id", "quantity"))
        if stock.remote:
            number = order.number
            transaction.on_commit(lambda: _release_cancelled(stock, number, quantities))
        else:
            stock.release(quantities)
        shipment = Shipment.objects.select_for_update().filter(order=order).first()
        if shipment is not None:
            shipping_services.shipment_cancel(shipment)  # the receiver moves the order along with it
        Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED, updated_at=timezone.now())
    order.refresh_from_db()
    return order


def _release_cancelled(stock: StockGateway, number: str, quantities: dict[int, int]) -> None:
    """After the cancel committed: the stock goes back to the service. A failure cannot undo the cancel; it is
    logged with what to give back (the order stays cancelled)."""
    try:
        stock.release(quantities)
    except Exception:
        log.exception("cancelled order %s: could not give its stock back to the catalog service", number,
                      extra={"order": number, "release": quantities})
