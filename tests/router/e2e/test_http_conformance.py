"""HTTP/1.1 as an attacker speaks it (RFC 9110, RFC 9112), byte for byte over raw sockets against a real
router process: headers named in ``Connection`` in any spelling, request trailers, ``Host`` rules, request
heads too big, too many or too slow, a request line without a version, ``Expect: 100-continue`` towards a
backend that never answers, and a credential the monolith refuses.

The router here reads heads within 1.5 s (``ROUTER_HEAD_TIMEOUT``) and keeps idle connections 2 s, so the
timing tests finish quickly; the size limits are the defaults (8 KiB a field, 64 KiB a head, 100 fields).
Backends no real server imitates (a capitalised ``Connection``, no answer at all, the monolith's ``/me/``)
are ``ScriptedBackend``s: a socket in a thread of the test, answering each request head with fixed bytes.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.router.e2e.conftest import Upstream
from tests.router.e2e.helpers import (
    RawResponse,
    header_values,
    journal,
    parse_response,
    raw_http,
    request_bytes,
    routes_file,
    seen_paths,
)
from tests.support.servers import running_router

pytestmark = pytest.mark.slow

HEAD_TIMEOUT = 1.5
KEEP_ALIVE = 2
SECRET_ENV = "CONFORMANCE_ROUTER_IDENTITY_SECRET"
ROUTER_ENV = {"ROUTER_HEAD_TIMEOUT": str(HEAD_TIMEOUT), "ROUTER_KEEP_ALIVE_TIMEOUT": str(KEEP_ALIVE),
              SECRET_ENV: f"conformance-identity-secret-{uuid.uuid4().hex}"}


# -- a backend on a raw socket ---------------------------------------------------------------------------

def head_value(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


def answer(status: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ScriptedBackend:
    """Each connection's request head goes to ``script(head)``: the bytes it returns are sent and the
    connection closed; None holds the connection open without a word until the backend stops."""

    def __init__(self, script: Callable[[bytes], bytes | None]) -> None:
        self.script = script
        self.heads: list[bytes] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
            except OSError:
                return
            head = data.partition(b"\r\n\r\n")[0]
            self.heads.append(head)
            reply = self.script(head)
            if reply is None:
                self._stop.wait()
                return
            conn.sendall(reply)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()


def connection_x_foo(head: bytes) -> bytes:
    """Names ``X-Foo`` and ``Keep-Alive`` as hop-by-hop, spelt as the request's ``?spelling=`` asks."""
    target = head.split(b" ")[1].decode()
    spelling = target.partition("spelling=")[2] or "Connection"
    return answer("200 OK", [(spelling, "X-FOO, Keep-Alive"), ("x-foo", "1"), ("KEEP-ALIVE", "timeout=5"),
                             ("X-Bar", "kept"), ("Content-Type", "text/plain")], b"ok")


def monolith_me(head: bytes) -> bytes:
    """The monolith's ``/api/accounts/me/`` as Django REST framework answers it (TokenAuthentication first)."""
    authorization = head_value(head, "authorization") or ""
    # This backend closes every connection after its answer: say so, or the router's look-up client may
    # reuse a closed connection, fail the look-up and (rightly) not take the caller for anonymous.
    plain = [("Content-Type", "application/json"), ("Connection", "close")]
    challenge = [("WWW-Authenticate", "Token"), *plain]
    if authorization == "Token good-token":
        return answer("200 OK", plain, b'{"id": 7, "is_staff": false}')
    if authorization == "Token banned-token":
        return answer("403 Forbidden", plain,
                      b'{"detail": "You do not have permission to perform this action."}')
    if authorization.startswith("Token "):
        return answer("401 Unauthorized", challenge, b'{"detail": "Invalid token."}')
    # No credential, or one it does not read (another scheme, an unknown session): anonymous, refused here.
    return answer("401 Unauthorized", challenge, b'{"detail": "Authentication credentials were not provided."}')


