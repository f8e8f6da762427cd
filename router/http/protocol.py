"""The router's HTTP/1.1 server side: uvicorn's httptools protocol, plus the limits it lacks.

uvicorn's settings cover the time a connection may sit idle between requests (``timeout_keep_alive``), and
the router passes ``HttpLimits.keep_alive`` to it. Everything else about reading a request head it leaves
open on httptools: no bound on the size or number of header fields (``h11_max_incomplete_event_size`` is
h11's only), no time limit for a head that arrives slowly or never, request trailers appended to the very
header list the application already holds, a request line without a version (HTTP/0.9) parsed on as if it
had headers, and any number of ``Host`` fields. This protocol enforces all of that, in one place, before
the application sees a request (WebSocket handshakes included):

- a header line (name and value) over ``max_line`` bytes, a head over ``max_head`` bytes or more than
  ``max_headers`` fields: 431; a request target over ``max_line`` bytes: 414;
- a head not complete ``head_timeout`` seconds after the connection opened (or after its first byte, on a
  kept-alive connection): 408; a connection that never sent a byte is closed without an answer (a client
  that preconnected would otherwise read that 408 as the answer to its next request);
- RFC 9112 section 3.2: an HTTP/1.1 request without exactly one ``Host``, or with one that is not
  ``host[:port]``: 400; no HTTP version in the request line: 400; a version other than 1.0 and 1.1: 505;
- trailers of chunked requests are read and dropped (RFC 9110 section 6.5.1), within the same limits;
- what httptools refuses (ambiguous framing and the like) is answered 400 naming the parser's reason.

Refusals are JSON like the router's own (``{"detail", "code": "rejected", "request_id"}``) and end the
connection: the router answers, shuts its side and reads what the client still sends for a moment before
closing (a close with unread data resets the connection and can take the answer with it). A refusal of a
request that arrived pipelined behind one still being answered waits for that answer first.

The limits are ``HttpLimits``: built-in defaults, each overridden by an environment variable read once at
start (``ROUTER_MAX_HEADER_LINE``, ``ROUTER_MAX_HEADER_BYTES``, ``ROUTER_MAX_HEADERS``, ``ROUTER_HEAD_TIMEOUT``,
``ROUTER_BODY_TIMEOUT``, ``ROUTER_KEEP_ALIVE_TIMEOUT``); they apply to the admin API's socket too. The body
timeout is kept by the application, which is what waits for a body (``router.proxy.app``: 408 and close).
"""

from __future__ import annotations

import json
import logging
import re
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from router.http.cycle import RouterCycle
from router.http.limits import HttpLimits
from router.http.refusals import SCOPE_KEY, RefusedRequest, report
from router.routing.headers import new_request_id

log = logging.getLogger("router.http")

# RFC 9112 section 3.2 / RFC 3986 section 3.2.2: host [":" port]. Stricter than a URI's reg-name on purpose:
# no percent-escapes or sub-delimiters (no real host name has them, and "a,b" reads as a list to some).
# \Z, not $: "$" also matches before a final newline.
VALID_HOST = re.compile(rb"^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\Z")
# Where the application finds the body timeout in a request's scope (it reads the body, so it keeps time).
BODY_TIMEOUT_KEY = "router.body_timeout"
# After a refusal, how long the client's remaining bytes are read and dropped before the socket is closed.
LINGER_SECONDS = 2.0


@dataclass(frozen=True)
class Refusal:
    status: int
    detail: str


class _Refused(Exception):  # noqa: N818 - raised from a parser callback to stop the parser; never escapes
    pass


