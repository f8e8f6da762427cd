"""The monolith's settings this service mirrors, and the environment variables that set them here.

The limits are Django's; the service keeps the same values so that a request refused by one side is
refused by the other, with the same answer. Read at startup (:func:`.app.create_app`): a
bad value stops the service there, not on the first request.
"""

from __future__ import annotations

import os
from typing import Final

from .exceptions import ConfigurationError

# Django's DATA_UPLOAD_* settings, at the monolith's values (its defaults): what one parsed body may hold.
DATA_UPLOAD_MAX_MEMORY_SIZE: Final = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS: Final = 1000
DATA_UPLOAD_MAX_NUMBER_FILES: Final = 100

ALLOWED_HOSTS_ENV: Final = "CART_ALLOWED_HOSTS"
DEFAULT_ALLOWED_HOSTS: Final = "localhost,127.0.0.1,[::1],testserver"  # the monolith's SHOP_ALLOWED_HOSTS default

MAX_REQUEST_BODY_ENV: Final = "CART_MAX_REQUEST_BODY"
DEFAULT_MAX_REQUEST_BODY: Final = 10 * 1024 * 1024  # the monolith's SHOP_MAX_REQUEST_BODY default


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
