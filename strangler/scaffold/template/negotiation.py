"""Content negotiation as the monolith's DRF does it: ``?format=``, ``Accept``, and which parser takes a body.

- :func:`check_format`: a ``format`` query parameter other than ``json`` is a 404 (DRF's
  ``URL_FORMAT_OVERRIDE``: no renderer of that name).
- :func:`json_indent`: DRF's DefaultContentNegotiation with the monolith's one renderer (JSON): some
  ``Accept`` token must be ``application/json``, ``application/*``, ``*/json`` or ``*/*`` (parameters and
  q-values, ``q=0`` included, play no part, as in DRF); no usable token at all is a 406 too.
- :func:`media_type_matches`: which request ``Content-Type`` a parser takes (DRF's ``media_type_matches``).
- :func:`parse_header_parameters`: Django's reading of a header with parameters, which all of the above (and
  the multipart parser) rest on.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from email.message import Message
from email.utils import collapse_rfc2231_value
from typing import Final

from .exceptions import NotAcceptable, NotFound

FORMAT_PARAM: Final = "format"
MAX_ACCEPT_HEADER_LENGTH: Final = 8192
MAX_ACCEPT_TOKENS: Final = 64
MAX_MEDIA_TYPE_LENGTH: Final = 256  # DRF passes over longer Accept tokens; a longer Content-Type is a 415


def parse_header_parameters(line: str) -> tuple[str, dict[str, str]]:
    """Django's ``parse_header_parameters``: the lower-cased main value and the parameters (raises
    ValueError for an RFC 2231 value in an unknown charset)."""
    if not line:
        return "", {}
    if ";" not in line:
        return line.strip().lower(), {}
    message = Message()
    message["content-type"] = line
    params = message.get_params()
    assert params is not None  # noqa: S101 - a header that is set always has its main value
    key = params.pop(0)[0].lower()
    result: dict[str, str] = {}
    for name, value in params:
        if not name:
            continue
        if isinstance(value, tuple):
            charset = value[0]
            if charset:
                try:
                    codecs.lookup(charset)
                except LookupError:
                    raise ValueError(f"Invalid encoding {charset!r} for RFC 2231 param.") from None
            value = collapse_rfc2231_value(value)
        result[name] = value
    return key, result


class _MediaType:
    __slots__ = ("main_type", "params", "sub_type")

    @property
    def precedence(self) -> int:
        if self.main_type == "*":
            return 0
        if self.sub_type == "*":
            return 1
        return 2 if not self.params or list(self.params) == ["q"] else 3

    def __init__(self, text: str) -> None:
        try:
            full_type, self.params = parse_header_parameters(text)
        except ValueError:
            full_type, self.params = "", {}
        self.main_type, _, self.sub_type = full_type.partition("/")

    def satisfies(self, other: _MediaType) -> bool:
        """DRF's ``_MediaType.match``: does this (a parser's or renderer's type) satisfy ``other``."""
        for key, value in self.params.items():
            if key != "q" and other.params.get(key) != value:
                return False
        if self.sub_type != "*" and other.sub_type != "*" and other.sub_type != self.sub_type:
            return False
        return not (self.main_type != "*" and other.main_type != "*" and other.main_type != self.main_type)


_JSON: Final = _MediaType("application/json")


def media_type_matches(parser_type: str, content_type: str) -> bool:
    return _MediaType(parser_type).satisfies(_MediaType(content_type))


def accept_tokens(header: str) -> list[str]:
    """DRF's ``get_accept_list``: bounded, so a hostile header costs little."""
    if len(header) > MAX_ACCEPT_HEADER_LENGTH:
        cut = header.rfind(",", 0, MAX_ACCEPT_HEADER_LENGTH)
        header = header[:cut + 1] if cut != -1 else ""
    tokens: list[str] = []
    for token in header.split(","):
        token = token.strip()
        if not token or len(token) > MAX_MEDIA_TYPE_LENGTH:
            continue
        tokens.append(token)
        if len(tokens) >= MAX_ACCEPT_TOKENS:
            break
    return tokens


def json_indent(accept: str | None) -> int | None:
    """The JSON indent the answer is rendered with: DRF's JSONRenderer honours an ``indent`` parameter (0-8)
    of the most specific ``Accept`` token that takes JSON (``application/json; indent=4``). None: compact.
    Raises :class:`.exceptions.NotAcceptable` (406) when no token takes JSON."""
    if accept is None or accept in ("*/*", "application/json"):
        return None  # DRF reads a missing header as */*
    matching = [media for media in map(_MediaType, accept_tokens(accept)) if _JSON.satisfies(media)]
    if not matching:
        raise NotAcceptable()
    chosen = max(matching, key=lambda media: media.precedence)  # the first of the most specific
    try:
        indent = max(min(int(chosen.params["indent"]), 8), 0)
    except (KeyError, ValueError):
        return None
    return indent or None


def check_format(params: Sequence[tuple[str, str]]) -> None:
    """The query's last ``format`` must be empty or ``json``; anything else is DRF's 404."""
    fmt = next((value for key, value in reversed(params) if key == FORMAT_PARAM), "")
    if fmt and fmt != "json":
        raise NotFound()
