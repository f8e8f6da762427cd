"""The cart gateway: how the monolith's remaining code reaches the cart (branch by abstraction).

The cart pages (``cart/views.py``), the item count in every page's header (``context_processors.py``), the merge
of an anonymous cart at login (``receivers.py``) and checkout (``orders/services.py``) no longer touch the cart's
models or services directly; they ask :func:`cart_gateway` for the implementation in force and call one small
interface, about an :class:`Owner` (the user, or the anonymous cart the session names):

- ``read(owner)``: the cart with its lines (:class:`CartContents`, or None when the owner has none); each line
  has ``pk``, ``product`` (the monolith's own ``Product`` row: names and prices are read locally, as the
  monolith reads its catalog tables whoever owns them), ``quantity`` and ``line_total()``;
- ``add(owner, product, quantity)`` (the cart is made if needed; its id is answered for the session),
  ``set_quantity(owner, item_id, quantity)``, ``remove(owner, item_id)``: the pages' writes, with the
  monolith's errors (409 :class:`~legacy_monolith.exceptions.OutOfStock`, DRF's ``ValidationError`` past 1000 a
  line, ``NotFound`` for a line that is not the owner's);
- ``merge(anonymous_cart_id, user)``: the login merge;
- ``quantities(owner, lock=...)``, ``clear(owner, idempotency_key=...)`` (answers the lines it cleared) and
  ``restore(owner, lines, idempotency_key=...)``: what checkout needs.

Two implementations:

- :class:`LocalCart`: the shop as it always was (``cart.selectors`` and ``cart.services`` on the monolith's own
  ``cart_cart`` and ``cart_cartitem``); checkout's reads and clear run inside checkout's transaction.
- :class:`RemoteCart`: once the cart is cut over, the cart service owns the carts; the gateway calls its internal
  API (``POST /api/cart/internal/{read,add,set-quantity,remove,merge,clear,restore}/``, see
  ``extracted/cart/internal.py``) with ``httpx``, authorised by ``X-Service-Token`` = ``CART_SERVICE_TOKEN``.
  Anything but an answer it understands is :class:`~legacy_monolith.exceptions.CartUnavailable` (503): never a
  500, never a local fallback, so a cart has one owner.

Which one is used is the ``cart_gateway.remote`` switch in the database (:mod:`legacy_monolith.switches`), read
per call and cached for at most a second; ``python manage.py cart_gateway local|remote|status`` flips and shows
it (the cart plan's hook runs it at the cutover, and its undo at a rollback).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Final

from django.conf import settings
from django.db import transaction

from legacy_monolith import switches
from legacy_monolith.cart import selectors, services
from legacy_monolith.cart.contents import CartContents, CartGateway, ClearedLine, Owner
from legacy_monolith.cart.models import Cart, CartItem
from legacy_monolith.cart.remote import RemoteCart
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import CartUnavailable
from legacy_monolith.gateways import remote_settings_problems

SWITCH: Final = "cart_gateway.remote"

log = logging.getLogger(__name__)


PENDING_MERGE: Final = "cart_merge_pending"  # session key: an anonymous cart the login could not merge


def owner_of(request: Any) -> Owner:
    """The caller's cart owner, as ``cart_for_request`` finds it: the logged-in user, else the session's cart.

    A login whose merge the cart service could not do then (``receivers.py``) left the anonymous cart's id in the
    session under :data:`PENDING_MERGE`: it is merged here, on the next request that needs the cart, and forgotten
    once merged."""
    user = request.user
    if user.is_authenticated:
        # Only a request that brings a session can have a merge pending: a token's request (the API's, the orders
        # service's callers') leaves the session untouched, or Django would answer it with ``Vary: Cookie``, which
        # the services, which have no sessions, never send (the orders plan's contract check found it).
        session = getattr(request, "session", None) if request.COOKIES.get(settings.SESSION_COOKIE_NAME) else None
        pending = session.get(PENDING_MERGE) if session is not None else None
        if pending:
            try:
                cart_gateway().merge(pending, user)
            except CartUnavailable:
                pass  # still pending; the caller's own call to the service says what is wrong
            else:
                session.pop(PENDING_MERGE, None)
        return Owner(user_id=user.pk)
    cart_id = request.session.get(selectors.SESSION_KEY)
    return Owner(user_id=None, session_cart=cart_id if isinstance(cart_id, int) and cart_id > 0 else None)


def owner_of_cart(cart: Cart | None) -> Owner:
    """The owner of a cart the caller already holds (checkout's callers that pass the cart itself)."""
    if cart is None:
        return Owner(user_id=None)
    return Owner(user_id=cart.user_id) if cart.user_id is not None else Owner(user_id=None, session_cart=cart.pk)


# --- today's shop -------------------------------------------------------------------------------------------------


class LocalCart:
    """The monolith's own cart tables, through its selectors and services as they always were."""

    name = "local"
    remote = False

    @staticmethod
    def _cart(owner: Owner) -> Cart | None:
        if owner.user_id is not None:
            return selectors._with_items(Cart.objects.filter(user_id=owner.user_id)).first()  # noqa: SLF001
        if not owner.session_cart:
            return None
        return selectors._with_items(  # noqa: SLF001
            Cart.objects.filter(pk=owner.session_cart, user__isnull=True)).first()

    def read(self, owner: Owner) -> CartContents | None:
        cart = self._cart(owner)
        return CartContents(pk=cart.pk, items=list(cart.items.all())) if cart is not None else None

    def add(self, owner: Owner, product: Product, quantity: int,
            remember: Callable[[int], None] | None = None) -> int:
        cart = self._cart(owner)
        if cart is None:
            if owner.user_id is not None:
                cart = Cart.objects.get_or_create(user_id=owner.user_id)[0]
            else:
                cart = Cart.objects.create()
                if remember is not None:  # into the session at once, as cart_for_request(create=True) does
                    remember(cart.pk)
        services.cart_add(cart, product, quantity)
        return int(cart.pk)

    def set_quantity(self, owner: Owner, item_id: int, quantity: int) -> None:
        services.cart_set_quantity(self._cart(owner), item_id, quantity)

    def remove(self, owner: Owner, item_id: int) -> None:
        services.cart_remove(self._cart(owner), item_id)

    def merge(self, anonymous_cart: int, user: Any) -> None:
        anonymous = Cart.objects.filter(pk=anonymous_cart, user__isnull=True).first()
        if anonymous is None:
            return
        target, _ = Cart.objects.get_or_create(user=user)
        services.cart_merge(anonymous, target)

    def _items(self, owner: Owner) -> Any:
        if owner.user_id is not None:
            return CartItem.objects.filter(cart__user_id=owner.user_id)
        if owner.session_cart:
            return CartItem.objects.filter(cart_id=owner.session_cart, cart__user__isnull=True)
        return CartItem.objects.none()

    def quantities(self, owner: Owner, *, lock: bool = False) -> dict[int, int]:
        items = self._items(owner).order_by("product_id")
        if lock:
            # Locking the lines makes a second checkout of the same cart (a double-clicked "Place order") wait
            # for this one, then find them gone, instead of ordering them again from a stale read.
            items = items.select_for_update()
        return {item.product_id: item.quantity for item in items}

    def clear(self, owner: Owner, *, idempotency_key: str) -> list[ClearedLine]:
        """Inside checkout's transaction: its rollback is the undo (the key is not needed locally)."""
        items = self._items(owner)
        cleared: list[ClearedLine] = [{"id": i.pk, "product": i.product_id, "quantity": i.quantity}
                                      for i in items.order_by("id")]
        items.delete()
        return cleared

    def restore(self, owner: Owner, lines: Iterable[ClearedLine], *, idempotency_key: str) -> None:
        with transaction.atomic():
            cart = self._cart(owner)
            if cart is None:
                cart = Cart.objects.get_or_create(user_id=owner.user_id)[0] if owner.user_id is not None \
                    else Cart.objects.create()
            for line in lines:
                item, created = CartItem.objects.select_for_update().get_or_create(
                    cart=cart, product_id=line["product"], defaults={"quantity": line["quantity"]})
                if not created:
                    item.quantity = min(item.quantity + line["quantity"], services.MAX_LINE_QUANTITY)
                    item.save(update_fields=["quantity"])


# --- the switch ---------------------------------------------------------------------------------------------------


def remote_enabled() -> bool:
    return switches.is_enabled(SWITCH)


def cart_gateway() -> CartGateway:
    """The implementation in force now (read per call, cached for at most a second)."""
    return RemoteCart() if remote_enabled() else LocalCart()


def remote_configuration_problems() -> list[str]:
    """What stops RemoteCart from working with the current settings (empty when it can be switched on)."""
    return remote_settings_problems("CART_SERVICE_URL", "CART_SERVICE_TOKEN")


# --- what the callers do with a request ------------------------------------------------------------------------


def cart_of(request: Any) -> CartContents | None:
    """The caller's cart and its lines (the cart page)."""
    return cart_gateway().read(owner_of(request))


def item_count(request: Any) -> int | str:
    """The header's count. Local: ``cart_item_count(cart_for_request(request))`` as always. Remote: the
    service's; ``?`` when it does not answer, so that one failing capability does not take every page down."""
    gateway = cart_gateway()
    if not gateway.remote:
        return selectors.cart_item_count(selectors.cart_for_request(request))
    try:
        cart = gateway.read(owner_of(request))
    except CartUnavailable:
        return "?"
    return cart.item_count if cart is not None else 0


def add_for(request: Any, product: Product, quantity: int) -> None:
    """The caller's cart gets ``quantity`` more of ``product`` (made if needed; an anonymous visitor's new cart
    goes into the session, as ``cart_for_request(create=True)`` puts it)."""
    def remember(cart: int) -> None:
        request.session[selectors.SESSION_KEY] = cart

    cart_gateway().add(owner_of(request), product, quantity, remember)


def set_quantity_for(request: Any, item_id: int, quantity: int) -> None:
    cart_gateway().set_quantity(owner_of(request), item_id, quantity)


def remove_for(request: Any, item_id: int) -> None:
    cart_gateway().remove(owner_of(request), item_id)
