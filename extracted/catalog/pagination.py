"""A list's pages, as the monolith's DRF PageNumberPagination (over Django's Paginator) has them.

``?page=`` is a number from 1 or ``last``; anything else, or a page past the last, is DRF's 404 ``Invalid
page.``. ``?page_size=`` is at most 100 (more is 100, not an error). The ``next``/``previous`` links are the
request's own absolute URL with ``page`` replaced (or removed for the first page), keys sorted.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs, quote, urlencode

from starlette.requests import Request

from .exceptions import ValidationFailed
from .responses import iri_query

PAGE_SIZE: Final = 20
MAX_PAGE_SIZE: Final = 100


def page_size(raw: str) -> int:
    """``?page_size=``: empty is the default, a whole number from 1 up is capped at the maximum, else 400."""
    if raw == "":
        return PAGE_SIZE
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        raise ValidationFailed({"page_size": ["Enter a whole number from 1 up."]})
    if len(digits) > len(str(MAX_PAGE_SIZE)):
        return MAX_PAGE_SIZE
    return min(int(digits), MAX_PAGE_SIZE)


def page_number_hint(raw: str) -> int | None:
    """What Django's Paginator decides before counting: -1 for ``last``, the number, or None (404)."""
    if raw == "last":
        return -1
    try:
        number = int(raw)
    except ValueError:
        return None
    return number if number >= 1 else None


def page_number(raw: str, count: int, size: int) -> int | None:
    """Django's Paginator: the page number, or None for DRF's 404 ``Invalid page.``."""
    pages = page_count(count, size)
    if raw == "last":
        return pages
    try:
        number = int(raw)
    except ValueError:
        return None
    if number < 1 or number > pages:
        return None
    return number


def page_count(count: int, size: int) -> int:
    """The number of pages: an empty list still has its one (empty) page."""
    return max(1, -(-count // size))


def page_links(request: Request, number: int, pages: int) -> tuple[str | None, str | None]:
    """DRF's ``next`` and ``previous`` links of page ``number`` of ``pages`` (None where there is no such page)."""
    next_link = previous_link = None
    if number < pages or number > 1:
        base, query_string = absolute_base(request)
        if number < pages:
            next_link = page_link(base, query_string, number + 1)
        if number > 1:
            previous_link = page_link(base, query_string, None if number == 2 else number - 1)
    return next_link, previous_link


def absolute_base(request: Request) -> tuple[str, str]:
    """Django's ``build_absolute_uri()`` split into ``scheme://host/path`` and the query string."""
    scope = request.scope
    host = request.headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", 80)
        host = server[0] if server[1] in (80, 443) else f"{server[0]}:{server[1]}"
    query = iri_query(scope.get("query_string", b""))
    return f"{scope.get('scheme', 'http')}://{host}{quote(scope['path'])}", query


def page_link(base: str, query_string: str, page: int | None) -> str:
    """DRF's replace_query_param / remove_query_param on the request's absolute URI (keys sorted)."""
    params = parse_qs(query_string, keep_blank_values=True)
    if page is None:
        params.pop("page", None)
    else:
        params["page"] = [str(page)]
    query = urlencode(sorted(params.items()), doseq=True)
    return f"{base}?{query}" if query else base
