"""Path normalisation: the router decides routes on exactly one reading of a path."""

from __future__ import annotations

import pytest

from router.exceptions import PathRejected, RequestRejected
from router.routing.paths import encode, normalise, remove_dot_segments, segments

ENCODED_SEPARATOR = "path has an encoded '/', '\\' or NUL, which backends read differently"
BAD_ESCAPE = "path has a '%' that is not a valid escape"
NOT_UTF8 = "path is not valid UTF-8 once decoded"
CONTROL = "path contains control characters"
BACKSLASH = "path contains a backslash, which some servers read as '/'"
NO_ROOT = "path must start with '/'"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/api/catalog/", "/api/catalog/"),
        ("/api/catalog", "/api/catalog"),
        # dot segments, literal and encoded (any case)
        ("/api/catalog/../orders/", "/api/orders/"),
        ("/api/catalog/%2e%2e/orders/", "/api/orders/"),
        ("/api/catalog/%2E%2e/orders/", "/api/orders/"),
        ("/api/catalog/.%2E/orders", "/api/orders"),
        ("/api/./catalog/", "/api/catalog/"),
        ("/api/%2e/catalog/", "/api/catalog/"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/a/b/../", "/a/"),
        ("/a/..", "/"),
        ("/a/...", "/a/..."),
        ("/a/..b/c", "/a/..b/c"),
        # '..' never climbs above the root
        ("/..", "/"),
        ("/../", "/"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/a/../../../b", "/b"),
        ("/%2e%2e/%2e%2e/x", "/x"),
        # duplicate slashes merge
        ("//", "/"),
        ("///a//b", "/a/b"),
        ("/api//catalog/", "/api/catalog/"),
        ("/api//catalog//", "/api/catalog/"),
        ("/api//catalog/../orders", "/api/orders"),
        # trailing slash is preserved, not added
        ("/api/orders/", "/api/orders/"),
        ("/api/orders", "/api/orders"),
        # decoding happens exactly once
        ("/a%20b", "/a b"),
        ("/%41%42c", "/ABc"),
        ("/100%25", "/100%"),
        ("/%252e%252e/x", "/%2e%2e/x"),
        ("/a/%252e%252e/b", "/a/%2e%2e/b"),
        ("/a/%252F/b", "/a/%2F/b"),
        # non-ASCII as UTF-8 escapes or raw UTF-8 bytes
        ("/caf%C3%A9/", "/café/"),
        ("/caf%c3%a9/", "/café/"),
        ("/%F0%9F%98%80", "/😀"),
        # characters that are not separators stay
        ("/a;b=c/d", "/a;b=c/d"),
        ("/a%3Fb", "/a?b"),
        ("/a%23b", "/a#b"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected
    assert normalise(raw.encode("ascii")) == expected


def test_raw_utf8_bytes_are_decoded() -> None:
    assert normalise("/café/😀".encode()) == "/café/😀"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("/api/catalog/..%2forders", ENCODED_SEPARATOR),
        ("/api/catalog/..%2Forders", ENCODED_SEPARATOR),
        ("/api/catalog%2f../orders", ENCODED_SEPARATOR),
        ("/a%2Fb", ENCODED_SEPARATOR),
        ("/a%5Cb", ENCODED_SEPARATOR),
        ("/a%5cb", ENCODED_SEPARATOR),
        ("/api/catalog/..%5corders", ENCODED_SEPARATOR),
        ("/a%00b", ENCODED_SEPARATOR),
        ("/a%", BAD_ESCAPE),
        ("/a%2", BAD_ESCAPE),
        ("/a%zz", BAD_ESCAPE),
        ("/a%g0", BAD_ESCAPE),
        ("/100%/x", BAD_ESCAPE),
        ("/%%41", BAD_ESCAPE),
        ("/%ff", NOT_UTF8),
        ("/%C3", NOT_UTF8),
        ("/%C3%28", NOT_UTF8),
        ("/%C0%AF", NOT_UTF8),  # overlong '/'
        ("/%ED%A0%80", NOT_UTF8),  # a lone surrogate
        ("/a%0ab", CONTROL),
        ("/a%0Db", CONTROL),
        ("/a%09b", CONTROL),
        ("/a%1fb", CONTROL),
        ("/a%7Fb", CONTROL),
        ("/a\x01b", CONTROL),
        ("/a\nb", CONTROL),
        ("/a\\b", BACKSLASH),
        ("/api/catalog/..\\orders", BACKSLASH),
        ("", NO_ROOT),
        ("api/catalog", NO_ROOT),
        ("%2fapi", NO_ROOT),
        ("http://host/api", NO_ROOT),
        ("*", NO_ROOT),
    ],
)
def test_rejected(raw: str, reason: str) -> None:
    with pytest.raises(PathRejected) as caught:
        normalise(raw)
    assert str(caught.value) == reason
    assert caught.value.reason == reason
    assert caught.value.status == 400
    assert isinstance(caught.value, RequestRejected)
    with pytest.raises(PathRejected) as caught_bytes:
        normalise(raw.encode("latin-1"))
    assert caught_bytes.value.reason == reason


def test_raw_bytes_that_are_not_utf8_are_rejected() -> None:
    with pytest.raises(PathRejected) as caught:
        normalise(b"/caf\xe9")
    assert caught.value.reason == NOT_UTF8


def test_str_is_the_raw_path_one_character_per_byte() -> None:
    # A str is read like bytes (latin-1): 'é' is the single byte 0xE9, which is not UTF-8.
    with pytest.raises(PathRejected) as caught:
        normalise("/café")
    assert caught.value.reason == NOT_UTF8
    # Characters beyond one byte cannot be a raw path at all: refused, not a UnicodeEncodeError.
    with pytest.raises(PathRejected) as caught:
        normalise("/😀")
    assert caught.value.reason == "path has characters that are not bytes; percent-encode them"


@pytest.mark.parametrize(
    ("path", "wire"),
    [
        ("/", "/"),
        ("/api/catalog/", "/api/catalog/"),
        ("/café/", "/caf%C3%A9/"),
        ("/😀", "/%F0%9F%98%80"),
        ("/a b", "/a%20b"),
        ("/100%", "/100%25"),
        ("/%2e%2e/x", "/%252e%252e/x"),
        ("/a?b#c", "/a%3Fb%23c"),
        ("/a;b=c,d/e:f@g!$&'()*+-._~", "/a;b=c,d/e:f@g!$&'()*+-._~"),
        ('/a"b<c>d', "/a%22b%3Cc%3Ed"),
        ("/a[b]", "/a%5Bb%5D"),
    ],
)
def test_encode(path: str, wire: str) -> None:
    assert encode(path) == wire
    assert normalise(wire) == path  # what the backend decodes is what the router matched on


@pytest.mark.parametrize(
    "raw",
    [
        "/caf%C3%A9/",
        "/%F0%9F%98%80/x",
        "/100%25",
        "/%252e%252e/orders",
        "/a%20b/../c",
        "/api//catalog/./items/%2e%2e/42",
        "/a%3Fb%23c",
    ],
)
def test_normalise_is_stable_through_the_wire(raw: str) -> None:
    once = normalise(raw)
    wire = encode(once)
    assert wire.isascii()
    assert normalise(wire) == once
    assert encode(normalise(wire)) == wire


def test_literal_percent_stays_literal() -> None:
    assert normalise("/100%25") == "/100%"
    assert encode("/100%") == "/100%25"
    assert normalise("/%252e%252e") == "/%2e%2e"
    # a segment named '%2e%2e', not a climb
    assert segments(normalise("/a/%252e%252e/b")) == ("a", "%2e%2e", "b")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("/a/b/c", "/a/b/c"),
        ("/a/./b/../c", "/a/c"),
        ("/a/b/c/./../../g", "/a/g"),
        ("/mid/content=5/../6", "/mid/6"),
        ("/a/b/..", "/a/"),
        ("/a//b///c/", "/a/b/c/"),
        ("/../..", "/"),
    ],
)
def test_remove_dot_segments(path: str, expected: str) -> None:
    assert remove_dot_segments(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/", ()), ("/a", ("a",)), ("/a/b/", ("a", "b")), ("//a//b", ("a", "b"))],
)
def test_segments(path: str, expected: tuple[str, ...]) -> None:
    assert segments(path) == expected
