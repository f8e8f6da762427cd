"""A token's request to the orders API leaves the session alone: answered without ``Vary: Cookie``, as the orders
service (which has no sessions) answers it. The orders plan's contract check found the checkout varying on the
cookie once the cart gateway looked in every signed-in request's session for a pending login merge."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ADDRESS = {"full_name": "A", "line1": "1 Way", "city": "Town", "postal_code": "1", "country": "GB"}


def test_a_token_s_checkout_does_not_vary_on_the_cookie(client_for, customer, make_product) -> None:
    api = client_for(customer)
    refused = api.post("/api/orders/checkout/", {"shipping_address": ADDRESS}, format="json")
    assert refused.status_code == 400
    assert "Cookie" not in refused.get("Vary", "")
    product = make_product(stock=5)
    assert api.post("/api/cart/items/", {"product": product.pk, "quantity": 1}, format="json").status_code == 201
    placed = api.post("/api/orders/checkout/", {"shipping_address": ADDRESS}, format="json")
    assert placed.status_code == 201, placed.content
    assert "Cookie" not in placed.get("Vary", "")
