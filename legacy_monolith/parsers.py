"""Request body parsers."""

from __future__ import annotations

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
