"""What a backend receives through the router, and what the client gets back: method, path, query and body
intact; header hygiene (hop-by-hop, forwarding, identity); request ids; WebSocket passthrough."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator

import aiohttp
import httpx
import pytest

from tests.router.e2e.conftest import Router, Upstream
from tests.router.e2e.helpers import (
    header_values,
    journal,
    raw_http,
    request_bytes,
    seen_paths,
    seen_with_id,
    wait_for,
)

pytestmark = pytest.mark.slow

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def client(router: Router) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=router.url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_method_path_and_query_arrive_as_sent(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/echo/a/b?x=1&x=2&q=a%20b&e=%C3%A9&empty=")
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "monolith"
    echo = response.json()
    assert echo["method"] == method
    assert echo["raw_path"] == "/echo/a/b"
    assert echo["raw_query"] == "x=1&x=2&q=a%20b&e=%C3%A9&empty="


def test_path_is_forwarded_normalised(router: Router) -> None:
    exchange = raw_http(router.url, request_bytes("GET", "/echo/./a//b/../c/%7Euser/caf%C3%A9"))
    [response] = exchange.responses
    assert response.status == 200
    assert response.header("x-upstream") == "monolith"
    # Dot segments resolved, slashes merged, unreserved escapes decoded; non-ASCII stays percent-encoded.
    assert response.json()["raw_path"] == "/echo/a/c/~user/caf%C3%A9"


def test_head_request_gets_headers_and_no_body(client: httpx.Client) -> None:
    response = client.head("/echo/head")
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "monolith"
    assert response.content == b""


@pytest.mark.parametrize("size", [0, 1, 65_537, 1_000_000])
def test_body_arrives_intact(client: httpx.Client, size: int) -> None:
    body = os.urandom(size)
    response = client.post("/echo/catalog/upload", content=body)
    assert response.status_code == 200
    assert response.headers["x-upstream"] == "catalog"
    echo = response.json()
    assert (echo["body_length"], echo["body_sha256"]) == (size, hashlib.sha256(body).hexdigest())


def test_chunked_body_arrives_intact(client: httpx.Client) -> None:
    parts = [os.urandom(n) for n in (1, 1000, 70_000, 3)]
    response = client.put("/echo/chunked", content=iter(parts))
    assert response.status_code == 200
    echo = response.json()
    whole = b"".join(parts)
    assert (echo["body_length"], echo["body_sha256"]) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert header_values(echo, "transfer-encoding") == ["chunked"]  # re-framed by the router, not passed on


def test_response_status_and_body_pass_through(client: httpx.Client) -> None:
    response = client.get("/status/418")
    assert response.status_code == 418
    assert response.json() == {"name": "monolith", "status": 418}
    assert client.get("/bytes/5000").content == b"y" * 5000


def test_hop_by_hop_headers_never_reach_the_backend(router: Router) -> None:
    request_id = f"hop-{uuid.uuid4().hex}"
    exchange = raw_http(router.url, request_bytes("GET", "/echo/hop", [
        ("Connection", "close, X-Secret"),
        ("X-Secret", "only-for-the-next-hop"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic c2VjcmV0OnNlY3JldA=="),
        ("Proxy-Connection", "keep-alive"),
        ("X-Kept", "end-to-end"),
        ("X-Request-ID", request_id),
    ]))
    [response] = exchange.responses
    assert response.status == 200, response.body
    echo = response.json()
    received = {name.lower() for name, _ in echo["headers"]}
    for name in ("x-secret", "keep-alive", "te", "trailer", "upgrade", "proxy-authorization",
                 "proxy-connection"):
        assert name not in received, f"{name} reached the backend"
    # The router's own connection to the backend may say keep-alive or close, never the client's tokens.
    assert all("x-secret" not in value.lower() for value in header_values(echo, "connection"))
    assert header_values(echo, "x-kept") == ["end-to-end"]
    assert response.header("x-request-id") == request_id


def test_hop_by_hop_headers_from_the_backend_never_reach_the_client(client: httpx.Client) -> None:
    response = client.get("/stream/3")  # the backend answers chunked
    assert response.status_code == 200
    assert response.content == b"x" * 3072
    assert "keep-alive" not in response.headers


def test_forwarding_headers_are_set_by_the_router(client: httpx.Client) -> None:
    response = client.get("/echo/fwd", headers={
        "Host": "shop.example:8443",
        "X-Forwarded-For": "6.6.6.6",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "Forwarded": "for=6.6.6.6;proto=https",
        "X-Real-IP": "6.6.6.6",
    })
    assert response.status_code == 200
    echo = response.json()
    assert header_values(echo, "x-forwarded-for") == ["127.0.0.1"]
    assert header_values(echo, "x-forwarded-proto") == ["http"]
    assert header_values(echo, "x-forwarded-host") == ["shop.example:8443"]
    assert header_values(echo, "host") == ["shop.example:8443"]  # the client's Host, not the backend's
    assert header_values(echo, "forwarded") == []
    assert header_values(echo, "x-real-ip") == []


def test_identity_headers_from_a_client_never_reach_a_backend(client: httpx.Client, catalog: Upstream,
                                                              monolith: Upstream) -> None:
    forged = {
        "X-Identity-Token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIiwic3RhZmYiOnRydWV9.",
        "X-User-Id": "1",
        "X-User-Is-Staff": "true",
        "X-Remote-User": "admin",
        "Remote-User": "admin",
        "X-Authenticated-User": "admin",
    }
    for path, upstream in (("/api/catalog/products/", catalog), ("/echo/orders/", monolith)):
        request_id = f"ident-{uuid.uuid4().hex}"
        response = client.get(path, headers={**forged, "X-Request-ID": request_id})
        assert response.headers["x-upstream"] == upstream.name
        [entry] = seen_with_id(upstream.url, request_id)
        received = {name.lower(): value for name, value in entry["headers"]}
        for name, value in forged.items():
            assert name.lower() not in received, f"{name} reached {upstream.name}"
            assert value not in received.values()


def test_a_sane_request_id_is_propagated_and_echoed(client: httpx.Client) -> None:
    request_id = "order-42.retry_1:abc-DEF"
    response = client.get("/echo/rid", headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id
    assert header_values(response.json(), "x-request-id") == [request_id]


def test_a_request_id_is_created_when_missing(client: httpx.Client) -> None:
    first, second = client.get("/echo/rid"), client.get("/echo/rid")
    for response in (first, second):
        assert GENERATED_ID.match(response.headers["x-request-id"])
        assert header_values(response.json(), "x-request-id") == [response.headers["x-request-id"]]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_the_router_answers_its_own_errors_with_the_request_id(client: httpx.Client) -> None:
    response = client.get("/echo/a%2Fb", headers={"X-Request-ID": "mine-1"})
    assert response.status_code == 400
    assert response.headers["x-request-id"] == "mine-1"
    assert response.json()["request_id"] == "mine-1"


@pytest.mark.parametrize("bad", [
    "x" * 300,  # too long to log or index
    "abc%0d%0aX-Injected: 1",  # an encoded CRLF
    "abc def",  # a space
    "<script>",
    "",
])
def test_a_bad_request_id_is_replaced(router: Router, monolith: Upstream, bad: str) -> None:
    exchange = raw_http(router.url, request_bytes("GET", "/echo/badrid", [("X-Request-ID", bad)]))
    [response] = exchange.responses
    assert response.status == 200
    replaced = response.header("x-request-id")
    assert replaced is not None and GENERATED_ID.match(replaced)
    echo = response.json()
    assert header_values(echo, "x-request-id") == [replaced]
    assert header_values(echo, "x-injected") == []


def test_a_request_id_with_a_raw_crlf_becomes_two_headers_at_most(router: Router) -> None:
    """A CRLF on the wire ends the header line: the 'injected' header is the client's own, sent openly, and
    the id itself is the part before it."""
    exchange = raw_http(router.url, b"GET /echo/crlf HTTP/1.1\r\nHost: shop.example\r\n"
                                    b"X-Request-ID: abc\r\nX-Request-ID: def\r\nConnection: close\r\n\r\n")
    [response] = exchange.responses
    assert response.status == 200
    echo = response.json()
    # Only one id reaches the backend, and the response carries the same one.
    assert len(header_values(echo, "x-request-id")) == 1
    assert header_values(echo, "x-request-id") == [response.header("x-request-id")]


@pytest.mark.parametrize("payload", [
    b"X-Request-ID: abc\rX-Injected: 1\r\n",  # a bare CR inside a value
    b"X-Request-ID: abc\nX-Injected: 1\r\n",  # a bare LF inside a value (a lenient parser's line end)
    b"X-Request-ID: abc\r\n X-Folded: 1\r\n",  # obsolete line folding
    b"X-Request-ID: abc\x00def\r\n",  # NUL
])
def test_a_request_id_with_control_bytes_is_refused(router: Router, monolith: Upstream, payload: bytes) -> None:
    marker = uuid.uuid4().hex
    exchange = raw_http(router.url, f"GET /echo/ctl-{marker} HTTP/1.1\r\nHost: shop.example\r\n".encode()
                        + payload + b"Connection: close\r\n\r\n")
    [response] = exchange.responses
    assert response.status == 400
    assert exchange.closed
    assert not [path for path in seen_paths(monolith.url) if marker in path]


def test_websocket_passes_through_text_and_binary(router: Router) -> None:
    async def talk() -> tuple[str, bytes, str]:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{router.url}/ws", timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                await ws.send_str("hello")
                text = await asyncio.wait_for(ws.receive_str(), 5)
                payload = os.urandom(100_000)
                await ws.send_bytes(payload)
                echoed = await asyncio.wait_for(ws.receive_bytes(), 5)
                assert echoed == payload
                await ws.send_str("again")
                second = await asyncio.wait_for(ws.receive_str(), 5)
                return text, echoed, second

    text, _echoed, second = asyncio.run(talk())
    assert text == "catalog:hello"  # the route sent it to catalog, whose echo names itself
    assert second == "catalog:again"


def test_websocket_on_an_unrouted_path_goes_to_the_default(router: Router, monolith: Upstream) -> None:
    async def talk() -> int:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{router.url}/no-such-ws", timeout=aiohttp.ClientWSTimeout(ws_close=5))
            return refused.value.status

    # The monolith has no WebSocket there: the upgrade is refused (not hung), after asking the monolith.
    assert asyncio.run(asyncio.wait_for(talk(), 10)) == 403
    assert "/no-such-ws" in seen_paths(monolith.url)


@pytest.mark.parametrize(("sent_id", "propagated"), [("ws-call-7", True), ("y" * 300, False)])
def test_websocket_upgrade_gets_the_same_header_hygiene(router: Router, catalog: Upstream, sent_id: str,
                                                        propagated: bool) -> None:
    marker = uuid.uuid4().hex

    async def talk() -> str:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{router.url}/ws", timeout=aiohttp.ClientWSTimeout(ws_close=5), headers={
                "Host": "shop.example", "X-Marker": marker, "X-Request-ID": sent_id,
                "X-User-Id": "1", "X-Identity-Token": "forged", "X-Forwarded-For": "6.6.6.6",
                "X-Forwarded-Proto": "https",
            }) as ws:
                await ws.send_str("hi")
                return await asyncio.wait_for(ws.receive_str(), 5)

    assert asyncio.run(talk()) == "catalog:hi"
    [entry] = [e for e in journal(catalog.url) if e["raw_path"] == "/ws" and header_values(e, "x-marker") == [marker]]
    assert header_values(entry, "x-user-id") == header_values(entry, "x-identity-token") == []
    assert header_values(entry, "x-forwarded-for") == ["127.0.0.1"]
    assert header_values(entry, "x-forwarded-proto") == ["http"]
    assert header_values(entry, "x-forwarded-host") == ["shop.example"]
    assert header_values(entry, "host") == ["shop.example"]
    [request_id] = header_values(entry, "x-request-id")
    assert request_id == sent_id if propagated else GENERATED_ID.match(request_id)


def test_the_request_id_is_in_the_access_log(client: httpx.Client, router: Router) -> None:
    request_id = f"logged-{uuid.uuid4().hex}"
    assert client.get("/echo/catalog/logged", headers={"X-Request-ID": request_id}).status_code == 200

    def logged() -> list[dict[str, object]]:
        lines = router.process.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if request_id in line]

    wait_for(lambda: bool(logged()), timeout=2)
    [entry] = logged()
    assert (entry["route"], entry["backend"], entry["status"], entry["path"]) == ("catalog-echo", "catalog", 200,
                                                                               "/echo/catalog/logged")
