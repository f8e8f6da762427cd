"""Issue 11's leftovers on the forwarding path, byte for byte over raw sockets against a real router process:
a WebSocket upgrade drops the request headers its ``Connection`` header names (as plain HTTP does); a body
that stalls is answered 408 and its connection closed, while a body that keeps coming passes; requests the
protocol refuses before routing (400, 408, 414, 431) are counted in ``/metrics`` per status and written to
the access log, without a traceback.

The router here reads heads within 1.5 s and waits 1 s at most for the next bytes of a body.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from strangler.processes import ManagedProcess
from tests.router.e2e.conftest import Upstream
from tests.router.e2e.helpers import header_values, journal, parse_response, request_bytes, routes_file, wait_for
from tests.support.servers import running_router

pytestmark = pytest.mark.slow

BODY_TIMEOUT = 1.0
ADMIN_TOKEN = f"leftovers-admin-{uuid.uuid4().hex}"
ROUTER_ENV = {"ROUTER_HEAD_TIMEOUT": "1.5", "ROUTER_BODY_TIMEOUT": str(BODY_TIMEOUT),
              "ROUTER_ADMIN_TOKEN": ADMIN_TOKEN}  # the routes file's default admin.token_env


@dataclass
class Setup:
    url: str
    admin_url: str
    process: ManagedProcess
    monolith: Upstream
    catalog: Upstream


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, monolith: Upstream, catalog: Upstream) -> Iterator[Setup]:
    config = routes_file(f"""\
        default: monolith
        backends:
          monolith: {{targets: ["{monolith.url}"], health: {{interval: 0}}}}
          catalog: {{targets: ["{catalog.url}"], health: {{interval: 0}}}}
        routes:
          catalog-ws: {{path: /ws, match: exact, backend: catalog}}
        """)
    with running_router(tmp_path_factory.mktemp("leftovers-router"), config, env=ROUTER_ENV) as (url, process, _):
        yield Setup(url, process.admin_url, process, monolith, catalog)  # type: ignore[attr-defined]


def connect(url: str, timeout: float = 5.0) -> socket.socket:
    host, _, port = url.removeprefix("http://").partition(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the router sends until it closes the connection; fails if it stays open ``within`` s."""
    started = time.monotonic()
    sock.settimeout(within)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            pytest.fail(f"still open after {within}s; got {data[:200]!r}")
        if not chunk:
            return data, time.monotonic() - started
        data += chunk


