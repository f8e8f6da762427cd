"""Cart pages: the cart itself and the form posts that change it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from rest_framework.exceptions import NotFound

from legacy_monolith.cart import selectors, services
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import ShopError


class AddForm(forms.Form):
    product = forms.ModelChoiceField(queryset=Product.objects.filter(is_active=True))
    quantity = forms.IntegerField(min_value=1, max_value=services.MAX_LINE_QUANTITY, initial=1)


class UpdateForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=services.MAX_LINE_QUANTITY)


@require_safe
def cart_page(request):
    cart = selectors.cart_for_request(request)
    items = list(cart.items.all()) if cart else []
    total = sum(item.line_total() for item in items)
    return render(request, "cart/cart.html", {"items": items, "total": total})


@require_POST
def cart_add(request):
    form = AddForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That product cannot be added.")
        return redirect("home")
    try:
        services.cart_add(selectors.cart_for_request(request, create=True), form.cleaned_data["product"],
                          form.cleaned_data["quantity"])
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
    cart = selectors.cart_for_request(request)
    try:
        if form.cleaned_data["quantity"] == 0:
            services.cart_remove(cart, item_id)
        else:
            services.cart_set_quantity(cart, item_id, form.cleaned_data["quantity"])
    except (ShopError, NotFound) as exc:
        messages.error(request, str(getattr(exc, "detail", exc)))
    return redirect("cart-page")
