"""Cart pages: the cart itself and the form posts that change it, through the cart gateway (``gateway.py``: the
monolith's own tables, or the cart service after the cart's cutover)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from rest_framework.exceptions import NotFound

from legacy_monolith.cart import gateway, services
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import ShopError


class AddForm(forms.Form):
    product = forms.ModelChoiceField(queryset=Product.objects.filter(is_active=True))
    quantity = forms.IntegerField(min_value=1, max_value=services.MAX_LINE_QUANTITY, initial=1)


class UpdateForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=services.MAX_LINE_QUANTITY)


@require_safe
def cart_page(request):
    cart = gateway.cart_of(request)
    items = list(cart.items) if cart else []
    total = sum(item.line_total() for item in items)
    return render(request, "cart/cart.html", {"items": items, "total": total})


@require_POST
def cart_add(request):
    form = AddForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That product cannot be added.")
        return redirect("home")
    try:
        gateway.add_for(request, form.cleaned_data["product"], form.cleaned_data["quantity"])
    except ShopError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"Added {form.cleaned_data['product'].name} to your cart.")
    return redirect("cart-page")


@require_POST
def cart_update(request, item_id: int):
    form = UpdateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Quantity must be a whole number from 0 to 1000.")
        return redirect("cart-page")
    try:
        if form.cleaned_data["quantity"] == 0:
            gateway.remove_for(request, item_id)
        else:
            gateway.set_quantity_for(request, item_id, form.cleaned_data["quantity"])
    except (ShopError, NotFound) as exc:
        messages.error(request, str(getattr(exc, "detail", exc)))
    return redirect("cart-page")
