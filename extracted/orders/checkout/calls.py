"""The other owners a checkout talks to, over their HTTP APIs: the catalog's stock reservations, the cart, the
shipments (shipping's owner, through the router: the monolith, then the shipping service once it owns them) and
the saved addresses (the accounts' owner, through the router likewise).

Each call is made from a saga step, so it may be made again (a retry, a replay after a crash): every write
carries a key that makes the repeat harmless (the reservation's ``Idempotency-Key``, the cart's
``idempotency_key``, the shipment's order id). What comes back is one of three things:

- the answer the step wanted;
- :class:`Refused`: the owner said no, for a reason a retry will not change (out of stock, an expired
  reservation, a cart that changed): the saga compensates and the client is told why;
- :class:`Unreachable`: no answer, or one the caller cannot use (a timeout, a refused connection, a 5xx, a
  body that is not what the API promises): the step is retried, and the saga compensates once retries run out.
  A write freeze (503 ``write_freeze`` or ``read_only``: the owner's data is moving) is one too, marked
  ``frozen`` with the owner's Retry-After, so that a checkout the freeze outlasts is answered as the freeze
  answers (503 ``write_freeze``: nothing was done, try again shortly), not as an owner that is down.

Both exceptions keep only plain values, so DBOS can record them with the step and replay them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx

from extracted.orders.callers import SERVICE_TOKEN_HEADER
from extracted.orders.outbound import base_url, timeout

CATALOG_URL_ENV: Final = "ORDERS_CATALOG_URL"
CART_URL_ENV: Final = "ORDERS_CART_URL"
# The router by default, like the shipments: it sends /api/accounts/internal/ to whoever owns the address books,
# so the saved-address look-up follows the accounts' cutover (and its rollback).
ACCOUNTS_URL_ENV: Final = "ORDERS_ACCOUNTS_URL"
# The router by default: it sends /api/shipping/ to whoever owns the shipments, so the saga's shipment calls
# follow the shipping cutover (and its rollback) without the orders service knowing; the cutover's write freeze
# answers them 503 for its few seconds, which the step retries.
SHIPPING_URL_ENV: Final = "ORDERS_SHIPPING_URL"
TIMEOUT_ENV: Final = "ORDERS_CALL_TIMEOUT"
# Each owner authorises its internal API with its own token; the orders service holds the three.
CATALOG_TOKEN_ENV: Final = "CATALOG_SERVICE_TOKEN"  # noqa: S105 - the variable's name
CART_TOKEN_ENV: Final = "CART_SERVICE_TOKEN"  # noqa: S105 - the variable's name
# The orders service's own token: the monolith's shipping and accounts internal APIs check it, and so does the
# shipping service's.
SHIPPING_TOKEN_ENV: Final = "ORDERS_SERVICE_TOKEN"  # noqa: S105 - the variable's name
# The codes of a 503 that says the owner's data is moving (the router's write freeze, a read-only copy).
FROZEN: Final = frozenset({"write_freeze", "read_only"})


class Refused(Exception):
    """An owner's considered no: ``status`` and ``body`` as it answered them."""

    def __init__(self, status: int, body: dict[str, Any], where: str = "") -> None:
        super().__init__(status, body, where)
        self.status, self.body, self.where = status, body, where

    def __str__(self) -> str:
        return f"{self.where} refused ({self.status}): {self.body}"


class Unreachable(Exception):
    """No usable answer (``why``): worth another try. ``frozen``: the owner's Retry-After when it answered that its
    data is frozen for a move (None for anything else)."""

    def __init__(self, why: str, frozen: str | None = None) -> None:
        super().__init__(why, frozen)   # both in args: DBOS pickles the exception with its step
        self.why, self.frozen = why, frozen

    def __str__(self) -> str:
        return self.why


def frozen_refusal(errors: Sequence[BaseException], what: str) -> dict[str, Any] | None:
    """A workflow's result when the last of a step's ``errors`` was an owner's write freeze: 503 ``write_freeze``
    with the owner's Retry-After, ``what`` saying what was not done (None when the step failed otherwise)."""
    last = errors[-1] if errors else None
    if not isinstance(last, Unreachable) or last.frozen is None:
        return None
    owner = str(last).split(":", 1)[0]
    return {"refused": 503, "retry_after": last.frozen,
            "body": {"detail": f"{what}: {owner} is moving its data and takes no writes for a few seconds. "
                               "Nothing was changed; try again shortly.", "code": "write_freeze"}}


@dataclass(frozen=True)
class Owner:
    """One owner's API: its base URL and the token its internal endpoints want."""

    name: str
    url: str
    token_env: str

    def post(self, client: httpx.Client, path: str, body: dict[str, Any], *,
             headers: dict[str, str] | None = None, refuse: tuple[int, ...] = (400, 404, 409, 422)) -> dict[str, Any]:
        """POST ``body`` as JSON; the 2xx answer's JSON object, :class:`Refused` for a status in ``refuse``,
        :class:`Unreachable` for anything else."""
        url = self.url + path
        sent = {"accept": "application/json", SERVICE_TOKEN_HEADER: os.environ.get(self.token_env, ""),
                **(headers or {})}
        try:
            response = client.post(url, json=body, headers=sent)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{self.name}: {url} did not answer ({type(exc).__name__}: {exc})") from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise Unreachable(f"{self.name}: {url} answered {response.status_code} without a JSON object")
        if 200 <= response.status_code < 300:
            return answer
        if response.status_code in refuse:
            raise Refused(response.status_code, answer, self.name)
        frozen = None
        if response.status_code == 503 and answer.get("code") in FROZEN:
            frozen = response.headers.get("retry-after") or "1"
        raise Unreachable(f"{self.name}: {url} answered {response.status_code}: {answer}", frozen)


