"""Request parsing as the monolith's DRF does it: the query string, and bodies (JSON, form, multipart).

Each body is held to Django's 1 MiB (``DATA_UPLOAD_MAX_MEMORY_SIZE``): over it is a 400 ``Bad request.``,
but only once a parser has taken the body (an unsupported ``Content-Type`` is a 415 first). A request
without a (numeric, non-zero) ``Content-Length`` has no body at all, as in DRF.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.requests import Request

from .exceptions import BadRequest, ParseError, UnsupportedMediaType
from .multipart import parse_multipart
from .negotiation import MAX_MEDIA_TYPE_LENGTH, media_type_matches, parse_header_parameters
from .settings import DATA_UPLOAD_MAX_MEMORY_SIZE, DATA_UPLOAD_MAX_NUMBER_FIELDS

# The monolith's parser classes, in its order (the first that takes the Content-Type parses the body).
PARSERS: Final = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
_FORMS: Final = ("application/x-www-form-urlencoded", "multipart/form-data")


class FormData(dict[str, Any]):
    """A form body (``application/x-www-form-urlencoded`` or ``multipart/form-data``): DRF treats it as HTML
    input (see ``fields.field_value``). Values are strings, or :class:`.multipart.UploadedFile`."""


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


def request_charset(content_type: str) -> str:
    """Django's ``request.encoding``: the ``charset`` parameter when Python knows it, else UTF-8."""
    try:
        _main, params = parse_header_parameters(content_type)
    except ValueError:
        return "utf-8"
    charset = params.get("charset")
    if charset:
        try:
            codecs.lookup(charset)
        except LookupError:
            return "utf-8"
        return charset
    return "utf-8"


def _is_form(content_type: str) -> bool:
    try:
        main, _params = parse_header_parameters(content_type)
    except ValueError:
        return False
    return main in _FORMS


def _strict_constant(name: str) -> Any:
    raise ValueError(f"Out of range float values are not JSON compliant: {name!r}")


async def read_body(request: Request) -> Callable[[], Any]:
    """Reads the body (at most 1 MiB, like the monolith) and returns the parser to call when the view needs it.

    Parsing waits for the view because the monolith's views look at the body only after the object (a 404
    before a 400). Chunked bodies were given a Content-Length by the request gate
    (:class:`.gate.RequestGate`); what is not read here is discarded by it before the
    answer goes out.
    """
    length = content_length(request.headers.get("content-length"))
    content_type = request.headers.get("content-type")
    too_big = length > DATA_UPLOAD_MAX_MEMORY_SIZE
    chunks = b""
    if length and not too_big:
        parts: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > DATA_UPLOAD_MAX_MEMORY_SIZE:
                too_big = True
                break
            parts.append(chunk)
        chunks = b"".join(parts)

    def load() -> Any:
        return parse_body(chunks, content_type, length=length, too_big=too_big)

    return load


def parse_body(body: bytes, content_type: str | None, *, length: int | None = None, too_big: bool = False) -> Any:
    """DRF's ``request.data`` with the monolith's parsers (JSON, form, multipart, in that order).

    ``length`` is the request's Content-Length as DRF reads it (0 when missing or not a number; default:
    the body's size): without one the body is not read at all, ``{}`` (``QueryDict()``, HTML input, for a
    form media type). A body without a ``Content-Type`` is a 415 (``Unsupported media type ""``). A body
    over 1 MiB (``too_big``) is a 400 ``Bad request.`` once a parser has taken it, as Django's
    ``request.body`` refuses it (415 comes first).
    """
    media_type = content_type or ""
    if length is None:
        length = len(body)
    if length == 0:
        return FormData() if media_type and _is_form(media_type) else {}
    parser = None
    if len(media_type) <= MAX_MEDIA_TYPE_LENGTH:
        parser = next((p for p in PARSERS if media_type_matches(p, media_type)), None)
    if parser is None:
        raise UnsupportedMediaType(media_type)
    if too_big:
        raise BadRequest()
    charset = request_charset(media_type)
    if parser == "application/json":
        try:
            text = codecs.getreader(charset)(io.BytesIO(body)).read()
            return json.loads(text, parse_constant=_strict_constant)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
    if parser == "application/x-www-form-urlencoded":
        # Django's QueryDict: the bytes in the request's charset (Latin-1 if they are not), %-escapes too.
        try:
            text = body.decode(charset)
        except UnicodeDecodeError:
            text = body.decode("iso-8859-1")
        try:
            pairs = parse_qsl(text, keep_blank_values=True, encoding=charset,
                              max_num_fields=DATA_UPLOAD_MAX_NUMBER_FIELDS)
        except ValueError:
            raise BadRequest() from None
        return FormData(pairs)
    fields, files = parse_multipart(body, media_type, charset)
    return FormData({**fields, **files})
