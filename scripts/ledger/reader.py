"""Reading the ledger's products over HTTP, from a router or a backend: the read function the checker is
given outside tests."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from scripts.ledger.record import Found, LedgerError

PRODUCTS = "/api/catalog/products/"
CATEGORIES = "/api/catalog/categories/"
CLIENT_TIMEOUT = 45.0  # beyond the router's read timeouts (10 s service, 30 s monolith): the router answers first


class HttpReader:
    """Reads the ledger's products from a router or a backend: one listing of every product whose SKU has the
    ledger's stem (staff see inactive ones too), then a look-up by id of each known product the listing did not
    show, so that "gone" is a 404 of the product itself. Transient failures are retried for a while."""

    def __init__(self, base_url: str, headers: Mapping[str, str], stem: str, *, patience: float = 30.0) -> None:
        self.base_url, self.headers, self.stem, self.patience = base_url, dict(headers), stem, patience

    def __call__(self, wanted: Mapping[str, int | None]) -> Found:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=CLIENT_TIMEOUT) as http:
            listed: dict[str, Mapping[str, Any]] = {}
            page = 1
            while True:
                body = self._get(http, PRODUCTS, {"search": self.stem, "ordering": "id", "page_size": 100,
                                                  "page": page})
                if body is None:
                    raise LedgerError(f"{self.base_url}{PRODUCTS}?search={self.stem}&page={page}: 404")
                for product in body.get("results", []):
                    listed[product["sku"]] = product
                if not body.get("next"):
                    break
                page += 1
            found: dict[str, Mapping[str, Any] | None] = {}
            for sku, product_id in wanted.items():
                if sku in listed or product_id is None:
                    found[sku] = listed.get(sku)
                else:
                    found[sku] = self._get(http, f"{PRODUCTS}{product_id}/", None)
            return found

    def _get(self, http: httpx.Client, path: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.patience
        while True:
            problem: str
            try:
                response = http.get(path, params=params)
                if response.status_code == 404:
                    return None
                if response.status_code == 200:
                    body: dict[str, Any] = response.json()
                    return body
                problem = f"{response.status_code} {response.text[:200]}"
                if response.status_code < 500:
                    raise LedgerError(f"GET {path}: {problem}")
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise LedgerError(f"GET {path}: {problem} (for {self.patience:.0f} s)")
            time.sleep(0.5)
