"""Path normalisation: the one place that decides what path a request is *for*.

Routing on one reading of a path while the backend acts on another is how `/api/catalog/../orders/`
reaches the orders service through the catalog's route. So the router decodes once, refuses anything
that two servers could read differently (encoded slashes and backslashes, NUL and control bytes, broken
escapes, invalid UTF-8), resolves dot segments, merges duplicate slashes, and forwards exactly the path it
matched on (re-encoded), never the raw one.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

from router.exceptions import PathRejected

_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_AMBIGUOUS_ESCAPE = re.compile(rb"%(2[fF]|5[cC]|00)")
# What stays literal when re-encoding: RFC 3986 pchar minus '%', plus '/'.
_SAFE = "/:@!$&'()*+,;=-._~"
# Most paths are made of these only, with no empty, "." or ".." segment: such a path is already normalised
# and encodes as itself, so both steps are skipped after one match (a segment starting with "." is left to
# the full treatment, which is simpler than telling ".x" from "..").
_PLAIN = re.compile(r"(?:/[A-Za-z0-9:@!$&'()*+,;=\-_~][A-Za-z0-9:@!$&'()*+,;=\-._~]*)*/?")
_PLAIN_BYTES = re.compile(_PLAIN.pattern.encode())


def normalise(raw_path: bytes | str) -> str:
    """Returns the decoded, normalised path (always starting with '/'), or raises PathRejected."""
    if isinstance(raw_path, str):
        try:
            raw = raw_path.encode("latin-1")  # a str is the raw path, one character per byte
        except UnicodeEncodeError:
            raise PathRejected("path has characters that are not bytes; percent-encode them") from None
    else:
        raw = raw_path
    if _PLAIN_BYTES.fullmatch(raw) and raw:
        return raw.decode("ascii")
    if not raw.startswith(b"/"):
        raise PathRejected("path must start with '/'")
    if _BAD_ESCAPE.search(raw):
        raise PathRejected("path has a '%' that is not a valid escape")
    if _AMBIGUOUS_ESCAPE.search(raw):
        raise PathRejected("path has an encoded '/', '\\' or NUL, which backends read differently")
    decoded_bytes = unquote_to_bytes(raw)
    try:
        decoded = decoded_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise PathRejected("path is not valid UTF-8 once decoded") from None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        raise PathRejected("path contains control characters")
    if "\\" in decoded:
        raise PathRejected("path contains a backslash, which some servers read as '/'")
    return remove_dot_segments(decoded)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, plus merging of empty segments; '..' never climbs above the root."""
    out: list[str] = []
    segments = path.split("/")[1:]
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    trailing = path.endswith("/") or segments[-1:] in (["."], [".."])
    result = "/" + "/".join(out)
    if trailing and out:
        result += "/"
    return result


def encode(path: str) -> str:
    """The normalised path as it goes on the wire to the backend."""
    return path if _PLAIN.fullmatch(path) else quote(path, safe=_SAFE)


def segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s)
