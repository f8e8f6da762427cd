"""The catalog gateway: how orders take and give back stock (branch by abstraction).

Checkout and cancel no longer touch ``catalog.services`` directly; they ask :func:`stock_gateway` for the
implementation in force and call one small interface:

- ``reserve(quantities)`` takes ``{product_id: n}`` out of stock, all or nothing, and answers the product
  snapshots the order lines keep (``{product_id: {"sku", "name", "price"}}``); a shortage raises
  :class:`~legacy_monolith.exceptions.OutOfStock` with the 409 body checkout has always answered.
- ``release(quantities)`` gives stock back (a cancelled order, a checkout that failed after its reservation).

Two implementations:

- :class:`LocalStock`: the shop as it always was; the monolith's own ``catalog_product`` rows, locked and
  decremented inside the caller's database transaction.
- :class:`RemoteStock`: once the catalog is cut over, the catalog service owns the stock; the gateway calls
  its internal API (``POST /api/catalog/stock/reserve/`` and ``.../release/``, authorised by
  ``X-Service-Token``) with ``httpx``. Anything but an answer it understands is
  :class:`~legacy_monolith.exceptions.CatalogUnavailable` (503): never a 500, never a local fallback, so
  stock has one owner.

Which one is used is the ``catalog_gateway.remote`` switch in the database (:mod:`legacy_monolith.switches`),
read per call and cached for at most a second; ``python manage.py catalog_gateway local|remote|status`` flips
and shows it (the migration plan's hooks run it after cutover and after a rollback). The monolith still
READS products locally (names, prices, stock for display and cart checks): after cutover its catalog tables
are fed from the service.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Protocol, TypedDict

import httpx
from django.conf import settings
from django.db import transaction

from legacy_monolith import switches
from legacy_monolith.catalog import services as catalog_services
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import CatalogUnavailable, OutOfStock
from legacy_monolith.gateways import pooled_client, remote_settings_problems, response_json

SWITCH: Final = "catalog_gateway.remote"
TOKEN_HEADER: Final = "X-Service-Token"  # noqa: S105 - a header name
RESERVE_PATH: Final = "/api/catalog/stock/reserve/"
RELEASE_PATH: Final = "/api/catalog/stock/release/"
MAX_ITEMS: Final = 100  # the service's limit per request

log = logging.getLogger(__name__)


class ProductSnapshot(TypedDict):
    sku: str
    name: str
    price: Decimal


class StockGateway(Protocol):
    name: str
    remote: bool

    def reserve(self, quantities: dict[int, int]) -> dict[int, ProductSnapshot]: ...

    def release(self, quantities: dict[int, int]) -> None: ...


def short_message(short: list[dict[str, Any]]) -> str:
    names = ", ".join(f"{s['sku']} (requested {s['requested']}, available {s['available']})" for s in short)
    return f"Not enough stock for: {names}."


# --- today's shop -------------------------------------------------------------------------------------------------


class LocalStock:
    """The monolith's own stock, inside the caller's transaction (checkout's, cancel's)."""

    name = "local"
    remote = False

    def reserve(self, quantities: dict[int, int]) -> dict[int, ProductSnapshot]:
        _require_transaction()
        # Lock the rows in id order (PostgreSQL/MariaDB; SQLite already holds the write lock from BEGIN
        # IMMEDIATE) so prices and stock cannot change under us, and concurrent checkouts queue, not deadlock.
        products = {p.pk: p for p in Product.objects.select_for_update().filter(pk__in=quantities).order_by("pk")}
        short = [
            {"product": p.pk, "sku": p.sku, "requested": quantities[p.pk], "available": p.stock if p.is_active else 0}
            for p in products.values()
            if not p.is_active or p.stock < quantities[p.pk]
        ]
        if short:
            raise OutOfStock(short_message(short), items=short)
        catalog_services.stock_reserve(dict(quantities))
        return {pk: {"sku": p.sku, "name": p.name, "price": p.price} for pk, p in products.items()}

    def release(self, quantities: dict[int, int]) -> None:
        _require_transaction()
        catalog_services.stock_release(dict(quantities))


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("LocalStock takes part in the caller's transaction: call it inside transaction.atomic()")


# --- after cutover: the catalog service owns the stock -----------------------------------------------------------




class RemoteStock:
    """The catalog service's internal stock API, over HTTP."""

    name = "remote"
    remote = True

    def __init__(self, base_url: str | None = None, token: str | None = None, timeout: float | None = None) -> None:
        self.base_url = (base_url if base_url is not None else settings.CATALOG_SERVICE_URL).rstrip("/")
        self.token = token if token is not None else settings.CATALOG_SERVICE_TOKEN
        self.timeout = timeout if timeout is not None else settings.CATALOG_SERVICE_TIMEOUT

    def reserve(self, quantities: dict[int, int]) -> dict[int, ProductSnapshot]:
        if len(quantities) > MAX_ITEMS:
            # All or nothing cannot be split over requests; no cart of the shop's comes near this.
            raise CatalogUnavailable(f"The catalog service takes at most {MAX_ITEMS} different products per order.")
        response = self._post(RESERVE_PATH, quantities, what="reserve")
        body = response_json(response)
        if response.status_code == 409 and isinstance(body, dict) and body.get("code") == "out_of_stock":
            items = body.get("items")
            if isinstance(items, list):
                raise OutOfStock(str(body.get("detail") or short_message(items)), items=items)
        if response.status_code != 200:
            raise self._refused(response, body, what="reserve")
        try:
            snapshots: dict[int, ProductSnapshot] = {
                int(item["product"]): {"sku": str(item["sku"]), "name": str(item["name"]),
                                       "price": Decimal(str(item["price"]))}
                for item in body["items"]
            }
        except (KeyError, TypeError, ValueError, InvalidOperation):
            snapshots = {}
        if set(snapshots) != set(quantities):
            # Stock was taken but the answer cannot be used: give it back before refusing the checkout.
            log.error("catalog service answered an unusable reservation; releasing it",
                      extra={"quantities": quantities, "body": str(body)[:500]})
            self.release(quantities)
            raise CatalogUnavailable("The catalog service answered the reservation in a form the shop cannot use.")
        return snapshots

    def release(self, quantities: dict[int, int]) -> None:
        pairs = sorted(quantities.items())
        for start in range(0, len(pairs), MAX_ITEMS):  # additive, so it may be split
            chunk = dict(pairs[start:start + MAX_ITEMS])
            response = self._post(RELEASE_PATH, chunk, what="release")
            if response.status_code != 200:
                raise self._refused(response, response_json(response), what="release")

    # --- plumbing ---

    def _post(self, path: str, quantities: dict[int, int], *, what: str) -> httpx.Response:
        if not self.token:
            raise CatalogUnavailable("The catalog service cannot be used: CATALOG_SERVICE_TOKEN is not configured.")
        body = {"items": [{"product": pid, "quantity": n} for pid, n in sorted(quantities.items())]}
        try:
            return pooled_client(self.base_url, self.timeout).post(path, json=body, headers={TOKEN_HEADER: self.token})
        except httpx.HTTPError as exc:
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            # A request that went out and got no answer may have been applied; say so for whoever reconciles.
            log.error("catalog service %s failed: %s: %s", what, type(exc).__name__, exc,
                      extra={"quantities": quantities, "maybe_applied": sent, "url": f"{self.base_url}{path}"})
            raise CatalogUnavailable("The catalog service is unavailable; please try again in a moment.") from exc

    def _refused(self, response: httpx.Response, body: Any, *, what: str) -> CatalogUnavailable:
        log.error("catalog service refused %s: HTTP %s %s", what, response.status_code, str(body)[:500])
        if response.status_code in (401, 403):
            return CatalogUnavailable("The catalog service refused the shop's service token.")
        return CatalogUnavailable("The catalog service is unavailable; please try again in a moment.")

    def probe(self) -> str | None:
        """None when the service answers and accepts the token; else what is wrong (for ``catalog_gateway``).

        Sends an empty reservation: a service that knows the token refuses it with 400 and takes nothing.
        """
        if not self.token:
            return "CATALOG_SERVICE_TOKEN is not set"
        try:
            response = pooled_client(self.base_url, self.timeout).post(RESERVE_PATH, json={"items": []},
                                                                  headers={TOKEN_HEADER: self.token})
        except httpx.HTTPError as exc:
            return f"the catalog service at {self.base_url} does not answer ({type(exc).__name__}: {exc})"
        if response.status_code == 400:
            return None
        body = response_json(response)
        detail = body.get("detail") if isinstance(body, dict) else None
        return (f"the catalog service at {self.base_url} answered HTTP {response.status_code} to an authorised "
                f"probe{': ' + str(detail) if detail else ''}")


# --- the switch ---------------------------------------------------------------------------------------------------


def remote_enabled() -> bool:
    return switches.is_enabled(SWITCH)


def stock_gateway() -> StockGateway:
    """The implementation in force now (read per checkout/cancel, cached for at most a second)."""
    return RemoteStock() if remote_enabled() else LocalStock()


def remote_configuration_problems() -> list[str]:
    """What stops RemoteStock from working with the current settings (empty when it can be switched on)."""
    return remote_settings_problems("CATALOG_SERVICE_URL", "CATALOG_SERVICE_TOKEN")
