from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from legacy_monolith.catalog.models import Product


class Cart(models.Model):
    """One per user; an anonymous visitor's cart is found through ``session['cart_id']``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="cart", on_delete=models.CASCADE
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"cart {self.pk} of {self.user_id or 'an anonymous visitor'}"

    def total(self) -> Decimal:
        return sum((item.line_total() for item in self.items.all()), Decimal("0.00"))


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, related_name="items", on_delete=models.CASCADE)
    product = models.ForeignKey(Product, related_name="cart_items", on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["cart", "product"], name="cart_item_one_line_per_product")]

    def __str__(self) -> str:
        return f"{self.quantity} x product {self.product_id}"

    def line_total(self) -> Decimal:
        # Always the product's current price: a cart is not a quote.
        return self.product.price * self.quantity