@dataclass
class Setup:
    url: str
    monolith: Upstream
    catalog: Upstream
    scripted: ScriptedBackend
    silent: ScriptedBackend
    me: ScriptedBackend


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, monolith: Upstream, catalog: Upstream) -> Iterator[Setup]:
    """/scripted/ goes to ``connection_x_foo``, /silent/ to a backend that never answers (timeouts 1 s),
    /echo/svc/ to "catalog" behind the identity bridge (``monolith_me``), the rest to "monolith"."""
    scripted, silent, me = (ScriptedBackend(connection_x_foo), ScriptedBackend(lambda head: None),
                            ScriptedBackend(monolith_me))
    config = routes_file(f"""\
        default: monolith
        backends:
          monolith: {{targets: ["{monolith.url}"], health: {{interval: 0}}}}
          catalog: {{targets: ["{catalog.url}"], health: {{interval: 0}}}}
          scripted: {{targets: ["{scripted.url}"], health: {{interval: 0}}}}
          silent:
            targets: ["{silent.url}"]
            health: {{interval: 0}}
            timeouts: {{connect: 1, read: 1}}
            circuit: {{failures: 1000}}
        routes:
          scripted: {{path: /scripted/, backend: scripted}}
          silent: {{path: /silent/, backend: silent}}
          svc: {{path: /echo/svc/, backend: catalog}}
        identity:
          resolve_url: "{me.url}/api/accounts/me/"
          cache_seconds: 0
          secret_env: {SECRET_ENV}
        """)
    try:
        with running_router(tmp_path_factory.mktemp("conformance-router"), config, env=ROUTER_ENV) as (url, _, _):
            yield Setup(url, monolith, catalog, scripted, silent, me)
    finally:
        for backend in (scripted, silent, me):
            backend.close()


