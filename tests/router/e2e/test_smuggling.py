"""Requests two servers could read differently, sent byte for byte over raw sockets: ambiguous framing
(request smuggling) and path tricks. Each is refused or read one way only, and the journal of each fake
backend shows what actually reached it."""

from __future__ import annotations

import uuid

import pytest

from tests.router.e2e.conftest import Router, Upstream
from tests.router.e2e.helpers import raw_http, request_bytes, seen_paths

pytestmark = pytest.mark.slow

# Each is followed on the same connection by a second request a lenient parser would take from the body.
AMBIGUOUS_FRAMING = {
    "content-length then transfer-encoding":
        b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
    "transfer-encoding then content-length":
        b"Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG",
    "content-length 0 and a chunked body":
        b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "an unknown transfer coding and content-length":
        b"Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\nhello",
    "chunked not the last coding":
        b"Transfer-Encoding: chunked, identity\r\nContent-Length: 5\r\n\r\nhello",
    "transfer-encoding identity":
        b"Transfer-Encoding: identity\r\n\r\nhello",
    "a space before the colon":
        b"Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello",
    "two transfer-encoding headers":
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "two different content-lengths":
        b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "two equal content-lengths":
        b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    "a content-length list":
        b"Content-Length: 5, 5\r\n\r\nhello",
    "a signed content-length":
        b"Content-Length: +5\r\n\r\nhello",
    "a negative content-length":
        b"Content-Length: -1\r\n\r\nhello",
    "a hexadecimal content-length":
        b"Content-Length: 0x5\r\n\r\nhello",
    "a broken chunk size":
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunks ended by bare LF":
        b"Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
    "a space inside a header name":
        b"Content Length: 5\r\n\r\nhello",
}


@pytest.mark.parametrize("framing", list(AMBIGUOUS_FRAMING.values()), ids=list(AMBIGUOUS_FRAMING))
def test_ambiguous_framing_is_refused_and_nothing_reaches_a_backend(router: Router, monolith: Upstream,
                                                                   framing: bytes) -> None:
    marker = uuid.uuid4().hex
    data = (f"POST /echo/smuggle-{marker} HTTP/1.1\r\nHost: shop.example\r\n".encode() + framing
            + f"GET /echo/smuggled-{marker} HTTP/1.1\r\nHost: shop.example\r\n\r\n".encode())
    exchange = raw_http(router.url, data, timeout=3)
    assert [r.status for r in exchange.responses] == [400]
    assert exchange.closed  # nothing more is read from a connection whose framing is in doubt
    assert not [path for path in seen_paths(monolith.url) if marker in path]


