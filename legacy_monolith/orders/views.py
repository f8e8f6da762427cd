"""Order pages: checkout from the cart, and one's orders."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe
from rest_framework.exceptions import ValidationError

from legacy_monolith.accounts.selectors import default_address
from legacy_monolith.cart.gateway import owner_of
from legacy_monolith.exceptions import ShopError
from legacy_monolith.orders import gateway, selectors, services


class CheckoutForm(forms.Form):
    full_name = forms.CharField(max_length=120)
    line1 = forms.CharField(max_length=200, label="Address")
    line2 = forms.CharField(max_length=200, required=False, label="Address (line 2)")
    city = forms.CharField(max_length=100)
    postal_code = forms.CharField(max_length=20)
    country = forms.RegexField(r"^[A-Za-z]{2}$", max_length=2, help_text="Two-letter code, e.g. SE")
    # One key per rendered form: the same form sent twice (a double click, a resubmit) places one order once the
    # orders service places them (its Idempotency-Key).
    checkout_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)


SHIPPING_FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def checkout_page(request):
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            shipping = {name: value for name, value in form.cleaned_data.items() if name != "checkout_key"}
            shipping["country"] = shipping["country"].upper()
            try:
                if gateway.remote_enabled():
                    key = form.cleaned_data["checkout_key"] or uuid.uuid4().hex
                    placed = gateway.RemoteOrders().checkout(user_id=request.user.pk, shipping=shipping,
                                                             carrier="postal", key=key)
                    # The order is the service's; this copy of it arrives a moment later (the data split).
                    messages.success(request, f"Thank you! Order {placed.number} is placed.")
                    return redirect("order-list")
                order = services.checkout(user=request.user, owner=owner_of(request), shipping=shipping)
            except ShopError as exc:
                messages.error(request, exc.detail)
                return redirect("cart-page")
            except ValidationError:
                messages.error(request, "Your cart is empty.")
                return redirect("cart-page")
            messages.success(request, f"Thank you! Order {order.number} is placed.")
            return redirect("order-detail", order_id=order.pk)
    else:
        address = default_address(request.user)
        initial = {name: getattr(address, name) for name in SHIPPING_FIELDS} if address else {}
        form = CheckoutForm(initial={**initial, "checkout_key": uuid.uuid4().hex})
    return render(request, "orders/checkout.html", {"form": form})


@login_required
@require_safe
def order_list_page(request):
    orders = selectors.order_list(request.user).filter(user=request.user)[:50]
    return render(request, "orders/order_list.html", {"orders": orders})


@login_required
@require_safe
def order_detail_page(request, order_id: int):
    order = get_object_or_404(selectors.order_list(request.user).filter(user=request.user), pk=order_id)
    return render(request, "orders/order_detail.html", {"order": order})
