"""What the orders service calls: another service's HTTP API (or the monolith's), its base URL and timeout from
the environment, one pooled client for the app's life, the headers of a call made as this service.

A client of one such API derives from :class:`Upstream`, naming its variables; it is built at startup, so a bad
value stops the service there (:class:`~.exceptions.ConfigurationError`), not on the first request.
"""

from __future__ import annotations

import os
from typing import Final
from urllib.parse import urlsplit

import httpx

from .exceptions import ConfigurationError, NotConfigured

DEFAULT_TIMEOUT: Final = 5.0  # seconds
MAX_TIMEOUT: Final = 300.0


def base_url(env: str, default: str) -> str:
    """An http(s) base URL from ``env``, else ``default`` (its trailing slash removed)."""
    raw = os.environ.get(env, "").strip() or default
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{env}: {raw!r} is not an http(s) URL with a host")
    return raw.rstrip("/")


def timeout(env: str) -> float:
    """Seconds from ``env`` (default 5), more than 0 and at most 300."""
    raw = os.environ.get(env, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_TIMEOUT:
        raise ConfigurationError(f"{env}: {raw!r} is not a number of seconds between 0 and 300")
    return value


class Upstream:
    """One HTTP API the service calls: ``base`` (else the URL in ``url_env``, else ``default_url``) and
    ``seconds`` (else ``timeout_env``'s); one client with pooled connections, made on first use, closed by
    :meth:`close` (the app's lifespan). ``transport``: tests answer in-process."""

    def __init__(self, base: str | None, seconds: float | None, *, url_env: str, default_url: str, timeout_env: str,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base.rstrip("/") if base else base_url(url_env, default_url)
        self.timeout = seconds if seconds is not None else timeout(timeout_env)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @staticmethod
    def service_headers(token_env: str, purpose: str, request_id: str | None) -> dict[str, str]:
        """A call made as this service: ``X-Service-Token`` from ``token_env``, JSON accepted, the request id
        passed on. An unset ``token_env`` is :class:`~.exceptions.NotConfigured` (503), saying what cannot be
        done (``purpose``) without it."""
        token = os.environ.get(token_env, "")
        if not token:
            raise NotConfigured(f"{token_env} is not set on the orders service, which cannot {purpose} without it.")
        headers = {"x-service-token": token, "accept": "application/json"}
        if request_id:
            headers["x-request-id"] = request_id
        return headers
