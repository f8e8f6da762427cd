"""Bodies stream through the router in constant memory, both ways, and the body size limit holds whether
the client announces the size or not."""

from __future__ import annotations

import hashlib
import os
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.router.e2e.conftest import Router, Upstream
from tests.router.e2e.helpers import (
    RawResponse,
    journal,
    memory_kib,
    parse_response,
    request_bytes,
    routes_file,
    seen_paths,
)
from tests.support.servers import running_router

pytestmark = pytest.mark.slow

MB = 10**6
MiB = 2**20
BIG = 100 * MB
MEMORY_HEADROOM_KIB = 80 * 1024  # what the router may grow by while 100 MB pass through it
LIMIT = 1 * MiB  # the shared router's max_body


@pytest.fixture(scope="module")
def big_router(tmp_path_factory: pytest.TempPathFactory, monolith: Upstream) -> Iterator[Router]:
    config = routes_file(f"""\
        default: monolith
        backends:
          monolith: {{targets: ["{monolith.url}"], health: {{interval: 0}}, timeouts: {{read: 30}}}}
        """, max_body="200MiB")
    with running_router(tmp_path_factory.mktemp("big-router"), config) as (url, process, _path):
        router = Router(url, process)
        # Warm up (upstream session, first-request allocations) before anyone takes a baseline.
        for _ in range(3):
            httpx.post(f"{url}/echo/warmup", content=os.urandom(256 * 1024), timeout=10).raise_for_status()
            httpx.get(f"{url}/bytes/{256 * 1024}", timeout=10).raise_for_status()
        yield router


def _generated(total: int, chunk: int = 256 * 1024) -> tuple[Iterator[bytes], hashlib._Hash]:
    block = os.urandom(chunk)
    digest = hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            piece = block[: min(chunk, total - sent)]
            digest.update(piece)
            sent += len(piece)
            yield piece

    return chunks(), digest


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
def test_a_100_mb_upload_streams_in_constant_memory(big_router: Router, framing: str) -> None:
    before = memory_kib(big_router.process)
    body, digest = _generated(BIG)
    headers = {"Content-Length": str(BIG)} if framing == "content-length" else {}
    started = time.monotonic()
    response = httpx.post(f"{big_router.url}/echo/upload", content=body, headers=headers, timeout=60)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    echo = response.json()
    assert (echo["body_length"], echo["body_sha256"]) == (BIG, digest.hexdigest())
    after = memory_kib(big_router.process)
    grew = after["VmHWM"] - before["VmRSS"]
    assert grew < MEMORY_HEADROOM_KIB, f"router peak RSS grew by {grew} KiB for a 100 MB upload ({elapsed:.1f}s)"


