"""Domain errors of the shop and the API's exception handler.

Tree::

    ShopError                       (409 unless a subclass says otherwise)
    ├── OutOfStock                  409 out_of_stock      checkout, cart, stock adjustment
    ├── InvalidTransition           409 invalid_transition shipment status, order cancel
    ├── ProtectedObject             409 protected          deleting what orders still reference
    ├── IdempotencyConflict         409 idempotency_conflict an internal request repeated with other values
    ├── CatalogUnavailable          503 catalog_unavailable the catalog service (after cutover) did not answer
    ├── CartUnavailable             503 cart_unavailable   the cart service (after cutover) did not answer
    ├── OrdersUnavailable           503 orders_unavailable the orders service (after cutover) did not answer
    ├── AccountsUnavailable         503 accounts_unavailable the accounts service (after cutover) did not answer
    ├── TooManyLogins               429 throttled          the login throttle (accounts/throttle.py), Retry-After
    ├── ServiceTokenRefused         401 not_authenticated  an internal endpoint without the right X-Service-Token
    └── ServiceNotConfigured        503 not_configured     an internal endpoint whose token setting is empty

A write the database refuses as read-only (its data is moving to or from another database) is answered
503 read_only with ``Retry-After``: the client retries, nothing is broken.

Services raise these; the handler turns them into DRF-style bodies (``detail`` plus ``code``). Anything
unexpected becomes a JSON 500 naming the request id, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

from legacy_monolith.database import refused_as_read_only

logger = logging.getLogger(__name__)

READ_ONLY_DETAIL = "This data is being moved and cannot be changed for a moment; try again shortly."
READ_ONLY_RETRY_AFTER = "1"


class ShopError(Exception):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    headers: dict[str, str] = {}  # headers every answer of this error carries

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code, **self.extra}


class OutOfStock(ShopError):
    code = "out_of_stock"


class InvalidTransition(ShopError):
    code = "invalid_transition"


class ProtectedObject(ShopError):
    code = "protected"


class IdempotencyConflict(ShopError):
    """An internal request that repeats an earlier one (the same key: an order's shipment) with other values."""

    code = "idempotency_conflict"


class CatalogUnavailable(ShopError):
    """The catalog service, owner of the stock once the catalog is cut over, could not be used: down, slow,
    misconfigured, or answering something unexpected. Nothing was written locally; try again later."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "catalog_unavailable"


class CartUnavailable(ShopError):
    """The cart service, owner of the carts once the cart is cut over, could not be used: down, slow, misconfigured,
    or answering something unexpected (``legacy_monolith/cart/gateway.py``). Pages answer it 503 too."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "cart_unavailable"


class OrdersUnavailable(ShopError):
    """The orders service, owner of the orders once they are cut over, could not place the checkout page's order:
    down, slow, or answering something unexpected (``legacy_monolith/orders/gateway.py``)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "orders_unavailable"


class AccountsUnavailable(ShopError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "accounts_unavailable"


class TooManyLogins(ShopError):
    """The login throttle refused a login (``accounts/throttle.py``): 429 with ``Retry-After``."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "throttled"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


class ServiceTokenRefused(ShopError):
    """An internal endpoint (``legacy_monolith/internal.py``) called without its ``X-Service-Token``, or with a
    wrong one: answered as the services answer it (``{"detail", "code": "not_authenticated"}``)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    code = "not_authenticated"
    headers = {"WWW-Authenticate": "X-Service-Token"}


class ServiceNotConfigured(ShopError):
    """An internal endpoint whose token setting is empty: disabled, whoever calls."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "not_configured"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ShopError):
        return Response(exc.body(), status=exc.status_code, headers=exc.headers or None)
    if isinstance(exc, ProtectedError):
        return Response(
            {"detail": "This object is still referenced and cannot be deleted.", "code": "protected"},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    response = exception_handler(exc, context)
    if response is not None or isinstance(exc, Http404 | PermissionDenied):
        return response
    if isinstance(exc, SuspiciousOperation):
        # E.g. a body above DATA_UPLOAD_MAX_MEMORY_SIZE, met when a view first reads request.data: re-raised, so
        # Django answers it as it does outside views (400 through handler400, logged under django.security).
        return None
    if isinstance(exc, DatabaseError) and refused_as_read_only(exc):
        return Response({"detail": READ_ONLY_DETAIL, "code": "read_only"}, status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": READ_ONLY_RETRY_AFTER})
    request = context.get("request")
    request_id = getattr(getattr(request, "_request", request), "request_id", None)
    logger.exception("unhandled error in API view", extra={"request_id": request_id})
    return Response(
        {"detail": "Internal server error.", "code": "server_error", "request_id": request_id},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
