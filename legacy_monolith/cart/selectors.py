"""Finding the caller's cart: by user when logged in, else through the session's ``cart_id``."""

from __future__ import annotations

from django.db.models import Prefetch

from legacy_monolith.cart.models import Cart, CartItem

SESSION_KEY = "cart_id"


def _with_items(qs):
    return qs.prefetch_related(
        Prefetch("items", queryset=CartItem.objects.select_related("product").order_by("id"))
    )


def cart_for_request(request, *, create: bool = False) -> Cart | None:
    user = request.user
    if user.is_authenticated:
        cart = _with_items(Cart.objects.filter(user=user)).first()
        if cart is None and create:
            cart, _ = Cart.objects.get_or_create(user=user)
        return cart
    cart_id = request.session.get(SESSION_KEY)
    cart = _with_items(Cart.objects.filter(pk=cart_id, user__isnull=True)).first() if cart_id else None
    if cart is None and create:
        cart = Cart.objects.create()
        request.session[SESSION_KEY] = cart.pk
    return cart


def cart_item_count(cart: Cart | None) -> int:
    return sum(item.quantity for item in cart.items.all()) if cart else 0
