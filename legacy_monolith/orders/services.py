"""Checkout and cancellation: the shop's one cross-app transaction.

Checkout takes stock, snapshots prices into order lines, empties the cart and opens the shipment. Stock is
taken through the catalog gateway (:mod:`legacy_monolith.catalog.gateway`), the cart is read and emptied through
the cart gateway (:mod:`legacy_monolith.cart.gateway`); their switches say who owns each:

- both local (the shop as it always was): all of it in one database transaction; either everything happened or
  nothing did.
- stock remote (the catalog is cut over to its service): the service, owner of the stock, reserves first; then the
  order, its lines (sku, name and price as the service answered them), the emptied cart and the shipment are
  written in one local transaction. If that fails, the reservation is released at the service (compensation)
  and the error goes on. Stock is never taken locally in this mode.
- cart remote (the cart is cut over to its service): the cart is read from the service; stock is reserved (at the
  service first if it is remote, else inside the local transaction); the order and its shipment are written in
  one local transaction, inside which the service clears the cart (idempotency key per attempt) and answers the
  lines it cleared. Lines other than those read (the cart changed meanwhile) roll the order back, put the lines
  back (restore, same key) and start again; any failure after the clear was sent (the commit's included) puts
  the lines back too, so a failed checkout leaves its cart as it was.

Cancel gives the stock back: locally inside its transaction, or at the service once its transaction has
committed.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from legacy_monolith.cart.gateway import CartGateway, ClearedLine, Owner, cart_gateway, owner_of_cart
from legacy_monolith.cart.models import Cart
from legacy_monolith.catalog.gateway import ProductSnapshot, StockGateway, stock_gateway
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import InvalidTransition, ShopError
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.shipping import services as shipping_services
from legacy_monolith.shipping.models import Shipment

log = logging.getLogger(__name__)
REMOTE_ATTEMPTS = 3
SHIPPING_FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country")


def checkout(*, user, cart: Cart | None = None, owner: Owner | None = None, shipping: dict[str, str],
             carrier: str = Shipment.Carrier.POSTAL) -> Order:
    """``owner``: whose cart is ordered (the callers' ``cart_gateway.owner_of(request)``); or ``cart``, a cart
    the caller holds (its owner is taken)."""
    owner = owner if owner is not None else owner_of_cart(cart)
    carts = cart_gateway()
    stock = stock_gateway()
    if carts.remote:
        return _checkout_remote_cart(carts, stock, user=user, owner=owner, shipping=shipping, carrier=carrier)
    if stock.remote:
        return _checkout_remote(stock, carts, user=user, owner=owner, shipping=shipping, carrier=carrier)
    return _checkout_local(stock, carts, user=user, owner=owner, shipping=shipping, carrier=carrier)


def _cart_quantities(carts: CartGateway, owner: Owner, *, lock: bool) -> Counter[int]:
    return Counter(carts.quantities(owner, lock=lock))


def _empty_cart() -> ValidationError:
    return ValidationError({"cart": ["Your cart is empty."]})


@transaction.atomic
def _checkout_local(stock: StockGateway, carts: CartGateway, *, user, owner, shipping, carrier) -> Order:
    quantities = _cart_quantities(carts, owner, lock=True)
    if not quantities:
        raise _empty_cart()
    products = stock.reserve(dict(quantities))  # locks the products in id order, checks, takes the stock
    order = _place(user=user, shipping=shipping, carrier=carrier, quantities=quantities, products=products)
    carts.clear(owner, idempotency_key=f"order-{order.number}")  # local: in this transaction
    return order


def _checkout_remote(stock: StockGateway, carts: CartGateway, *, user, owner, shipping, carrier) -> Order:
    for _attempt in range(REMOTE_ATTEMPTS):
        quantities = _cart_quantities(carts, owner, lock=False)
        if not quantities:
            raise _empty_cart()
        # The owner first, outside any local transaction (no local lock is held over the HTTP call). A
        # shortage is the service's 409, raised as OutOfStock before anything is written here.
        products = stock.reserve(dict(quantities))
        try:
            with transaction.atomic():
                if _cart_quantities(carts, owner, lock=True) == quantities:
                    order = _place(user=user, shipping=shipping, carrier=carrier, quantities=quantities,
                                   products=products)
                    carts.clear(owner, idempotency_key=f"order-{order.number}")  # local: in this transaction
                    return order
        except BaseException:
            _compensate(stock, quantities)
            raise
        # The cart changed between the read and the lock (another tab, a concurrent checkout of the same
        # cart): give the reservation back and start again from what the cart holds now.
        _compensate(stock, quantities)
    raise ShopError("Your cart changed while the order was being placed; please try again.")


class _CartChanged(Exception):
    """The cart service cleared other lines than checkout read: the order is rolled back and tried again."""


def _checkout_remote_cart(carts: CartGateway, stock: StockGateway, *, user, owner, shipping, carrier) -> Order:
    for _attempt in range(REMOTE_ATTEMPTS):
        quantities = _orderable(_cart_quantities(carts, owner, lock=False))
        if not quantities:
            raise _empty_cart()
        # A remote owner of the stock reserves first, outside the local transaction (a shortage is its 409).
        reserved = stock.reserve(dict(quantities)) if stock.remote else None
        key = f"monolith-checkout-{uuid.uuid4().hex}"
        clear_sent = False
        cleared: list[ClearedLine] | None = None
        try:
            with transaction.atomic():
                products = reserved if reserved is not None else stock.reserve(dict(quantities))
                order = _place(user=user, shipping=shipping, carrier=carrier, quantities=quantities,
                               products=products)
                clear_sent = True
                cleared = carts.clear(owner, idempotency_key=key)
                if _orderable(_counted(cleared)) != quantities:
                    raise _CartChanged
                return order  # committed on leaving the block; a failed commit is undone below like the rest
        except _CartChanged:
            pass
        except BaseException:
            _put_back(carts, owner, key, cleared, sent=clear_sent)
            if reserved is not None:
                _compensate(stock, quantities)
            raise
        # The cart changed between the read and the clear (another tab, a concurrent checkout of the same cart):
        # its lines go back, the reservation too, and checkout starts again from what the cart holds now.
        _put_back(carts, owner, key, cleared, sent=clear_sent)
        if reserved is not None:
            _compensate(stock, quantities)
    raise ShopError("Your cart changed while the order was being placed; please try again.")


def _orderable(counted: Counter[int]) -> Counter[int]:
    """The lines of products the shop still has. A line at the cart service whose product is gone is not ordered
    (and goes with the cleared cart), as the monolith's own cart loses such a line with its product."""
    known = set(Product.objects.filter(pk__in=list(counted)).values_list("pk", flat=True))
    return Counter({pid: n for pid, n in counted.items() if pid in known})


def _counted(lines: list[ClearedLine]) -> Counter[int]:
    counted: Counter[int] = Counter()
    for line in lines:
        counted[line["product"]] += line["quantity"]
    return counted


def _put_back(carts: CartGateway, owner: Owner, key: str, cleared: list[ClearedLine] | None, *, sent: bool) -> None:
    """The cart as it was before a failed checkout: what the clear took goes back. A clear whose answer never came
    is asked again under its key (it answers what it cleared, or clears now: either way those lines go back)."""
    if not sent:
        return
    try:
        if cleared is None:
            cleared = carts.clear(owner, idempotency_key=key)
        if cleared:
            carts.restore(owner, cleared, idempotency_key=f"{key}:restore")
    except Exception:
        log.exception("a failed checkout could not put its cart's lines back at the cart service",
                      extra={"owner": owner.body(), "clear_key": key, "lines": cleared})


def _compensate(stock: StockGateway, quantities: Counter[int]) -> None:
    try:
        stock.release(dict(quantities))
    except Exception:
        # The reservation stays taken at the service: say exactly what to give back.
        log.exception("could not release a reservation at the catalog service after a failed checkout",
                      extra={"release": dict(quantities)})


def _place(*, user, shipping, carrier, quantities: Counter[int], products: dict[int, ProductSnapshot]) -> Order:
    total = sum((products[pid]["price"] * qty for pid, qty in quantities.items()), Decimal("0.00"))
    order = Order.objects.create(
        user=user, total=total, **{f"ship_{name}": shipping.get(name, "") for name in SHIPPING_FIELDS}
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=order, product_id=pid, sku=products[pid]["sku"], name=products[pid]["name"],
                  unit_price=products[pid]["price"], quantity=qty)
        for pid, qty in quantities.items()
    )
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
