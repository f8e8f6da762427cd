"""Request ids and the access log; a write the database refuses as read-only answered 503, not 500.

The router creates or propagates ``X-Request-ID``; the shop keeps it (when it is a sane token), returns it,
and writes it on its access log line, so one request can be followed across processes.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.db import DatabaseError

from legacy_monolith import errors
from legacy_monolith.database import refused_as_read_only
from legacy_monolith.exceptions import CartUnavailable

access_log = logging.getLogger("legacy_monolith.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        # A client-chosen id is only an echo for correlation; anything odd is replaced, never logged raw.
        request.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        user = getattr(request, "user", None)
        access_log.info(
            "request",
            extra={
                "request_id": request.request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        return response


class ReadOnlyRefusalMiddleware:
    """Pages (the API's handler does the same for DRF views): a write the database refused because its data is
    moving between databases is a 503 with Retry-After, not a 500 with a traceback in the log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DatabaseError) and refused_as_read_only(exception):
            return errors.read_only(request)
        if isinstance(exception, CartUnavailable):  # the cart service (after the cart's cutover) did not answer
            return errors.unavailable(request, exception.detail)
        return None
