"""JSON answers byte for byte as the monolith renders them: DRF's JSONRenderer (compact unless the client's
``Accept`` asked for an indent), or Django's own JsonResponse for the answers Django gives before DRF. The
service's own resources are rendered in ``rendering.py``; every answer goes out through here."""

from __future__ import annotations

import json
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Final
from urllib.parse import quote

import orjson
from starlette.responses import Response

from .exceptions import ApiError

IRI_SAFE: Final = "/#%[]=:;$&()+,!?*@'~"  # what Django's iri_to_uri leaves as it is

# The JSON indent DRF would render this request's answers with (its Accept header's ``indent``), set by
# :func:`.views.negotiate` for the request being handled.
INDENT: ContextVar[int | None] = ContextVar("json_indent", default=None)


def dump(data: Any, indent: int | None = None) -> bytes:
    """DRF's JSONRenderer output: compact, UTF-8, U+2028/U+2029 escaped; indented when the client's Accept
    asked for it (``indent``: DRF's separators then, ``,`` and ``: ``)."""
    if indent is not None:
        text = json.dumps(data, indent=indent, ensure_ascii=False, separators=(",", ": "))
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
    body = orjson.dumps(data)
    if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
        body = body.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
    return body


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump(data, INDENT.get()), status_code=status, headers=headers, media_type="application/json")


def error_response(exc: ApiError) -> Response:
    if exc.django_rendered:  # Django's JsonResponse: json.dumps' separators
        return Response(json.dumps(exc.body()).encode(), status_code=exc.status, headers=exc.headers(),
                        media_type="application/json")
    return json_response(exc.body(), exc.status, exc.headers())


def iri_query(query_string: bytes) -> str:
    """The raw query string as Django puts it back into a URL it builds (``iri_to_uri``)."""
    return quote(query_string.decode("latin-1"), safe=IRI_SAFE)


def render_datetime(value: Any) -> str | None:
    """DRF's DateTimeField output under USE_TZ/UTC: ``isoformat()`` with ``+00:00`` written ``Z`` (microseconds only
    when non-zero); a naive value (SQLite's) is UTC, a text one is parsed first."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    elif value.utcoffset():
        value = value.astimezone(timezone.utc)
    text: str = value.isoformat()
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    return text
