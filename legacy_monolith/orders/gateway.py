"""The orders gateway: how the monolith's remaining code reaches the orders once the orders service owns them
(branch by abstraction, as the catalog and cart gateways).

What is left of the orders in the monolith after their cutover: the checkout page (``views.checkout_page``), and
the order following its shipment (``receivers.follow_shipment``). Both ask the ``orders_gateway.remote`` switch:

- off (the shop as it always was): the page places the order with ``orders.services.checkout``, the receiver
  moves the order with its shipment;
- on (after the cutover): the page asks the orders service (:class:`RemoteOrders`: ``POST
  /api/orders/internal/checkout/`` with ``X-Service-Token`` = ``ORDERS_SERVICE_TOKEN``, the signed-in user in the
  body, the page's own checkout key as ``Idempotency-Key``, so a form sent twice places one order), and the
  receiver steps aside: the service follows the shipment by event.

The API's writes (``/api/orders/`` checkout and cancel) do not come through here: the router sends them to the
service after the cutover. ``python manage.py orders_gateway local|remote|status`` flips and shows the switch (the
orders plan's hook runs it at the cutover, and its undo at a rollback).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import httpx
from django.conf import settings

from legacy_monolith import switches
from legacy_monolith.exceptions import OrdersUnavailable, ShopError
from legacy_monolith.gateways import remote_settings_problems, response_json

SWITCH: Final = "orders_gateway.remote"
TOKEN_HEADER: Final = "X-Service-Token"  # noqa: S105 - a header name
CHECKOUT_PATH: Final = "/api/orders/internal/checkout/"


def remote_enabled() -> bool:
    return switches.is_enabled(SWITCH)


def remote_configuration_problems() -> list[str]:
    return remote_settings_problems("ORDERS_SERVICE_URL", "ORDERS_SERVICE_TOKEN")


@dataclass(frozen=True)
class PlacedOrder:
    id: int
    number: str


class RemoteOrders:
    def __init__(self) -> None:
        self.base_url = settings.ORDERS_SERVICE_URL.rstrip("/")
        self.token = settings.ORDERS_SERVICE_TOKEN
        self.timeout = settings.ORDERS_SERVICE_TIMEOUT

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        try:
            return httpx.post(f"{self.base_url}{path}", json=body, timeout=self.timeout,
                              headers={TOKEN_HEADER: self.token, "Accept": "application/json", **headers})
        except httpx.HTTPError as exc:
            raise OrdersUnavailable(f"The orders service did not answer ({type(exc).__name__}); nothing was "
                                    "ordered. Please try again.") from None

    def checkout(self, *, user_id: int, shipping: dict[str, str], carrier: str, key: str) -> PlacedOrder:
        """The order the service placed; its refusals as the monolith's errors (the cart empty: a ShopError with
        that message; out of stock: the 409's detail)."""
        response = self._post(CHECKOUT_PATH, {"user": user_id, "shipping_address": shipping, "carrier": carrier},
                              {"Idempotency-Key": key})
        body = response_json(response)
        if response.status_code == 201 and isinstance(body, dict) and isinstance(body.get("id"), int):
            return PlacedOrder(id=body["id"], number=str(body.get("number") or f"ORD-{body['id']:08d}"))
        if response.status_code in (400, 409, 422) and isinstance(body, dict):
            if body.get("cart"):
                raise ShopError("Your cart is empty.")
            raise ShopError(str(body.get("detail") or "The order could not be placed."))
        raise OrdersUnavailable(f"The orders service answered {response.status_code}; nothing was ordered. Please "
                                "try again.")

    def probe(self) -> str | None:
        """None when the service answers and takes the token (an internal checkout without a user: its 400)."""
        if not self.token:
            return "ORDERS_SERVICE_TOKEN is not set"
        try:
            response = httpx.post(f"{self.base_url}{CHECKOUT_PATH}", json={}, timeout=5,
                                  headers={TOKEN_HEADER: self.token})
        except httpx.HTTPError as exc:
            return f"the orders service at {self.base_url} does not answer ({type(exc).__name__}: {exc})"
        if response.status_code == 400:
            return None
        return (f"the orders service at {self.base_url} answered HTTP {response.status_code} to an authorised "
                f"probe: {response.text[:200]}")
