"""Header names the router owns: hop-by-hop headers are never forwarded, identity headers never come from
a client (the identity bridge alone sets them)."""

from __future__ import annotations

import os
import re

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "transfer-encoding", "upgrade",
})
IDENTITY = frozenset({"x-identity-token", "x-user-id", "x-user-is-staff", "x-authenticated-user",
                      "x-remote-user", "remote-user"})
# Set by the router itself, whatever the client sent.
FORWARDING = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded",
                        "x-real-ip"})
NEVER_MATCHABLE = HOP_BY_HOP | IDENTITY
# A client's X-Request-ID is propagated only when it looks like this; otherwise the router makes one.
VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def connection_listed(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names listed in ``Connection`` fields, lower-case: hop-by-hop too (RFC 9110 section 7.6.1),
    never forwarded, in either direction, over HTTP or a WebSocket upgrade. ``headers``' names must be
    lower-case already; the listed names may be in any case (``Connection: X-Foo`` names ``x-foo``)."""
    listed: set[bytes] = set()
    for name, value in headers:
        if name == b"connection":
            listed.update(token.strip().lower() for token in value.split(b","))
    listed.discard(b"")
    return listed


def new_request_id() -> str:
    """32 hex digits, as uuid4().hex looked, at a fraction of its cost (no UUID object)."""
    return os.urandom(16).hex()


def cookie_value(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    """The value of cookie ``name`` from the request's Cookie headers (the first one wins)."""
    wanted = name.encode("latin-1")
    for key, value in headers:
        if key != b"cookie":
            continue
        for part in value.split(b";"):
            cookie_name, sep, cookie_value = part.strip().partition(b"=")
            if sep and cookie_name == wanted:
                return cookie_value.decode("latin-1")
    return None
