"""Whether orders reference a product: asked of the orders' owner before a product is deleted.

The monolith refuses to delete a product that an order line references (a PROTECT foreign key: 409
``protected``). The catalog service has no orders (they are another capability's data, in another database),
so before it deletes a product it asks the side that owns them, over its HTTP API:
``GET {CATALOG_MONOLITH_URL}/api/orders/product-references/{id}/`` → ``{"order_lines": n}``. Until the orders
are extracted that is the monolith (default ``http://127.0.0.1:8000``); afterwards, point the variable at the
orders service. The request carries the caller's own credential (``Authorization``, ``Cookie``: the router
passes them on) and, when set, ``CATALOG_SERVICE_TOKEN`` as ``X-Service-Token``.

Nothing is deleted unless the answer says no order references the product: an owner that does not answer
(down, slow, refusing, answering something else) is a 503 ``orders_unavailable``, never a guess. Deleting an
ordered product would also stop the reverse sync, which could not apply the delete to the monolith's copy
that the order lines still reference.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Final

import httpx

from extracted.catalog.callers import SERVICE_TOKEN_ENV, SERVICE_TOKEN_HEADER
from extracted.catalog.errors import OrdersUnavailable
from extracted.catalog.outbound import Upstream

URL_ENV: Final = "CATALOG_MONOLITH_URL"
TIMEOUT_ENV: Final = "CATALOG_MONOLITH_TIMEOUT"
DEFAULT_URL: Final = "http://127.0.0.1:8000"
PATH: Final = "/api/orders/product-references/{id}/"
PASSED_ON: Final = ("authorization", "cookie")

log = logging.getLogger("extracted.catalog.orders")


class OrderReferences(Upstream):
    """Asks the orders' owner how many order lines reference a product."""

    def __init__(self, base_url: str | None = None, *, timeout: float | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, timeout, url_env=URL_ENV, default_url=DEFAULT_URL, timeout_env=TIMEOUT_ENV,
                         transport=transport)

    async def count(self, product_id: int, caller_headers: Mapping[str, str]) -> int:
        """The number of order lines referencing ``product_id``; :class:`OrdersUnavailable` if unknown."""
        url = self.base_url + PATH.format(id=product_id)
        headers = {name: caller_headers[name] for name in PASSED_ON if name in caller_headers}
        token = os.environ.get(SERVICE_TOKEN_ENV, "")
        if token:
            headers[SERVICE_TOKEN_HEADER] = token
        try:
            response = await self.client().get(url, headers={**headers, "accept": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("order references of product %s: %s: %s", product_id, type(exc).__name__, exc)
            raise self._unavailable(f"{url} did not answer ({type(exc).__name__})") from None
        if response.status_code != 200:
            log.warning("order references of product %s: %s answered %s", product_id, url, response.status_code)
            raise self._unavailable(f"{url} answered {response.status_code}")
        try:
            lines = response.json()["order_lines"]
        except (ValueError, KeyError, TypeError):
            lines = None
        if not isinstance(lines, int) or isinstance(lines, bool) or lines < 0:
            raise self._unavailable(f"{url} answered something else than {{\"order_lines\": n}}")
        return lines

    @staticmethod
    def _unavailable(why: str) -> OrdersUnavailable:
        return OrdersUnavailable(f"Could not learn whether orders reference this product ({why}; set {URL_ENV} "
                                 "to the orders' owner); nothing was deleted.")
