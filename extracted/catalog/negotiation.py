"""The HTTP rules the monolith applies before any view: allowed hosts (Django), content negotiation (DRF).

- :func:`host_allowed`: Django's ``HttpRequest.get_host()`` check against ``ALLOWED_HOSTS``: the ``Host``
  header (or the server's own address when there is none), lower-cased, port and one trailing dot removed,
  matched exactly, by a ``.domain`` pattern (the domain and its subdomains) or by ``*``. The list comes
  from ``CATALOG_ALLOWED_HOSTS`` (comma-separated), with the monolith's default.
- :func:`accepts_json`: DRF's DefaultContentNegotiation with the monolith's one renderer (JSON): some
  ``Accept`` token must be ``application/json``, ``application/*``, ``*/json`` or ``*/*`` (parameters and
  q-values, ``q=0`` included, play no part, as in DRF); no usable token at all is a 406 too. A ``format``
  query parameter other than ``json`` is a 404 (DRF's ``URL_FORMAT_OVERRIDE``).
- :func:`media_type_matches`: which request ``Content-Type`` a parser takes (DRF's ``media_type_matches``).
"""

from __future__ import annotations

import os
import re
from typing import Final

from extracted.catalog.multipart import parse_header_parameters

ALLOWED_HOSTS_ENV: Final = "CATALOG_ALLOWED_HOSTS"
DEFAULT_ALLOWED_HOSTS: Final = "localhost,127.0.0.1,[::1],testserver"  # the monolith's SHOP_ALLOWED_HOSTS default
_HOST: Final = re.compile(r"^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([0-9]+))?$")
MAX_ACCEPT_HEADER_LENGTH: Final = 8192
MAX_ACCEPT_TOKENS: Final = 64
MAX_MEDIA_TYPE_LENGTH: Final = 256


def allowed_hosts(raw: str | None = None) -> tuple[str, ...]:
    value = os.environ.get(ALLOWED_HOSTS_ENV, DEFAULT_ALLOWED_HOSTS) if raw is None else raw
    return tuple(host.strip() for host in value.split(",") if host.strip())


def split_domain_port(host: str) -> tuple[str, str]:
    match = _HOST.fullmatch(host.lower())
    if match is None:
        return "", ""
    domain, port = match.group(1), match.group(2) or ""
    return domain.removesuffix("."), port


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    domain, _port = split_domain_port(host)
    if not domain:
        return False
    for pattern in patterns:
        if pattern == "*":
            return True
        lowered = pattern.lower()
        if lowered.startswith(".") and (domain.endswith(lowered) or domain == lowered[1:]):
            return True
        if lowered == domain:
            return True
    return False


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


class NotAcceptableType(Exception):
    """No ``Accept`` token takes JSON: DRF's 406."""


def json_indent(accept: str | None) -> int | None:
    """The JSON indent the answer is rendered with: DRF's JSONRenderer honours an ``indent`` parameter (0-8)
    of the most specific ``Accept`` token that takes JSON (``application/json; indent=4``). None: compact.
    Raises :class:`NotAcceptableType` when no token takes JSON (DRF's 406)."""
    if accept is None or accept in ("*/*", "application/json"):
        return None  # DRF reads a missing header as */*
    matching = [media for media in map(_MediaType, accept_tokens(accept)) if _JSON.satisfies(media)]
    if not matching:
        raise NotAcceptableType(accept)
    chosen = max(matching, key=lambda media: media.precedence)  # the first of the most specific
    try:
        indent = max(min(int(chosen.params["indent"]), 8), 0)
    except (KeyError, ValueError):
        return None
    return indent or None


def accepts_json(accept: str | None) -> bool:
    """False when DRF would answer 406 (``Could not satisfy the request Accept header.``)."""
    try:
        json_indent(accept)
    except NotAcceptableType:
        return False
    return True
