"""What the cart calls and the cookie it reads: the other services' base URLs and timeouts, and the monolith's
session cookie name (the monolith's own limits are in :mod:`.settings`, the template's). Read at startup: a bad
value stops the service there, not on the first request.

| variable | default | |
| --- | --- | --- |
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

CATALOG_URL_ENV: Final = "CART_CATALOG_URL"
DEFAULT_CATALOG_URL: Final = "http://127.0.0.1:8080"  # the router
CATALOG_TIMEOUT_ENV: Final = "CART_CATALOG_TIMEOUT"
MONOLITH_URL_ENV: Final = "CART_MONOLITH_URL"
DEFAULT_MONOLITH_URL: Final = "http://127.0.0.1:8000"
MONOLITH_TIMEOUT_ENV: Final = "CART_MONOLITH_TIMEOUT"

SESSION_COOKIE_ENV: Final = "CART_SESSION_COOKIE"
DEFAULT_SESSION_COOKIE: Final = "sessionid"  # Django's SESSION_COOKIE_NAME


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
