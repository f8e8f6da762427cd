"""Fixtures shared by the order tests: filling a user's cart and a valid inline shipping address."""

from __future__ import annotations

import pytest

from legacy_monolith.cart.models import Cart, CartItem


@pytest.fixture
def ship_to() -> dict:
    return {"full_name": "Alice Liddell", "line1": "1 Rabbit Hole", "city": "Oxford", "postal_code": "OX1 1AA",
            "country": "gb"}


@pytest.fixture
def fill_cart(db):
    """``fill_cart(user, {product: quantity, ...})``: puts lines straight into the user's cart."""

    def fill(user, lines: dict) -> Cart:
        cart, _ = Cart.objects.get_or_create(user=user)
        for product, quantity in lines.items():
            CartItem.objects.create(cart=cart, product=product, quantity=quantity)
        return cart

    return fill


@pytest.fixture
def place_order(fill_cart, ship_to):
    """``place_order(user, {product: quantity})``: a real checkout through the service."""
    from legacy_monolith.orders import services

    def place(user, lines: dict, carrier: str = "postal"):
        cart = fill_cart(user, lines)
        return services.checkout(user=user, cart=cart, shipping=dict(ship_to, country="GB"), carrier=carrier)

    return place
