"""Request body parsers."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; a body nested deeper than Python's decoder goes is a 400 too, not a 500.

    ``[[[[...`` a few thousand levels deep fits easily under the 1 MiB body limit, and the decoder then raises
    RecursionError, which DRF does not turn into a parse error.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser under the same 1 MiB as JSON and form bodies, files included.

    Django counts only the fields against DATA_UPLOAD_MAX_MEMORY_SIZE and streams files to disk whatever
    their size; no endpoint of the shop takes a file, so a multipart body is held to the limit as a whole
    (400, as Django answers RequestDataTooBig) instead of filling the disk.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", {})
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
        return super().parse(stream, media_type, parser_context)