def test_transfer_encoding_in_http_1_0_is_refused(router: Router, monolith: Upstream) -> None:
    """RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing."""
    marker = uuid.uuid4().hex
    exchange = raw_http(router.url, f"POST /echo/te10-{marker} HTTP/1.0\r\nHost: shop.example\r\n".encode()
                        + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", timeout=3)
    [response] = exchange.responses
    assert response.status == 400
    assert response.json()["code"] == "rejected"
    assert not [path for path in seen_paths(monolith.url) if marker in path]


def test_a_clean_keep_alive_pipeline_is_served_in_order(router: Router) -> None:
    """The control for the cases above: two honest requests on one connection both get answers."""
    data = (request_bytes("POST", "/echo/first", [("Connection", "keep-alive")], b"hello")
            + request_bytes("GET", "/echo/catalog/second"))
    exchange = raw_http(router.url, data)
    assert [(r.status, r.header("x-upstream")) for r in exchange.responses] == [(200, "monolith"),
                                                                                (200, "catalog")]
    assert [r.json()["raw_path"] for r in exchange.responses] == ["/echo/first", "/echo/catalog/second"]
    assert exchange.responses[0].json()["body_length"] == 5


# (path as sent, backend that must serve it, path the backend must receive); {m} is a unique marker.
PATH_READINGS = [
    ("/api/catalog/../orders-{m}/", "monolith", "/api/orders-{m}/"),
    ("/api/catalog/../../orders-{m}/", "monolith", "/orders-{m}/"),
    ("/api/catalog/%2e%2e/orders-{m}/", "monolith", "/api/orders-{m}/"),
    ("/api/catalog/%2E%2E/%2e%2e/orders-{m}", "monolith", "/orders-{m}"),
    ("/api/catalog/.%2e/orders-{m}", "monolith", "/api/orders-{m}"),
    ("/api/catalog/./../orders-{m}", "monolith", "/api/orders-{m}"),
    ("//api/catalog/../../orders-{m}", "monolith", "/orders-{m}"),
    ("/api/catalog/x/../../orders-{m}", "monolith", "/api/orders-{m}"),
    ("/../../api/orders-{m}", "monolith", "/api/orders-{m}"),
    ("/API/catalog/x-{m}", "monolith", "/API/catalog/x-{m}"),
    ("/api/catalogue/x-{m}", "monolith", "/api/catalogue/x-{m}"),
    ("/api/catalog..;/orders-{m}", "monolith", "/api/catalog..;/orders-{m}"),
    # Spellings of the catalog's own paths reach the catalog, with the one reading the router routed on.
    ("/api//catalog/x-{m}", "catalog", "/api/catalog/x-{m}"),
    ("/api/./catalog/x-{m}", "catalog", "/api/catalog/x-{m}"),
    ("/%61pi/catalog/x-{m}", "catalog", "/api/catalog/x-{m}"),
    ("/orders/../api/catalog/x-{m}", "catalog", "/api/catalog/x-{m}"),
    # Decoded once: a double-encoded dot segment is a literal name to the backend too, inside the catalog.
    ("/api/catalog/%252e%252e/x-{m}", "catalog", "/api/catalog/%252e%252e/x-{m}"),
]


@pytest.mark.parametrize(("sent", "backend", "received"), PATH_READINGS, ids=[p[0] for p in PATH_READINGS])
def test_path_is_routed_on_the_one_reading_the_backend_gets(router: Router, monolith: Upstream,
                                                            catalog: Upstream, sent: str, backend: str,
                                                            received: str) -> None:
    marker = uuid.uuid4().hex
    exchange = raw_http(router.url, request_bytes("GET", sent.format(m=marker)))
    [response] = exchange.responses
    assert response.header("x-upstream") == backend
    assert response.status == 404  # neither fake backend has these paths: it answered, the router did not
    right, wrong = (monolith, catalog) if backend == "monolith" else (catalog, monolith)
    assert received.format(m=marker) in seen_paths(right.url)
    assert not [path for path in seen_paths(wrong.url) if marker in path]


def test_absolute_form_target_is_normalised_too(router: Router, monolith: Upstream, catalog: Upstream) -> None:
    marker = uuid.uuid4().hex
    exchange = raw_http(router.url, request_bytes("GET", f"http://shop.example/api/catalog/../orders-{marker}/"))
    [response] = exchange.responses
    assert response.header("x-upstream") == "monolith"
    assert f"/api/orders-{marker}/" in seen_paths(monolith.url)
    assert not [path for path in seen_paths(catalog.url) if marker in path]


REFUSED_PATHS = [
    "/api/catalog%2F..%2F..%2Forders-{m}",
    "/api/catalog/..%2forders-{m}",
    "/api/catalog/..%5Corders-{m}",
    "/api/catalog/%5c..%5c..%5corders-{m}",
    "/api/catalog/..\\orders-{m}",
    "/api/catalog/x%00.json-{m}",
    "/api/catalog/%00/../orders-{m}",
    "/api/catalog/%0d%0aX-Injected:%201-{m}",
    "/api/catalog/%zz-{m}",
    "/api/catalog/%c0%ae%c0%ae/orders-{m}",  # overlong UTF-8 for '..'
    "/api/catalog/%e2%80-{m}",  # truncated UTF-8
]


@pytest.mark.parametrize("sent", REFUSED_PATHS)
def test_ambiguous_paths_are_refused_with_json(router: Router, monolith: Upstream, catalog: Upstream,
                                               sent: str) -> None:
    marker = uuid.uuid4().hex
    exchange = raw_http(router.url, request_bytes("GET", sent.format(m=marker)))
    [response] = exchange.responses
    assert response.status == 400
    assert response.header("content-type") == "application/json"
    assert response.header("x-upstream") is None
    body = response.json()
    assert body["code"] == "rejected"
    assert body["detail"]
    assert body["request_id"] == response.header("x-request-id")
    for upstream in (monolith, catalog):
        assert not [path for path in seen_paths(upstream.url) if marker in path]
