"""Django-level error pages: JSON for the API (DRF's ``{"detail": ...}`` shape), HTML for pages.

These catch what never reaches a DRF view: unknown URLs, oversized bodies, disallowed hosts, CSRF
failures on pages, and crashes outside views. None shows a traceback.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.template import loader

_MESSAGES = {
    400: "Bad request.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    500: "Internal server error.",
    503: "This data is being moved and cannot be changed for a moment; try again shortly.",
}


def _respond(request, status: int, detail: str | None = None):
    detail = detail or _MESSAGES[status]
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=status)
    template = loader.get_template("error.html")
    return HttpResponse(template.render({"status": status, "detail": detail}), status=status)


def bad_request(request, exception=None):
    return _respond(request, 400)


def permission_denied(request, exception=None):
    return _respond(request, 403)


def page_not_found(request, exception=None):
    return _respond(request, 404)


def server_error(request):
    return _respond(request, 500)


def read_only(request):
    """A write the database refused as read-only (see ``database.refused_as_read_only``): retry shortly."""
    response = _respond(request, 503)
    response["Retry-After"] = "1"
    return response


def unavailable(request, detail: str):
    """A service the page needs (the cart's, after its cutover) did not answer: 503 saying so, retry shortly."""
    response = _respond(request, 503, detail)
    response["Retry-After"] = "1"
    return response


def csrf_failure(request, reason=""):
    return _respond(request, 403, "CSRF verification failed. Reload the page and try again.")
