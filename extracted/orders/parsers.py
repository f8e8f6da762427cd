"""Request parsing as the monolith's DRF does it: the query string, and what a ``Content-Length`` says.

This service reads no request bodies yet (its writes, checkout and cancel, answer 503 ``not_yet`` before any
body is looked at); :data:`PARSERS` is what it will take, as the monolith's OPTIONS advertises it.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

from extracted.orders.exceptions import BadRequest
from extracted.orders.settings import DATA_UPLOAD_MAX_NUMBER_FIELDS

# The monolith's parser classes, in its order (OPTIONS lists them as ``parses``).
PARSERS: Final = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")


def parse_query(query_string: bytes) -> list[tuple[str, str]]:
    """Django's QueryDict parsing: UTF-8 (Latin-1 if that fails), ``&`` only, blanks kept, at most 1000 fields."""
    try:
        text = query_string.decode("utf-8")
    except UnicodeDecodeError:
        text = query_string.decode("iso-8859-1")
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=DATA_UPLOAD_MAX_NUMBER_FIELDS)
    except ValueError:
        raise BadRequest() from None


def content_length(raw: str | None) -> int:
    """What DRF makes of ``Content-Length``: a number, else 0 (no body at all)."""
    if raw is None:
        return 0
    try:
        return int(raw)
    except ValueError:
        return 0
