"""The cart gateway's remote side (``gateway.py``): once the cart is cut over, the cart service owns the carts, and
:class:`RemoteCart` calls its internal API (``extracted/cart/internal.py``) with ``httpx``, authorised by
``X-Service-Token`` = ``CART_SERVICE_TOKEN``. Anything but an answer it understands is
:class:`~legacy_monolith.exceptions.CartUnavailable` (503): never a 500, never a local fallback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Final

import httpx
from django.conf import settings
from rest_framework.exceptions import NotFound, ValidationError

from legacy_monolith.cart.contents import CartContents, ClearedLine, Owner, RemoteLine
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import CartUnavailable, OutOfStock
from legacy_monolith.gateways import pooled_client, response_json

TOKEN_HEADER: Final = "X-Service-Token"  # noqa: S105 - a header name
INTERNAL: Final = "/api/cart/internal/"

log = logging.getLogger("legacy_monolith.cart.gateway")




UNAVAILABLE: Final = "The cart service is unavailable; please try again in a moment."


class RemoteCart:
    """The cart service's internal API, over HTTP."""

    name = "remote"
    remote = True

    def __init__(self, base_url: str | None = None, token: str | None = None, timeout: float | None = None) -> None:
        self.base_url = (base_url if base_url is not None else settings.CART_SERVICE_URL).rstrip("/")
        self.token = token if token is not None else settings.CART_SERVICE_TOKEN
        self.timeout = timeout if timeout is not None else settings.CART_SERVICE_TIMEOUT

    # --- the interface ---

    def read(self, owner: Owner) -> CartContents | None:
        cart, lines = self._cart(self._call("read", owner.body()))
        if cart is None:
            return None
        products = Product.objects.in_bulk([line["product"] for line in lines])
        # A line whose product the shop no longer has is not shown (the monolith deletes such lines with it).
        return CartContents(pk=cart, items=[RemoteLine(pk=line["id"], product=products[line["product"]],
                                                       quantity=line["quantity"])
                                            for line in lines if line["product"] in products])

    def add(self, owner: Owner, product: Product, quantity: int,
            remember: Callable[[int], None] | None = None) -> int:
        cart, _lines = self._cart(self._call("add", {**owner.body(), "product": product.pk, "quantity": quantity}))
        if cart is None:
            raise self._unusable("add", "no cart")
        if remember is not None and owner.user_id is None and cart != owner.session_cart:
            remember(cart)
        return cart

    def set_quantity(self, owner: Owner, item_id: int, quantity: int) -> None:
        self._cart(self._call("set-quantity", {**owner.body(), "item": item_id, "quantity": quantity}))

    def remove(self, owner: Owner, item_id: int) -> None:
        self._cart(self._call("remove", {**owner.body(), "item": item_id}))

    def merge(self, anonymous_cart: int, user: Any) -> None:
        body = self._call("merge", {"cart": anonymous_cart, "user": user.pk})
        if not isinstance(body, dict) or not isinstance(body.get("merged"), bool):
            raise self._unusable("merge", body)

    def quantities(self, owner: Owner, *, lock: bool = False) -> dict[int, int]:
        """The cart's quantities as the service has them now (``lock`` has no meaning across the wire: checkout
        compares them with what ``clear`` answers instead)."""
        _cart, lines = self._cart(self._call("read", owner.body()))
        # In product order, as LocalCart answers them: the order's lines are written in this order.
        return {line["product"]: line["quantity"] for line in sorted(lines, key=lambda line: line["product"])}

    def clear(self, owner: Owner, *, idempotency_key: str) -> list[ClearedLine]:
        _cart, lines = self._cart(self._call("clear", {**owner.body(), "idempotency_key": idempotency_key}))
        return lines

    def restore(self, owner: Owner, lines: Iterable[ClearedLine], *, idempotency_key: str) -> None:
        body = {**owner.body(), "lines": [dict(line) for line in lines], "idempotency_key": idempotency_key}
        self._cart(self._call("restore", body))

    # --- plumbing ---

    def _call(self, name: str, body: dict[str, Any]) -> Any:
        """POSTs to the internal route ``name``; the JSON answer of a 200, or the monolith's error for the
        service's own refusals (404, 409 out_of_stock, 400), or CartUnavailable for anything else."""
        if not self.token:
            raise CartUnavailable("The cart service cannot be used: CART_SERVICE_TOKEN is not configured.")
        path = f"{INTERNAL}{name}/"
        try:
            response = pooled_client(self.base_url, self.timeout).post(path, json=body,
                                                                       headers={TOKEN_HEADER: self.token})
        except httpx.HTTPError as exc:
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            log.error("cart service %s failed: %s: %s", name, type(exc).__name__, exc,
                      extra={"body": body, "maybe_applied": sent, "url": f"{self.base_url}{path}"})
            raise CartUnavailable(UNAVAILABLE) from exc
        answer = response_json(response)
        status = response.status_code
        if status == 200 and answer is not None:
            return answer
        if status == 409 and isinstance(answer, dict) and answer.get("code") == "out_of_stock" \
                and isinstance(answer.get("items"), list) and isinstance(answer.get("detail"), str):
            raise OutOfStock(answer["detail"], items=answer["items"])
        if status == 404 and name in ("set-quantity", "remove") and isinstance(answer, dict) \
                and isinstance(answer.get("detail"), str) and "code" not in answer:
            raise NotFound(answer["detail"])
        if status == 400 and isinstance(answer, dict) and answer and "code" not in answer \
                and all(isinstance(v, list) for v in answer.values()):
            raise ValidationError(answer)
        log.error("cart service refused %s: HTTP %s %s", name, status, response.text[:500], extra={"body": body})
        if status in (401, 403):
            raise CartUnavailable("The cart service refused the shop's service token.")
        raise CartUnavailable(UNAVAILABLE)

    def _cart(self, answer: Any) -> tuple[int | None, list[ClearedLine]]:
        """``{"cart", "lines"}`` checked, or CartUnavailable."""
        try:
            cart = answer["cart"]
            lines: list[ClearedLine] = [
                {"id": line["id"], "product": line["product"], "quantity": line["quantity"]}
                for line in answer["lines"]]
            ok = (cart is None or _an_int(cart)) and all(_an_int(v) for line in lines for v in line.values())
        except (KeyError, TypeError):
            ok = False
        if not ok:
            raise self._unusable("answer", answer)
        return cart, lines

    @staticmethod
    def _unusable(what: str, answer: Any) -> CartUnavailable:
        log.error("the cart service's %s cannot be used: %s", what, str(answer)[:500])
        return CartUnavailable("The cart service answered in a form the shop cannot use.")

    def probe(self) -> str | None:
        """None when the service answers and accepts the token; else what is wrong (for ``cart_gateway``).
        Reads the cart of an anonymous visitor without one: nothing is written."""
        if not self.token:
            return "CART_SERVICE_TOKEN is not set"
        try:
            response = pooled_client(self.base_url, self.timeout).post(f"{INTERNAL}read/", json={"session": None},
                                                                  headers={TOKEN_HEADER: self.token})
        except httpx.HTTPError as exc:
            return f"the cart service at {self.base_url} does not answer ({type(exc).__name__}: {exc})"
        if response.status_code == 200 and response_json(response) == {"cart": None, "lines": []}:
            return None
        return f"the cart service at {self.base_url} answered HTTP {response.status_code} to an authorised probe: " \
               f"{response.text[:200]}"


def _an_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