@pytest.mark.parametrize("path", [f"/bytes/{BIG}", f"/stream/{20 * 1024}"])
def test_a_big_download_streams_in_constant_memory(big_router: Router, path: str) -> None:
    before = memory_kib(big_router.process)
    expected = BIG if path.startswith("/bytes") else 20 * 1024 * 1024
    received = 0
    with httpx.stream("GET", f"{big_router.url}{path}", timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["x-upstream"] == "monolith"
        for chunk in response.iter_raw():
            received += len(chunk)
            assert set(chunk) <= {ord("x"), ord("y")}
    assert received == expected
    grew = memory_kib(big_router.process)["VmHWM"] - before["VmRSS"]
    assert grew < MEMORY_HEADROOM_KIB, f"router peak RSS grew by {grew} KiB for a {received} byte download"


def test_a_slow_reader_does_not_make_the_router_buffer(big_router: Router) -> None:
    """The client reads 50 MB slowly at first: backpressure must reach the backend, not the router's heap."""
    before = memory_kib(big_router.process)
    received = 0
    with httpx.stream("GET", f"{big_router.url}/bytes/{50 * MB}", timeout=60) as response:
        for index, chunk in enumerate(response.iter_raw(64 * 1024)):
            if index < 20:
                time.sleep(0.05)  # a second of dawdling while the backend has everything ready
            received += len(chunk)
    assert received == 50 * MB
    grew = memory_kib(big_router.process)["VmHWM"] - before["VmRSS"]
    assert grew < MEMORY_HEADROOM_KIB, f"router peak RSS grew by {grew} KiB behind a slow reader"


def test_content_length_over_the_limit_is_refused_at_once(router: Router, monolith: Upstream) -> None:
    marker = uuid.uuid4().hex
    with socket.create_connection(_hostport(router.url), timeout=3) as sock:
        # Only the head is sent: the answer must come without waiting for (or reading) the body.
        started = time.monotonic()
        sock.sendall(request_bytes("POST", f"/echo/too-big-{marker}",
                                   [("Content-Length", str(LIMIT + 1)), ("Connection", "keep-alive")]))
        first = _read_response(sock)
        assert time.monotonic() - started < 1.0
        assert first.status == 413
        body = first.json()
        assert body["code"] == "rejected"
        assert str(LIMIT) in body["detail"]
        # The announced body still follows; it is skipped as a body, never read as requests of its own.
        smuggled = request_bytes("GET", f"/echo/inside-the-body-{marker}", [("Connection", "keep-alive")])
        sock.sendall(smuggled + b"z" * (LIMIT + 1 - len(smuggled)))
        sock.sendall(request_bytes("GET", f"/echo/after-{marker}"))
        second = _read_response(sock)
        assert second.status == 200
        assert second.json()["raw_path"] == f"/echo/after-{marker}"
    assert [path for path in seen_paths(monolith.url) if marker in path] == [f"/echo/after-{marker}"]


def _hostport(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").partition(":")
    return host, int(port)


def _read_response(sock: socket.socket) -> RawResponse:
    """The next response on ``sock`` (the caller sends nothing more until it has it)."""
    data = b""
    while True:
        parsed = parse_response(data)
        if parsed is not None:
            return parsed[0]
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk


def test_content_length_at_the_limit_passes(router: Router) -> None:
    body = os.urandom(LIMIT)
    response = httpx.post(f"{router.url}/echo/at-limit", content=body, timeout=10)
    assert response.status_code == 200
    assert response.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_a_chunked_body_over_the_limit_is_cut_and_never_forwarded_whole(router: Router,
                                                                        monolith: Upstream) -> None:
    request_id = f"chunked-too-big-{uuid.uuid4().hex}"
    body, _digest = _generated(4 * LIMIT, chunk=64 * 1024)
    started = time.monotonic()
    try:
        response = httpx.post(f"{router.url}/echo/chunked-too-big", content=body, timeout=10,
                              headers={"X-Request-ID": request_id})
    except httpx.TransportError:
        pass  # the router may cut the connection while the client is still sending: also a refusal
    else:
        assert response.status_code == 413
        assert response.json()["code"] == "rejected"
        assert response.headers["x-request-id"] == request_id
    assert time.monotonic() - started < 5
    time.sleep(0.2)  # let the backend notice its request broke off
    seen = [entry for entry in journal(monolith.url) if entry["request_id"] == request_id]
    for entry in seen:  # it may have started receiving; it never received the whole body
        assert entry["body_complete"] is not True
        assert (entry["body_length"] or 0) <= LIMIT


def test_expect_100_continue_is_honoured_and_never_invited_over_the_limit(router: Router) -> None:
    with socket.create_connection(_hostport(router.url), timeout=3) as sock:
        sock.sendall(request_bytes("POST", "/echo/expect", [("Content-Length", str(LIMIT + 1)),
                                                            ("Expect", "100-continue"), ("Connection", "keep-alive")]))
        refused = _read_response(sock)
        assert refused.status == 413  # straight away: no "100 Continue" inviting a body that would be refused
    with socket.create_connection(_hostport(router.url), timeout=3) as sock:
        body = os.urandom(200_000)
        sock.sendall(request_bytes("POST", "/echo/expect", [("Content-Length", str(len(body))),
                                                            ("Expect", "100-continue")]))
        interim = _read_response(sock)
        assert interim.status == 100
        sock.sendall(body)
        final = _read_response(sock)
        assert final.status == 200
        assert final.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
