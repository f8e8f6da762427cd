"""The products the cart's lines reference, read from the catalog's owner at request time.

A cart line keeps the product's id only; its sku, name and price (a cart is not a quote: totals follow the
current price) and the stock the quantities are checked against belong to the catalog, which is another
capability: the monolith's until the catalog's cutover, the catalog service's after. The cart asks
``GET {CART_CATALOG_URL}/api/catalog/internal/products/?ids=1,2,3`` (``X-Service-Token`` =
``CATALOG_SERVICE_TOKEN``, the token the catalog's internal endpoints take on both sides) and gets ``{"items":
[{"id", "sku", "name", "price", "stock", "is_active"}]}`` for the ids that exist. ``CART_CATALOG_URL``
defaults to the router (``http://127.0.0.1:8080``), which sends the URL to whoever owns the catalog.

A catalog that does not answer, refuses the token or answers something else is a 503 ``catalog_unavailable``
(the monolith's code when its own catalog gateway gets no answer): nothing is written on a guess.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import httpx

from extracted.cart.errors import CatalogUnavailable
from extracted.cart.outbound import Upstream
from extracted.cart.upstreams import CATALOG_TIMEOUT_ENV, CATALOG_URL_ENV, DEFAULT_CATALOG_URL

PATH: Final = "/api/catalog/internal/products/"
TOKEN_ENV: Final = "CATALOG_SERVICE_TOKEN"  # noqa: S105 - the variable's name, not a secret
BATCH: Final = 1000  # the most ids the batch read takes at once

log = logging.getLogger("extracted.cart.catalog")


@dataclass(frozen=True)
class Product:
    id: int
    sku: str
    name: str
    price: Decimal
    stock: int
    is_active: bool


def _product(item: Any) -> Product:
    """One item of the batch read's answer; ValueError (or KeyError, TypeError) when it is not one."""
    values = (item["id"], item["sku"], item["name"], item["price"], item["stock"], item["is_active"])
    pk, sku, name, price, stock, active = values
    if not (isinstance(pk, int) and isinstance(sku, str) and isinstance(name, str) and isinstance(price, str)
            and isinstance(stock, int) and isinstance(active, bool)) or isinstance(pk, bool) \
            or isinstance(stock, bool):
        raise ValueError(f"unexpected item {item!r}")
    try:
        amount = Decimal(price)
    except InvalidOperation:
        raise ValueError(f"unexpected price {price!r}") from None
    return Product(id=pk, sku=sku, name=name, price=amount, stock=stock, is_active=active)


class Catalog(Upstream):
    """Reads products from the catalog's owner (one client, pooled connections, for the app's life)."""

    def __init__(self, base: str | None = None, *, seconds: float | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base, seconds, url_env=CATALOG_URL_ENV, default_url=DEFAULT_CATALOG_URL,
                         timeout_env=CATALOG_TIMEOUT_ENV, transport=transport)

    async def products(self, ids: Iterable[int], *, request_id: str | None = None) -> dict[int, Product | None]:
        """Every id asked for, mapped to its product, or to None when the catalog has no such product."""
        wanted = sorted(set(ids))
        found: dict[int, Product | None] = dict.fromkeys(wanted)
        if not wanted:
            return found
        headers = self.service_headers(TOKEN_ENV, "read the catalog", request_id)
        url = self.base_url + PATH
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start:start + BATCH]
            try:
                response = await self.client().get(f"{url}?ids={','.join(map(str, chunk))}", headers=headers)
            except httpx.HTTPError as exc:
                log.warning("catalog batch read: %s did not answer: %s: %s", url, type(exc).__name__, exc,
                            extra={"request_id": request_id})
                raise self._unavailable() from None
            if response.status_code != 200:
                log.warning("catalog batch read: %s answered %s: %s", url, response.status_code,
                            response.text[:300], extra={"request_id": request_id})
                raise self._unavailable()
            try:
                for item in response.json()["items"]:
                    product = _product(item)
                    if product.id in found:
                        found[product.id] = product
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("catalog batch read: %s answered something else: %s", url, exc,
                            extra={"request_id": request_id})
                raise self._unavailable() from None
        return found

    @staticmethod
    def _unavailable() -> CatalogUnavailable:
        return CatalogUnavailable("The catalog cannot be reached right now; nothing was changed. Try again shortly.")