def connect(url: str, timeout: float = 5.0) -> socket.socket:
    host, _, port = url.removeprefix("http://").partition(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def read_response(sock: socket.socket, data: bytes = b"") -> tuple[RawResponse, bytes]:
    """The next response on ``sock`` and the bytes after it; fails if the connection closes first."""
    while True:
        parsed = parse_response(data) if b"\r\n\r\n" in data else None
        if parsed is not None and (parsed[0].header("content-length") is not None or parsed[0].status < 200):
            return parsed
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk


def wait_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server still sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    received = b""
    sock.settimeout(within)
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received, time.monotonic() - started


def unseen(upstream: Upstream, marker: str) -> bool:
    return not [path for path in seen_paths(upstream.url) if marker in path]


# -- Connection: hop-by-hop whatever the spelling ---------------------------------------------------------

@pytest.mark.parametrize("spelling", ["Connection", "CONNECTION", "connection", "cOnNeCtIoN"])
def test_response_headers_named_in_connection_never_reach_the_client(setup: Setup, spelling: str) -> None:
    [response] = raw_http(setup.url, request_bytes("GET", f"/scripted/x?spelling={spelling}")).responses
    assert response.status == 200
    assert response.body == b"ok"
    assert response.header("x-foo") is None
    assert response.header("keep-alive") is None
    assert response.header("x-bar") == "kept"
    assert "x-foo" not in (response.header("connection") or "").lower()


@pytest.mark.parametrize("connection", ["close, X-Secret", "CLOSE, x-secret", "close,X-SECRET , Keep-Alive"])
def test_request_headers_named_in_connection_never_reach_the_backend(setup: Setup, connection: str) -> None:
    data = request_bytes("GET", "/echo/connection", [("CONNECTION", connection), ("X-SECRET", "1"),
                                                     ("x-Other", "2")])
    [response] = raw_http(setup.url, data).responses
    echo = response.json()
    assert header_values(echo, "x-secret") == []
    assert header_values(echo, "x-other") == ["2"]


# -- trailers ------------------------------------------------------------------------------------------------

def test_request_trailers_are_dropped_not_forwarded_as_headers(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    data = (f"POST /echo/trailers-{marker} HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n"
            "Trailer: X-Trailer\r\nConnection: close\r\n\r\n"
            "5\r\nhello\r\n0\r\nX-Trailer: smuggled\r\nX-Identity-Token: forged\r\nX-Request-ID: trailer-id\r\n\r\n"
            ).encode()
    [response] = raw_http(setup.url, data).responses
    assert response.status == 200
    echo = response.json()
    assert echo["body_length"] == 5
    for name in ("x-trailer", "x-identity-token", "trailer"):
        assert header_values(echo, name) == [], f"{name} reached the backend"
    assert header_values(echo, "x-request-id") != ["trailer-id"]


def test_a_trailer_section_over_the_limit_ends_the_request(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    data = (f"POST /echo/big-trailer-{marker} HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n5\r\nhello\r\n0\r\nX-Huge: ").encode() + b"a" * 2**20 + b"\r\n\r\n"
    exchange = raw_http(setup.url, data, timeout=5)
    assert exchange.closed
    assert [r.status for r in exchange.responses] in ([], [431])
    time.sleep(0.2)
    entries = [e for e in journal(setup.monolith.url) if marker in e["raw_path"]]
    assert all(e["body_complete"] is not True for e in entries)


# -- Host -------------------------------------------------------------------------------------------------

BAD_HOSTS = {
    "two Host headers": b"Host: shop.example\r\nHost: evil.example\r\n",
    "two equal Host headers": b"Host: shop.example\r\nHost: shop.example\r\n",
    "no Host": b"",
    "an empty Host": b"Host: \r\n",
    "a space inside": b"Host: shop example\r\n",
    "a path": b"Host: shop.example/admin\r\n",
    "user info": b"Host: user@shop.example\r\n",
    "a list": b"Host: shop.example, evil.example\r\n",
    "a bad port": b"Host: shop.example:80a\r\n",
    "an empty port": b"Host: shop.example:\r\n",
    "an open bracket": b"Host: [::1\r\n",
    "a backslash": b"Host: shop.example\\evil\r\n",
    "a percent escape": b"Host: shop%2eexample\r\n",
}


@pytest.mark.parametrize("host", list(BAD_HOSTS.values()), ids=list(BAD_HOSTS))
def test_a_request_without_exactly_one_valid_host_is_refused(setup: Setup, host: bytes) -> None:
    marker = uuid.uuid4().hex
    exchange = raw_http(setup.url, f"GET /echo/host-{marker} HTTP/1.1\r\n".encode() + host
                        + b"Connection: close\r\n\r\n", timeout=3)
    [response] = exchange.responses
    assert response.status == 400
    body = response.json()
    assert body["code"] == "rejected"
    assert "Host" in body["detail"]
    assert body["request_id"] == response.header("x-request-id")
    assert exchange.closed
    assert unseen(setup.monolith, marker)


@pytest.mark.parametrize("host", ["shop.example", "shop.example:8080", "127.0.0.1:80", "[::1]:8080", "[::1]",
                                  "xn--bcher-kva.example", "shop-1.example.", "under_score.local"])
def test_valid_hosts_pass(setup: Setup, host: str) -> None:
    [response] = raw_http(setup.url, request_bytes("GET", "/echo/host-ok", host=host)).responses
    assert response.status == 200
    assert header_values(response.json(), "host") == [host]


def test_http_1_0_may_leave_host_out_but_not_send_two(setup: Setup) -> None:
    [response] = raw_http(setup.url, b"GET /echo/http10 HTTP/1.0\r\n\r\n").responses
    assert response.status == 200
    [response] = raw_http(setup.url, b"GET /echo/http10 HTTP/1.0\r\nHost: a.example\r\nHost: b.example\r\n\r\n"
                          ).responses
    assert response.status == 400


# -- the request line -------------------------------------------------------------------------------------

def test_a_request_line_without_a_version_is_refused(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    exchange = raw_http(setup.url, f"GET /echo/v09-{marker}\r\n\r\n".encode(), timeout=3)
    [response] = exchange.responses
    assert response.status == 400
    assert "version" in response.json()["detail"]
    assert exchange.closed
    assert unseen(setup.monolith, marker)


def test_a_request_line_without_a_version_is_refused_at_once_without_a_blank_line(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    with connect(setup.url) as sock:
        started = time.monotonic()
        sock.sendall(f"GET /echo/v09-{marker}\r\n".encode())
        response, _ = read_response(sock)
        assert time.monotonic() - started < HEAD_TIMEOUT / 2  # refused at once, not timed out
    assert response.status == 400
    assert "version" in response.json()["detail"]
    assert unseen(setup.monolith, marker)


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/1.2", b"HTTP/3.0", b"HTTP/0.9", b"HTTPS/1.1", b"http/1.1"])
def test_other_versions_are_refused(setup: Setup, version: bytes) -> None:
    marker = uuid.uuid4().hex
    exchange = raw_http(setup.url, f"GET /echo/version-{marker} ".encode() + version
                        + b"\r\nHost: shop.example\r\n\r\n", timeout=3)
    assert [r.status for r in exchange.responses] in ([400], [505])
    assert exchange.closed
    assert unseen(setup.monolith, marker)


# -- size and number of header fields ---------------------------------------------------------------------

def _head(marker: str, fields: list[tuple[str, str]]) -> bytes:
    return request_bytes("GET", f"/echo/limits-{marker}", fields)


OVERSIZED = {
    "a 1 MB header": [("X-Big", "a" * 2**20)],
    "a header over 8 KiB": [("X-Big", "a" * (8 * 1024 - 4))],
    "a header name over 8 KiB": [("X-" + "n" * 8200, "1")],
    "101 header fields": [(f"X-Field-{n}", "1") for n in range(100)],
    "70 KB in 70 fields": [(f"X-Field-{n}", "a" * 1000) for n in range(70)],
}


@pytest.mark.parametrize("fields", list(OVERSIZED.values()), ids=list(OVERSIZED))
def test_request_heads_over_the_limits_are_refused_with_431(setup: Setup, fields: list[tuple[str, str]]) -> None:
    marker = uuid.uuid4().hex
    exchange = raw_http(setup.url, _head(marker, fields), timeout=5)
    [response] = exchange.responses
    assert response.status == 431
    assert response.json()["code"] == "rejected"
    assert exchange.closed
    assert unseen(setup.monolith, marker)


def test_request_heads_at_the_limits_pass(setup: Setup) -> None:
    # Host and Connection are two of the 100 fields; "X-Big: " + value is 8 KiB exactly (name and value).
    for fields in ([("X-Big", "a" * (8 * 1024 - 5))], [(f"X-Field-{n}", "1") for n in range(98)],
                   [(f"X-Field-{n}", "a" * 1000) for n in range(60)]):
        [response] = raw_http(setup.url, _head(uuid.uuid4().hex, fields)).responses
        assert response.status == 200


def test_a_request_target_over_8_kib_is_refused_with_414(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    exchange = raw_http(setup.url, request_bytes("GET", f"/echo/long-{marker}?q=" + "a" * 9000), timeout=5)
    [response] = exchange.responses
    assert response.status == 414
    assert unseen(setup.monolith, marker)


def test_a_head_refused_behind_a_request_in_flight_is_answered_after_it(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    data = (request_bytes("GET", f"/slow/0.5?m={marker}", [("Connection", "keep-alive")])
            + _head(marker, [("X-Big", "a" * 20_000)]))
    exchange = raw_http(setup.url, data, timeout=5)
    assert [r.status for r in exchange.responses] == [200, 431]
    assert exchange.responses[0].json()["slept"] == 0.5
    assert exchange.closed


def test_a_bad_head_pipelined_behind_good_requests_keeps_their_answers_in_order(setup: Setup) -> None:
    data = (request_bytes("GET", "/echo/one", [("Connection", "keep-alive")])
            + request_bytes("GET", "/echo/two", [("Connection", "keep-alive")])
            + b"GET /echo/three HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n")
    exchange = raw_http(setup.url, data, timeout=5)
    assert [r.status for r in exchange.responses] == [200, 200, 400]
    assert [r.json().get("raw_path") for r in exchange.responses[:2]] == ["/echo/one", "/echo/two"]


# -- slow and idle connections -----------------------------------------------------------------------------

def test_a_connection_that_sends_nothing_is_closed_without_a_word(setup: Setup) -> None:
    with connect(setup.url) as sock:
        received, took = wait_closed(sock, within=HEAD_TIMEOUT + 3)
    assert received == b""
    assert HEAD_TIMEOUT - 0.2 < took < HEAD_TIMEOUT + 1


def test_blank_lines_do_not_keep_a_connection_open(setup: Setup) -> None:
    with connect(setup.url) as sock:
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < HEAD_TIMEOUT + 3:
            try:
                sock.sendall(b"\r\n")
            except OSError:
                closed = True
                break
            if select.select([sock], [], [], 0.3)[0]:
                closed = sock.recv(65536) == b""
                break
        assert closed
        assert time.monotonic() - started < HEAD_TIMEOUT + 1


def _slowloris(sock: socket.socket, pieces: list[bytes], interval: float, limit: float) -> tuple[bytes, float]:
    """Sends ``pieces`` one by one, ``interval`` apart, until the server says something; returns what it said
    and when (seconds after the first piece)."""
    started = time.monotonic()
    for piece in pieces:
        try:
            sock.sendall(piece)
        except OSError:
            break
        if select.select([sock], [], [], interval)[0] or time.monotonic() - started > limit:
            break
    received, _ = wait_closed(sock, within=limit)
    return received, time.monotonic() - started


def test_a_slowloris_head_is_answered_408_and_closed(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    pieces = [f"GET /echo/slow-{marker} HTTP/1.1\r\nHost: shop.example\r\n".encode()]
    pieces += [f"X-Drip-{n}: {n}\r\n".encode() for n in range(100)]
    with connect(setup.url) as sock:
        received, took = _slowloris(sock, pieces, interval=0.25, limit=HEAD_TIMEOUT + 3)
    response, _ = parse_response(received) or (None, b"")
    assert response is not None, received
    assert response.status == 408
    assert response.header("connection") == "close"
    assert took < HEAD_TIMEOUT + 1
    assert unseen(setup.monolith, marker)


def test_a_head_that_stops_half_way_is_answered_408(setup: Setup) -> None:
    with connect(setup.url) as sock:
        sock.sendall(b"GET /echo/half HTTP/1.1\r\nHost: shop.exa")
        received, took = wait_closed(sock, within=HEAD_TIMEOUT + 3)
    parsed = parse_response(received)
    assert parsed is not None and parsed[0].status == 408
    assert took < HEAD_TIMEOUT + 1


def test_a_kept_alive_connection_is_closed_when_idle_and_its_next_head_is_timed_too(setup: Setup) -> None:
    with connect(setup.url) as sock:
        sock.sendall(request_bytes("GET", "/echo/first", [("Connection", "keep-alive")]))
        first, _ = read_response(sock)
        assert first.status == 200
        received, took = wait_closed(sock, within=KEEP_ALIVE + 3)
        assert received == b""
        assert KEEP_ALIVE - 0.3 < took < KEEP_ALIVE + 1
    with connect(setup.url) as sock:
        sock.sendall(request_bytes("GET", "/echo/first", [("Connection", "keep-alive")]))
        first, _ = read_response(sock)
        pieces = [b"GET /echo/second HTTP/1.1\r\n"] + [f"X-Drip-{n}: {n}\r\n".encode() for n in range(100)]
        received, took = _slowloris(sock, pieces, interval=0.25, limit=HEAD_TIMEOUT + 3)
        parsed = parse_response(received)
        assert parsed is not None and parsed[0].status == 408
        assert took < HEAD_TIMEOUT + 1


def test_a_slow_request_in_flight_is_not_cut_by_the_head_timeout(setup: Setup) -> None:
    """The head timer covers heads only: a backend that takes longer than it still answers."""
    [response] = raw_http(setup.url, request_bytes("GET", f"/slow/{HEAD_TIMEOUT + 1}"), timeout=10).responses
    assert response.status == 200


# -- Expect: 100-continue ----------------------------------------------------------------------------------

def test_expect_100_continue_towards_a_backend_that_never_answers_ends_in_a_504(setup: Setup) -> None:
    with connect(setup.url) as sock:
        started = time.monotonic()
        sock.sendall(request_bytes("POST", "/silent/upload", [("Content-Length", "5"),
                                                              ("Expect", "100-continue")]))
        interim, rest = read_response(sock)
        assert interim.status == 100
        assert time.monotonic() - started < 1.0
        sock.sendall(b"hello")
        final, _ = read_response(sock, rest)
        took = time.monotonic() - started
    assert final.status == 504
    assert final.json()["code"] == "timeout"
    assert took < 4  # the backend's read timeout (1 s), not the client's patience
    # The router met the expectation itself: the backend was never asked to.
    assert setup.silent.heads and head_value(setup.silent.heads[-1], "expect") is None


def test_expect_100_continue_is_met_by_the_router_and_the_body_arrives(setup: Setup) -> None:
    marker = uuid.uuid4().hex
    with connect(setup.url) as sock:
        sock.sendall(request_bytes("POST", f"/echo/expect-{marker}", [("Content-Length", "5"),
                                                                      ("Expect", "100-continue")]))
        interim, rest = read_response(sock)
        assert interim.status == 100
        sock.sendall(b"hello")
        final, _ = read_response(sock, rest)
    assert final.status == 200
    echo = final.json()
    assert echo["body_length"] == 5
    assert header_values(echo, "expect") == []


def test_a_refusal_before_the_body_of_an_expect_request_closes_the_connection(setup: Setup) -> None:
    """The client may or may not send the body it was not invited to send: the router cannot tell where the
    next request would start, so it ends the connection after its answer."""
    with connect(setup.url) as sock:
        sock.sendall(request_bytes("POST", "/echo/%zz", [("Content-Length", "5"), ("Expect", "100-continue"),
                                                          ("Connection", "keep-alive")]))
        response, rest = read_response(sock)
        assert response.status == 400
        assert response.header("connection") == "close"
        received, _ = wait_closed(sock, within=3)
        assert rest + received == b""


# -- identity: a credential the monolith refuses is refused ---------------------------------------------

def test_a_refused_token_reaches_the_service_as_a_signed_refusal(setup: Setup) -> None:
    """The service answers the monolith's refusal itself, where the monolith would (after its 400/404/406):
    the router forwards the request with a refused identity token carrying status, body and challenges,
    and the caller's own Authorization header."""
    import jwt

    secret = ROUTER_ENV[SECRET_ENV]
    for token, status, detail in (("Token revoked-token", 401, "Invalid token."),
                                  ("Token banned-token", 403, "You do not have permission to perform this action.")):
        [response] = raw_http(setup.url, request_bytes("GET", "/echo/svc/refused",
                                                       [("Authorization", token)])).responses
        assert response.status == 200
        echo = response.json()
        [identity] = header_values(echo, "x-identity-token")
        claims = jwt.decode(identity, secret, algorithms=["HS256"], audience="strangler-services",
                            issuer="strangler-router")
        assert "sub" not in claims  # a verifier that knows nothing of refusals rejects it: never anonymous
        assert claims["refused"] == {"status": status, "body": {"detail": detail},
                                     "www_authenticate": ["Token"] if status == 401 else []}
        assert header_values(echo, "authorization") == [token]


@pytest.mark.parametrize("credential", [("Authorization", "Bearer not-the-monolith-s-scheme"),
                                        ("Cookie", "sessionid=expired-session")], ids=["foreign-scheme", "session"])
def test_a_credential_the_monolith_ignores_stays_anonymous(setup: Setup, credential: tuple[str, str]) -> None:
    for _ in range(3):
        # A look-up that fails (a loaded machine, a closed connection) makes the router fail closed (401),
        # and nothing is cached: asking again is what a client does. Once the monolith answers, it is 200.
        [response] = raw_http(setup.url, request_bytes("GET", "/echo/svc/ignored", [credential])).responses
        if response.status == 200:
            break
    assert response.status == 200
    assert header_values(response.json(), "x-identity-token") == []


def test_a_known_token_still_reaches_the_service_with_an_identity(setup: Setup) -> None:
    [response] = raw_http(setup.url, request_bytes("GET", "/echo/svc/known",
                                                   [("Authorization", "Token good-token")])).responses
    assert response.status == 200
    assert len(header_values(response.json(), "x-identity-token")) == 1


def test_refusals_are_json_with_a_reason(setup: Setup) -> None:
    """What the HTTP parser refuses is answered like the router's own refusals, naming the reason."""
    exchange = raw_http(setup.url, b"GET /echo/x HTTP/1.1\r\nHost: shop.example\r\nBad Header: 1\r\n\r\n")
    [response] = exchange.responses
    assert response.status == 400
    assert response.header("content-type") == "application/json"
    body = json.loads(response.body)
    assert body["code"] == "rejected" and body["detail"]
