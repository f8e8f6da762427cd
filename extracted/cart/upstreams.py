"""What the cart calls and the cookie it reads: the other services' base URLs and timeouts, and the monolith's
session cookie name (the monolith's own limits are in :mod:`.settings`, the template's). Read at startup (the
URLs and timeouts by :class:`~.outbound.Upstream`, the template's): a bad value stops the service there, not on
the first request.

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

CATALOG_URL_ENV: Final = "CART_CATALOG_URL"
DEFAULT_CATALOG_URL: Final = "http://127.0.0.1:8080"  # the router
CATALOG_TIMEOUT_ENV: Final = "CART_CATALOG_TIMEOUT"
MONOLITH_URL_ENV: Final = "CART_MONOLITH_URL"
DEFAULT_MONOLITH_URL: Final = "http://127.0.0.1:8000"
MONOLITH_TIMEOUT_ENV: Final = "CART_MONOLITH_TIMEOUT"

SESSION_COOKIE_ENV: Final = "CART_SESSION_COOKIE"
DEFAULT_SESSION_COOKIE: Final = "sessionid"  # Django's SESSION_COOKIE_NAME


def session_cookie() -> str:
    return os.environ.get(SESSION_COOKIE_ENV, "").strip() or DEFAULT_SESSION_COOKIE