class Calls:
    """The owners a checkout needs, from the environment (read once, at startup: a bad URL stops the service)."""

    def __init__(self) -> None:
        self.catalog = Owner("catalog", base_url(CATALOG_URL_ENV, "http://127.0.0.1:8101"), CATALOG_TOKEN_ENV)
        self.cart = Owner("cart", base_url(CART_URL_ENV, "http://127.0.0.1:8102"), CART_TOKEN_ENV)
        self.accounts = Owner("accounts", base_url(ACCOUNTS_URL_ENV, "http://127.0.0.1:8080"), SHIPPING_TOKEN_ENV)
        self.shipping = Owner("shipping", base_url(SHIPPING_URL_ENV, "http://127.0.0.1:8080"), SHIPPING_TOKEN_ENV)
        self.client = httpx.Client(timeout=timeout(TIMEOUT_ENV))

    def close(self) -> None:
        self.client.close()

    # --- the cart ---------------------------------------------------------------------------------------------

    def cart_lines(self, user_id: int) -> dict[int, int]:
        """``{product: quantity}`` of the user's cart (empty: no cart, or no lines)."""
        answer = self.cart.post(self.client, "/api/cart/internal/read/", {"user": user_id})
        return _quantities(answer, "cart read")

    def clear_cart(self, user_id: int, key: str) -> list[dict[str, Any]]:
        """Empties the user's cart; the lines it took (``id``, ``product``, ``quantity``), the same on a repeat."""
        answer = self.cart.post(self.client, "/api/cart/internal/clear/", {"user": user_id, "idempotency_key": key})
        _quantities(answer, "cart clear")
        return list(answer["lines"])

    def restore_cart(self, user_id: int, lines: list[dict[str, Any]], key: str) -> None:
        self.cart.post(self.client, "/api/cart/internal/restore/",
                       {"user": user_id, "lines": lines, "idempotency_key": key})

    # --- the catalog's stock -------------------------------------------------------------------------------------

    def reserve(self, quantities: dict[int, int], key: str, ttl_seconds: float) -> dict[str, Any]:
        """A reservation ``{"id", "expires_at", "products": [{"id", "sku", "name", "price"}, ...]}``; a shortage is
        :class:`Refused` with the catalog's 409 ``out_of_stock`` (the monolith's body)."""
        items = [{"product": pid, "quantity": n} for pid, n in sorted(quantities.items())]
        answer = self.catalog.post(self.client, "/api/catalog/reservations/",
                                   {"items": items, "ttl_seconds": ttl_seconds}, headers={"Idempotency-Key": key})
        if not isinstance(answer.get("id"), str):
            raise Unreachable(f"catalog: a reservation without an id: {answer}")
        return answer

    def commit(self, reservation_id: str) -> None:
        self.catalog.post(self.client, f"/api/catalog/reservations/{reservation_id}/commit/", {})

    def release_key(self, key: str) -> None:
        """Releases the reservation made with ``key`` if there is one (nothing to do when there is none)."""
        self.catalog.post(self.client, "/api/catalog/reservations/release/", {}, headers={"Idempotency-Key": key})

    # --- shipping, and the addresses (the accounts') ------------------------------------------------------------

    def request_shipment(self, order_id: int, user_id: int, carrier: str) -> dict[str, Any]:
        return self.shipping.post(self.client, "/api/shipping/internal/shipments/",
                                  {"order": order_id, "user": user_id, "carrier": carrier})

    def cancel_shipment(self, order_id: int) -> dict[str, Any] | None:
        """The order's shipment, cancelled (None: it has none); a shipment on its way is :class:`Refused` (409)."""
        answer = self.shipping.post(self.client, "/api/shipping/internal/shipments/cancel/", {"order": order_id})
        return None if answer.get("shipment", "") is None else answer

    def return_stock(self, quantities: dict[int, int], key: str) -> None:
        """A cancelled order's stock back at the catalog, once per ``key``."""
        items = [{"product": pid, "quantity": n} for pid, n in sorted(quantities.items())]
        self.catalog.post(self.client, "/api/catalog/stock/returns/", {"items": items},
                          headers={"Idempotency-Key": key})

    def saved_address(self, user_id: int, address_id: int) -> dict[str, str] | None:
        """The user's saved address ``address_id`` (the fields an order copies), None when it is not theirs."""
        try:
            return self.accounts.post(self.client, "/api/accounts/internal/addresses/",
                                      {"user": user_id, "address": address_id}, refuse=(404,))
        except Refused:
            return None


def _quantities(answer: dict[str, Any], what: str) -> dict[int, int]:
    lines = answer.get("lines")
    if not isinstance(lines, list):
        raise Unreachable(f"cart: {what} answered without lines: {answer}")
    out: dict[int, int] = {}
    for line in lines:
        if not isinstance(line, dict) or not isinstance(line.get("product"), int) \
                or not isinstance(line.get("quantity"), int):
            raise Unreachable(f"cart: {what} answered a line that is not {{product, quantity}}: {line}")
        out[line["product"]] = out.get(line["product"], 0) + line["quantity"]
    return out