def log_entries(setup: Setup, marker: str) -> list[dict[str, object]]:
    lines = setup.process.log_path.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{") and marker in line]


def refused_count(setup: Setup, status: int) -> float:
    response = httpx.get(f"{setup.admin_url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if (sample.name == "router_requests_total" and sample.labels.get("route") == "(refused)"
                    and sample.labels.get("code") == str(status)):
                total += sample.value
    return total


# -- WebSocket: Connection-listed request headers -----------------------------------------------------------

@pytest.mark.parametrize("listed", ["X-Secret", "x-secret", "X-SECRET"])
def test_a_websocket_upgrade_drops_the_headers_its_connection_header_names(setup: Setup, listed: str) -> None:
    marker = uuid.uuid4().hex
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (f"GET /ws HTTP/1.1\r\nHost: shop.example\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade, {listed}\r\nX-Secret: hop-only\r\nX-Marker: {marker}\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    with connect(setup.url) as sock:
        sock.sendall(handshake)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, head
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
    [entry] = [e for e in journal(setup.catalog.url) if header_values(e, "x-marker") == [marker]]
    assert header_values(entry, "x-secret") == []


# -- a request body that stalls ------------------------------------------------------------------------------

def test_a_stalled_body_is_answered_408_and_closed_and_never_completed_upstream(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    head = (f"POST /echo/stall-{marker} HTTP/1.1\r\nHost: shop.example\r\nContent-Type: text/plain\r\n"
            f"Content-Length: 100\r\nX-Request-ID: stall-{marker}\r\n\r\n").encode()
    with connect(setup.url) as sock:
        sock.sendall(head + b"x" * 10)  # then nothing
        data, elapsed = read_until_closed(sock, within=BODY_TIMEOUT + 4)
    parsed = parse_response(data)
    assert parsed is not None, data
    response, _ = parsed
    assert response.status == 408
    assert response.header("connection") == "close"
    assert "stalled" in response.json()["detail"]
    assert BODY_TIMEOUT * 0.8 <= elapsed
    # The backend never got a whole request: what it saw of it (a head and a part) was broken off.
    wait_for(lambda: all(e["body_complete"] is False for e in journal(setup.monolith.url)
                         if e["raw_path"] == f"/echo/stall-{marker}"), timeout=3)
    wait_for(lambda: bool(log_entries(setup, f"stall-{marker}")), timeout=3)
    [entry] = log_entries(setup, f"stall-{marker}")
    assert entry["status"] == 408


def test_a_chunked_body_that_stops_is_answered_408(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    head = (f"POST /echo/stall-chunked-{marker} HTTP/1.1\r\nHost: shop.example\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n").encode()
    with connect(setup.url) as sock:
        sock.sendall(head + b"5\r\nhello\r\n")
        data, _ = read_until_closed(sock, within=BODY_TIMEOUT + 4)
    parsed = parse_response(data)
    assert parsed is not None and parsed[0].status == 408, data


def test_a_body_that_keeps_coming_is_not_cut(setup: Setup) -> None:
    """The limit is on silence, not on the whole body: pieces each within the timeout pass."""
    body = b"0123456789" * 4
    data = request_bytes("POST", "/echo/slow-but-steady", [("Content-Type", "text/plain")], body)
    head, _, _ = data.partition(b"\r\n\r\n")
    with connect(setup.url) as sock:
        sock.sendall(head + b"\r\n\r\n")
        for piece in range(4):
            time.sleep(BODY_TIMEOUT * 0.5)
            sock.sendall(body[piece * 10:(piece + 1) * 10])
        sock.settimeout(5)
        received = b""
        while (parsed := parse_response(received)) is None:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    response, _ = parsed
    assert response.status == 200
    assert response.json()["body_length"] == len(body)


# -- refused before routing: counted and logged ---------------------------------------------------------------

REFUSED = {
    400: b"GET /refused-400-MARKER\r\n\r\n",
    414: b"GET /refused-414-MARKER/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: shop.example\r\n\r\n",
    431: b"GET /refused-431-MARKER HTTP/1.1\r\nHost: shop.example\r\n"
         + b"".join(b"X-Field-%d: 1\r\n" % n for n in range(120)) + b"\r\n",
}


@pytest.mark.parametrize("status", sorted(REFUSED))
def test_a_refused_request_is_counted_per_status_and_logged(setup: Setup, status: int) -> None:
    marker = uuid.uuid4().hex
    before = refused_count(setup, status)
    with connect(setup.url) as sock:
        sock.sendall(REFUSED[status].replace(b"MARKER", marker.encode()))
        data, _ = read_until_closed(sock, within=5)
    parsed = parse_response(data)
    assert parsed is not None and parsed[0].status == status, data
    request_id = parsed[0].header("x-request-id")
    assert wait_for(lambda: refused_count(setup, status) == before + 1, timeout=3) is not None
    wait_for(lambda: bool(log_entries(setup, str(request_id))), timeout=3)
    [entry] = log_entries(setup, str(request_id))
    assert (entry["status"], entry["route"]) == (status, "(refused)")
    assert marker in str(entry["path"]) or status == 414
    assert "Traceback" not in setup.process.log_path.read_text(errors="replace")


def test_a_head_that_times_out_is_counted_and_logged_as_408(setup: Setup) -> None:
    before = refused_count(setup, 408)
    with connect(setup.url) as sock:
        sock.sendall(b"GET /half-way HTTP/1.1\r\nHost: shop.exa")
        data, _ = read_until_closed(sock, within=5)
    parsed = parse_response(data)
    assert parsed is not None and parsed[0].status == 408, data
    request_id = str(parsed[0].header("x-request-id"))
    wait_for(lambda: refused_count(setup, 408) == before + 1, timeout=3)
    wait_for(lambda: bool(log_entries(setup, request_id)), timeout=3)
    [entry] = log_entries(setup, request_id)
    assert (entry["status"], entry["method"], entry["route"]) == (408, "GET", "(refused)")


def test_the_body_timeout_is_read_from_the_environment() -> None:
    from router.http.limits import HttpLimits

    assert HttpLimits().body_timeout == 5.0
    assert HttpLimits.from_env({"ROUTER_BODY_TIMEOUT": "2.5"}).body_timeout == 2.5
    with pytest.raises(ValueError, match="ROUTER_BODY_TIMEOUT"):
        HttpLimits.from_env({"ROUTER_BODY_TIMEOUT": "soon"})
    with pytest.raises(ValueError, match="ROUTER_BODY_TIMEOUT"):
        HttpLimits.from_env({"ROUTER_BODY_TIMEOUT": "0"})
