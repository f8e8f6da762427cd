"""Request bodies at the edge: a hard size limit, chunked bodies, and reading what a view left unread.

Three things Django and gunicorn do not do by themselves:

- **A hard limit** (``MAX_REQUEST_BODY``, env ``SHOP_MAX_REQUEST_BODY``, default 10 MiB): a body declared (or,
  chunked, found) larger is answered 413 ``{"detail": "Request body too large: the limit is N bytes."}``
  before anything else looks at the request. Bodies up to twice the limit are read to their end first, so
  a client that writes its whole body before reading gets the 413 instead of a reset connection.
- **Chunked bodies** (``Transfer-Encoding: chunked``, no Content-Length): WSGI gives Django no length, and
  Django and DRF then read nothing, so a chunked JSON PATCH would be applied as an empty one. The WSGI
  wrapper reads such a body whole (within the limit) and hands it on with its Content-Length.
- **Unread bodies**: a view that answers without reading the body (a 401 to an anonymous upload, a 404)
  used to leave it in the socket; gunicorn then closed the connection under a client still writing, which
  saw a reset (or a broken pipe) instead of the answer. The middleware reads and discards what is left of
  the body (at most the limit) before the response goes out.

The 1 MiB ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is unchanged: JSON and form bodies above it are 400 once a view
parses them (multipart bodies too, see ``parsers.MultiPartParser``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError

OVER_LIMIT = "shop.body_over_limit"
CHUNK = 64 * 1024


def too_large_response() -> HttpResponse:
    limit = settings.MAX_REQUEST_BODY
    return JsonResponse({"detail": f"Request body too large: the limit is {limit} bytes."}, status=413)


def _declared_length(environ: dict[str, Any]) -> int | None:
    raw = environ.get("CONTENT_LENGTH")
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _discard(read: Callable[[int], bytes], limit: int) -> None:
    size = 0
    while size <= limit:
        try:
            chunk = read(CHUNK)
        except (OSError, UnreadablePostError, ValueError):
            return
        if not chunk:
            return
        size += len(chunk)


class ChunkedBodies:
    """WSGI wrapper: a chunked body is read whole (up to the limit) and handed on with its Content-Length;
    one over the limit is marked for :class:`RequestBodyLimitMiddleware` to refuse."""

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and _declared_length(environ) is None:
            limit = settings.MAX_REQUEST_BODY
            stream = environ["wsgi.input"]
            parts: list[bytes] = []
            size = 0
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    environ[OVER_LIMIT] = True
                    _discard(stream.read, limit)
                    parts = []
                    break
                parts.append(chunk)
            body = b"".join(parts)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


class RequestBodyLimitMiddleware:
    """413 for bodies over ``MAX_REQUEST_BODY``; afterwards, whatever of the body the view left is discarded.

    Sits after SecurityMiddleware and before CommonMiddleware: the 413 comes before the Host check, and
    carries the security headers and the request id but, like Django's other early answers, no
    X-Frame-Options.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.MAX_REQUEST_BODY
        declared = _declared_length(request.META)
        if request.META.get(OVER_LIMIT) or (declared is not None and declared > limit):
            _discard(request.read, 2 * limit)
            return too_large_response()
        response = self.get_response(request)
        if declared and not hasattr(request, "_body"):  # request.body holds all of it once read
            _discard(request.read, limit)
        return response
