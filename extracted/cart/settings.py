"""The monolith's settings this service mirrors, the other services it calls, and the variables that set them.

The limits are Django's; the service keeps the same values so that a request refused by one side is refused
by the other, with the same answer. Read at startup (:func:`~extracted.cart.app.create_app`): a bad value
stops the service there, not on the first request.

| variable | default | |
| --- | --- | --- |
| ``CART_ALLOWED_HOSTS`` | ``localhost,127.0.0.1,[::1],testserver`` | the monolith's ``SHOP_ALLOWED_HOSTS`` |
| ``CART_MAX_REQUEST_BODY`` | 10 MiB | the monolith's ``SHOP_MAX_REQUEST_BODY`` |
| ``CART_CATALOG_URL`` | ``http://127.0.0.1:8080`` | the router: it sends the catalog's URLs to whoever owns them |
| ``CART_CATALOG_TIMEOUT`` | 5 | seconds |
| ``CART_MONOLITH_URL`` | ``http://127.0.0.1:8000`` | the owner of sessions (the monolith until the accounts move) |
| ``CART_MONOLITH_TIMEOUT`` | 5 | seconds |
| ``CART_SESSION_COOKIE`` | ``sessionid`` | the monolith's ``SESSION_COOKIE_NAME`` |
"""

from __future__ import annotations

import os
from typing import Final
from urllib.parse import urlsplit

from extracted.cart.exceptions import ConfigurationError

# Django's DATA_UPLOAD_* settings, at the monolith's values (its defaults): what one parsed body may hold.
DATA_UPLOAD_MAX_MEMORY_SIZE: Final = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS: Final = 1000
DATA_UPLOAD_MAX_NUMBER_FILES: Final = 100

ALLOWED_HOSTS_ENV: Final = "CART_ALLOWED_HOSTS"
DEFAULT_ALLOWED_HOSTS: Final = "localhost,127.0.0.1,[::1],testserver"  # the monolith's SHOP_ALLOWED_HOSTS default

MAX_REQUEST_BODY_ENV: Final = "CART_MAX_REQUEST_BODY"
DEFAULT_MAX_REQUEST_BODY: Final = 10 * 1024 * 1024  # the monolith's SHOP_MAX_REQUEST_BODY default

CATALOG_URL_ENV: Final = "CART_CATALOG_URL"
DEFAULT_CATALOG_URL: Final = "http://127.0.0.1:8080"  # the router
CATALOG_TIMEOUT_ENV: Final = "CART_CATALOG_TIMEOUT"
MONOLITH_URL_ENV: Final = "CART_MONOLITH_URL"
DEFAULT_MONOLITH_URL: Final = "http://127.0.0.1:8000"
MONOLITH_TIMEOUT_ENV: Final = "CART_MONOLITH_TIMEOUT"

SESSION_COOKIE_ENV: Final = "CART_SESSION_COOKIE"
DEFAULT_SESSION_COOKIE: Final = "sessionid"  # Django's SESSION_COOKIE_NAME


def allowed_hosts(raw: str | None = None) -> tuple[str, ...]:
    """Django's ALLOWED_HOSTS, from ``CART_ALLOWED_HOSTS`` (comma-separated)."""
    value = os.environ.get(ALLOWED_HOSTS_ENV, DEFAULT_ALLOWED_HOSTS) if raw is None else raw
    return tuple(host.strip() for host in value.split(",") if host.strip())


def max_request_body() -> int:
    """The hard limit on a request body (the monolith's ``SHOP_MAX_REQUEST_BODY``), from
    ``CART_MAX_REQUEST_BODY``. Below the 1 MiB a parser accepts it would refuse bodies the monolith takes."""
    raw = os.environ.get(MAX_REQUEST_BODY_ENV, "")
    if not raw.strip():
        return DEFAULT_MAX_REQUEST_BODY
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise ConfigurationError(f"{MAX_REQUEST_BODY_ENV}: {raw!r} is not a number of bytes of at least "
                                 f"{DATA_UPLOAD_MAX_MEMORY_SIZE}")
    return value


def base_url(env: str, default: str) -> str:
    """An http(s) base URL from ``env`` (its trailing slash removed)."""
    raw = os.environ.get(env, "").strip() or default
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{env}: {raw!r} is not an http(s) URL with a host")
    return raw.rstrip("/")


def timeout(env: str) -> float:
    """Seconds from ``env`` (default 5), between 0 and 300."""
    raw = os.environ.get(env, "").strip()
    try:
        value = float(raw) if raw else 5.0
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise ConfigurationError(f"{env}: {raw!r} is not a number of seconds between 0 and 300")
    return value


def session_cookie() -> str:
    return os.environ.get(SESSION_COOKIE_ENV, "").strip() or DEFAULT_SESSION_COOKIE