class RouterHttpProtocol(HttpToolsProtocol):
    """One client connection (see the module's docstring). ``configured(limits)`` makes the class to give
    uvicorn (it builds one instance per connection, with its own arguments)."""

    limits: ClassVar[HttpLimits] = HttpLimits()

    @classmethod
    def configured(cls, limits: HttpLimits) -> type[RouterHttpProtocol]:
        return type(cls.__name__, (cls,), {"limits": limits})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = self.limits  # read per header: instance attributes are the quickest to reach
        self._max_line, self._max_head, self._max_headers = limits.max_line, limits.max_head, limits.max_headers
        self._head_open = False  # between a request's first byte and the end of its head
        self._head_size = 0  # bytes of the request target and of the header fields parsed so far
        self._head_wire = 0  # bytes received while the head stayed incomplete (counts a line still growing)
        self._fields = 0
        self._hosts = 0
        self._host = b""
        self._in_body = False  # between the end of the latest request's head and the end of its message
        self._after_chunk_header = False  # a chunk header parsed, none of its data yet: trailers come here
        self._trailer_wire = 0
        self._head_timer: TimerHandle | None = None
        self._refusal: Refusal | None = None  # set by a callback just before it stops the parser
        # A refusal (and the request id it answers with) waiting for the answers of earlier requests.
        self._pending: tuple[Refusal, str] | None = None
        self._done = False  # refused: nothing more is parsed on this connection
        self._linger_timer: TimerHandle | None = None

    # -- connection ------------------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm_head_timer()  # the first request's head must come within head_timeout too

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._linger_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._done:
            return  # refused already: what the client still sends is read and dropped
        self._unset_keepalive_if_required()
        continuing_head = self._head_open
        continuing_trailers = self._after_chunk_header
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            refusal, self._refusal = self._refusal, None
            self._refuse(refusal or Refusal(400, f"not a valid HTTP/1.1 request: {exc}"))
            return
        if self._head_open:
            if continuing_head:
                self._head_wire += len(data)
                if self._head_wire > self.limits.max_head:
                    self._refuse(Refusal(431, f"request head larger than {self.limits.max_head} bytes"))
                    return
            if self._fields == 0 and self.url and (self.parser.get_http_version() == "0.9" or data.endswith(
                    (b" " + self.url + b"\r\n", b" " + self.url + b"\n"))):
                # "GET /x" + CRLF: llhttp takes it for HTTP/0.9 (saying so only once the next byte is in) and
                # waits for header fields, which such a client never sends.
                self._refuse(Refusal(400, "the request line has no HTTP version"))
                return
        elif continuing_trailers and self._after_chunk_header:
            self._trailer_wire += len(data)
            if self._trailer_wire > self.limits.max_head:
                self._refuse(Refusal(431, f"request trailers larger than {self.limits.max_head} bytes"))
                return
        if self._head_timer is None and (self._head_open or (
                not self._in_body and (self.cycle is None or self.cycle.response_complete))):
            # A head under way; or no request at all (blank lines, or the end of a body answered before it
            # was read) on an idle connection: these bytes cancelled uvicorn's keep-alive timer, this one
            # stands in for it.
            self._arm_head_timer()

    # -- parser callbacks ------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[BODY_TIMEOUT_KEY] = self.limits.body_timeout  # type: ignore[literal-required]
        self._head_open = True
        self._head_size = self._head_wire = self._fields = self._hosts = self._trailer_wire = 0
        self._host = b""
        self._in_body = self._after_chunk_header = False

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._head_size += len(url)
        if len(self.url) > self.limits.max_line:
            self._stop(Refusal(414, f"request target longer than {self.limits.max_line} bytes"))

    def on_header(self, name: bytes, value: bytes) -> None:
        # Called for every header of every request: one test on the way, the details only when it fails.
        size = len(name) + len(value)
        if not self._head_open:
            self._trailer(name, size)
            return
        self._fields += 1
        self._head_size += size + 4  # ": " and CRLF
        if size > self._max_line or self._fields > self._max_headers or self._head_size > self._max_head:
            self._too_large(name, size)
        # uvicorn's own on_header from here (not called: it would lower-case the name a second time).
        name = name.lower()
        if name == b"host":
            self._hosts += 1
            self._host = value
        elif name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._head_open = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        version = self.parser.get_http_version()
        if version == "1.1":
            if self._hosts != 1:
                self._stop(Refusal(400, "an HTTP/1.1 request needs exactly one Host header, it has "
                                        f"{self._hosts}"))
        elif version == "1.0":
            if self._hosts > 1:
                self._stop(Refusal(400, f"a request may have one Host header, it has {self._hosts}"))
        elif version == "0.9":
            self._stop(Refusal(400, "the request line has no HTTP version (HTTP/0.9 is not served)"))
        else:
            self._stop(Refusal(505, f"HTTP/{version} is not spoken here (HTTP/1.1 and 1.0 are)"))
        if self._hosts and not VALID_HOST.match(self._host):
            shown = self._host[:100].decode("latin-1")
            self._stop(Refusal(400, f"Host {shown!r} is not host[:port]"))
        super().on_headers_complete()
        if self.cycle is not None:  # uvicorn builds its own cycle class; the router's holds heads for bodies
            self.cycle.__class__ = RouterCycle
        self._in_body = True

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def on_body(self, body: bytes) -> None:
        self._after_chunk_header = False
        super().on_body(body)

    def on_chunk_header(self) -> None:
        # Data follows unless this was the last chunk (size 0): then what follows is the trailer section.
        self._after_chunk_header = True

    def on_chunk_complete(self) -> None:
        self._after_chunk_header = False

    def _too_large(self, name: bytes, size: int) -> None:
        if size > self._max_line:
            self._stop(Refusal(431, f"header {name.decode('latin-1')!r} is {size} bytes "
                                    f"(at most {self._max_line})"))
        if self._fields > self._max_headers:
            self._stop(Refusal(431, f"more than {self._max_headers} header fields"))
        self._stop(Refusal(431, f"request head larger than {self._max_head} bytes"))

    def _trailer(self, name: bytes, size: int) -> None:
        """A trailer field: counted against the limits, then dropped. uvicorn would append it to the header
        list the application already holds, where it would be forwarded as a header."""
        self._fields += 1
        if size > self.limits.max_line:
            self._stop(Refusal(431, f"trailer {name.decode('latin-1')!r} is {size} bytes "
                                    f"(at most {self.limits.max_line})"))
        if self._fields > self.limits.max_headers:
            self._stop(Refusal(431, f"more than {self.limits.max_headers} header and trailer fields"))

    def _stop(self, refusal: Refusal) -> None:
        """Stops the parser from inside a callback; ``data_received`` answers with ``refusal``."""
        self._refusal = refusal
        raise _Refused(refusal.detail)

    # -- timers ----------------------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._done or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            if self._head_open:  # reading is paused behind the request being answered: its time has not run
                self._arm_head_timer()
            return
        if self._head_open:
            self._refuse(Refusal(408, f"request head not complete within {self.limits.head_timeout:g}s"))
        else:
            self.transport.close()  # nothing was asked: closed without a word

    # -- refusing --------------------------------------------------------------------------------------

    def _refuse(self, refusal: Refusal) -> None:
        self._done = True
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"
        log.warning("refused a request from %s: %s %s", client, refusal.status, refusal.detail)
        request_id = new_request_id()
        cycle = self.cycle
        if self._in_body and cycle is not None:
            # The body or trailers of the latest request: the application must stop reading it.
            cycle.disconnected = True
            cycle.message_event.set()
            if self.pipeline and self.pipeline[0][0] is cycle:
                self.pipeline.popleft()  # it was waiting behind earlier requests: it never starts
                waiting = True
                self._report(refusal, request_id)
            elif cycle.response_started:
                self.transport.close()  # an answer is out (or half out) already; nothing else can be said
                return
            else:
                waiting = False
                # The application is serving it: it records the request, with what the client was answered.
                cycle.scope[SCOPE_KEY] = (refusal.status, refusal.detail)  # type: ignore[literal-required]
        else:
            waiting = cycle is not None and not cycle.response_complete
            self._report(refusal, request_id)
        if waiting:
            # Answers go out in order: this one after those of the requests that came before it.
            self._pending = (refusal, request_id)
            self.flow.pause_reading()
            return
        self._answer(refusal, request_id)

    def _report(self, refusal: Refusal, request_id: str) -> None:
        """What is known of a request the application never sees, for the metrics and the access log."""
        try:
            method = self.parser.get_method().decode("latin-1")
        except Exception:  # noqa: BLE001 - the request line was not read that far
            method = ""
        target = getattr(self, "url", b"")[:200].decode("latin-1")
        report(RefusedRequest(refusal.status, refusal.detail, request_id, self.client[0] if self.client else "unknown",
                              method, target))

    def on_response_complete(self) -> None:
        if self._pending is not None and not self.pipeline:
            self.server_state.total_requests += 1
            (refusal, request_id), self._pending = self._pending, None
            self._answer(refusal, request_id)
            return
        super().on_response_complete()

    def _answer(self, refusal: Refusal, request_id: str) -> None:
        if self.transport.is_closing():
            return
        body = json.dumps({"detail": refusal.detail, "code": "rejected", "request_id": request_id}).encode()
        self.transport.write(b"".join([
            STATUS_LINE[refusal.status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"x-request-id: " + request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]))
        # Lingering close: shut our side, drop what the client still sends, close when it does or soon.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
