"""Settings of the legacy shop. Everything that differs between machines comes from the environment.

- ``MONOLITH_DATABASE_URL``: the one database (default: a SQLite file under ``var/``).
- ``DJANGO_SECRET_KEY``: signing key; when unset, one is generated once into ``var/secret_key``.
- ``DJANGO_DEBUG``: ``1`` for tracebacks in pages (never in production).
- ``SHOP_ALLOWED_HOSTS``: comma-separated host names.
- ``SHOP_VAR_DIR``: where runtime files go (default ``var/`` at the repository root).
- ``CATALOG_SERVICE_URL`` / ``CATALOG_SERVICE_TOKEN``: the catalog service that owns the stock once the catalog
  is cut over (``python manage.py catalog_gateway remote``); see ``legacy_monolith/catalog/gateway.py``.
- ``CATALOG_SERVICE_TIMEOUT``: seconds the gateway waits for the catalog service (default 5).
- ``CART_SERVICE_TOKEN``: shared with the cart service; it authorises the internal session API
  (``/api/internal/session/cart/``), which is disabled while it is empty, and the cart gateway's calls.
- ``CART_SERVICE_URL`` / ``CART_SERVICE_TIMEOUT``: the cart service that owns the carts once the cart is cut over
  (``python manage.py cart_gateway remote``; default http://127.0.0.1:8102, 5 seconds); see
  ``legacy_monolith/cart/gateway.py``.
- ``ORDERS_SERVICE_TOKEN``: shared with the orders service; it authorises the internal shipping API its checkout
  saga calls (``/api/shipping/internal/shipments/``), which is disabled while it is empty, and the orders
  gateway's calls to the service. ``ORDERS_SERVICE_URL`` / ``ORDERS_SERVICE_TIMEOUT``: the orders service that
  owns the orders once they are cut over (``python manage.py orders_gateway remote``).
- ``SHOP_MAX_REQUEST_BODY``: bytes; a larger request body is refused with 413 (default 10 MiB); see
  ``legacy_monolith/limits.py``.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from legacy_monolith.database import database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SHOP_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    from_env = os.environ.get("DJANGO_SECRET_KEY")
    if from_env:
        return from_env
    path = VAR_DIR / "secret_key"
    try:
        # O_EXCL: of several gunicorn workers starting at once, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    for _ in range(100):
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty; delete it or set DJANGO_SECRET_KEY")


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("SHOP_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "legacy_monolith",
    "legacy_monolith.accounts",
    "legacy_monolith.catalog",
    "legacy_monolith.cart",
    "legacy_monolith.orders",
    "legacy_monolith.shipping",
    "legacy_monolith.events",
    # The migration toolkit: `python manage.py strangler ...` (it never imports the shop, nor the reverse).
    "strangler",
]

MIDDLEWARE = [
    "legacy_monolith.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # 413 over MAX_REQUEST_BODY (before the Host check), and the unread rest of any body read before answering.
    "legacy_monolith.limits.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "legacy_monolith.middleware.ReadOnlyRefusalMiddleware",
]

ROOT_URLCONF = "legacy_monolith.urls"
WSGI_APPLICATION = "legacy_monolith.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "legacy_monolith.cart.context_processors.cart_summary",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(
        os.environ.get("MONOLITH_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'shop.sqlite3'}", var_dir=VAR_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
SESSION_ENGINE = "legacy_monolith.sessions"  # database sessions; see there for what it adds
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Bodies above this are refused with 400 when a view parses them (a product description is far smaller);
# multipart ones too (legacy_monolith.parsers.MultiPartParser), files included.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Bodies above this are refused with 413 before anything else (legacy_monolith/limits.py); what a view leaves
# unread of a smaller one is read and discarded before answering, so the client always gets the answer.
MAX_REQUEST_BODY = int(os.environ.get("SHOP_MAX_REQUEST_BODY") or 10 * 1024 * 1024)

REST_FRAMEWORK = {
    # Token first: an anonymous API call then gets 401 with WWW-Authenticate, not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "legacy_monolith.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "legacy_monolith.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "legacy_monolith.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "legacy_monolith.pagination.ShopPagination",
    "DEFAULT_SCHEMA_CLASS": "legacy_monolith.schema.ShopAutoSchema",  # documents the 4xx too
    "EXCEPTION_HANDLER": "legacy_monolith.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Legacy shop API",
    "DESCRIPTION": "The monolith's API: one prefix per app, so a router can move each to its own service.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CarrierEnum": "legacy_monolith.shipping.models.Shipment.Carrier",
        "ShipmentStatusEnum": "legacy_monolith.shipping.models.Shipment.Status",
        "OrderStatusEnum": "legacy_monolith.orders.models.Order.Status",
        "ShipmentStatusChangeEnum": ["packed", "shipped", "in_transit", "delivered"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "legacy_monolith.logging.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stderr"], "level": os.environ.get("SHOP_LOG_LEVEL", "INFO")},
    "loggers": {
        # The access log below replaces Django's own request logging, which would duplicate each 4xx.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # One line per outgoing call (the catalog gateway, the toolkit's commands talking to the router)
        # would drown the commands' own output.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
CSRF_FAILURE_VIEW = "legacy_monolith.errors.csrf_failure"

# The catalog gateway (branch by abstraction): orders take stock through it; once the catalog is cut over,
# a switch in the database (`python manage.py catalog_gateway remote`) sends it to the catalog service.
CATALOG_SERVICE_URL = os.environ.get("CATALOG_SERVICE_URL", "http://127.0.0.1:8101")
CATALOG_SERVICE_TOKEN = os.environ.get("CATALOG_SERVICE_TOKEN", "")
CATALOG_SERVICE_TIMEOUT = float(os.environ.get("CATALOG_SERVICE_TIMEOUT", "5"))

# The cart service reads and sets the anonymous cart's id in the shopper's session through an internal API
# (legacy_monolith/cart/apis.py, SessionCartApi) that only callers holding this token may use.
CART_SERVICE_TOKEN = os.environ.get("CART_SERVICE_TOKEN", "")
# The cart gateway: the cart pages, the header's count, the login merge and checkout reach the cart service here
# once `python manage.py cart_gateway remote` (the cart plan's cutover) switched them.
CART_SERVICE_URL = os.environ.get("CART_SERVICE_URL", "http://127.0.0.1:8102")
CART_SERVICE_TIMEOUT = float(os.environ.get("CART_SERVICE_TIMEOUT", "5"))

# The orders service's checkout saga asks for (and cancels) shipments through an internal API
# (legacy_monolith/shipping/internal.py) that only callers holding this token may use; the orders gateway
# (legacy_monolith/orders/gateway.py) sends the checkout page's orders to the service with it, once the orders
# are cut over (`python manage.py orders_gateway remote`). A checkout may take a saga's time: 30 s by default.
ORDERS_SERVICE_TOKEN = os.environ.get("ORDERS_SERVICE_TOKEN", "")
# The accounts service the accounts gateway calls in remote mode (the login page, after the accounts' cutover).
ACCOUNTS_SERVICE_URL = os.environ.get("ACCOUNTS_SERVICE_URL", "http://127.0.0.1:8105")
ACCOUNTS_SERVICE_TIMEOUT = float(os.environ.get("ACCOUNTS_SERVICE_TIMEOUT", "5"))
ACCOUNTS_SERVICE_TOKEN = os.environ.get("ACCOUNTS_SERVICE_TOKEN", "")
# How long a remote login waits for the reverse sync to bring the user's (upgraded or new) password hash before it
# opens the session (legacy_monolith/accounts/gateway.py: wait_for_the_copy).
ACCOUNTS_SYNC_WAIT = float(os.environ.get("ACCOUNTS_SYNC_WAIT", "2"))
# In remote mode an API token is the service's to vouch for (legacy_monolith/authentication.py): a token it vouched
# for is taken for this many seconds without asking again, so a logout at the service is refused here within it
# (under the router's identity cache of 5 s and the documented bound of 6 s; the reverse sync's lag, 2-3 s under the
# e2e's traffic and unbounded when its follower is down, no longer decides).
ACCOUNTS_TOKEN_CACHE_SECONDS = float(os.environ.get("ACCOUNTS_TOKEN_CACHE_SECONDS", "3"))
# Peers whose X-Forwarded-For names the client (the router sets it to the client's address, whatever the client
# sent): the login throttle counts failures per client by it (legacy_monolith/accounts/throttle.py).
TRUSTED_PROXIES = frozenset(p.strip() for p in os.environ.get("SHOP_TRUSTED_PROXIES", "127.0.0.1,::1").split(",")
                            if p.strip())
ORDERS_SERVICE_URL = os.environ.get("ORDERS_SERVICE_URL", "http://127.0.0.1:8103")
ORDERS_SERVICE_TIMEOUT = float(os.environ.get("ORDERS_SERVICE_TIMEOUT", "30"))
