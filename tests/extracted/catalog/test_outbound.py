"""The catalog's client of the orders' owner takes its URL and timeout as every service's clients do (the
template's outbound.py, held equal in each service that calls another): checked at startup, naming the variable."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import Engine

from extracted.catalog.app import create_app
from extracted.catalog.exceptions import ConfigurationError
from extracted.catalog.orders import OrderReferences


def test_defaults_and_explicit_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CATALOG_MONOLITH_URL", raising=False)
    monkeypatch.delenv("CATALOG_MONOLITH_TIMEOUT", raising=False)
    default = OrderReferences()
    assert (default.base_url, default.timeout) == ("http://127.0.0.1:8000", 5.0)
    monkeypatch.setenv("CATALOG_MONOLITH_URL", " https://orders.example:8443/ ")
    monkeypatch.setenv("CATALOG_MONOLITH_TIMEOUT", "0.5")
    configured = OrderReferences()
    assert (configured.base_url, configured.timeout) == ("https://orders.example:8443", 0.5)
    explicit = OrderReferences("http://orders.test/", timeout=2.0)
    assert (explicit.base_url, explicit.timeout) == ("http://orders.test", 2.0)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("CATALOG_MONOLITH_URL", "127.0.0.1:8000", "CATALOG_MONOLITH_URL: '127.0.0.1:8000' is not an http(s) URL"),
    ("CATALOG_MONOLITH_URL", "ftp://orders", "CATALOG_MONOLITH_URL: 'ftp://orders' is not an http(s) URL"),
    ("CATALOG_MONOLITH_TIMEOUT", "0", "CATALOG_MONOLITH_TIMEOUT: '0' is not a number of seconds between 0 and 300"),
    ("CATALOG_MONOLITH_TIMEOUT", "301", "CATALOG_MONOLITH_TIMEOUT: '301' is not a number of seconds"),
    ("CATALOG_MONOLITH_TIMEOUT", "soon", "CATALOG_MONOLITH_TIMEOUT: 'soon' is not a number of seconds"),
])
def test_a_bad_value_stops_the_app_at_startup(monkeypatch: pytest.MonkeyPatch, engine: Engine, variable: str,
                                              value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OrderReferences()
    with pytest.raises(ConfigurationError, match=variable):
        create_app(engine)


def test_one_client_for_the_apps_life_closed_at_shutdown() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"order_lines": 3})

    references = OrderReferences("http://orders.test", transport=httpx.MockTransport(answer))

    async def run() -> None:
        first = references.client()
        assert await references.count(7, {}) == 3
        assert references.client() is first
        await references.close()
        assert first.is_closed
        assert references.client() is not first
        await references.close()

    asyncio.run(run())
    assert seen == ["http://orders.test/api/orders/product-references/7/"]
