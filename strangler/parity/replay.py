"""``strangler replay``: send recorded requests to a target and compare its answers.

Compared with the recorded answers, or with ``baseline``'s live answer to the same request. Comparison is
the router's engine (:func:`router.compare.compare`) under the given rules; live answers are redacted the
same way recordings were, so secrets never count as differences.

Safety: only safe methods (GET, HEAD, OPTIONS) are sent unless ``include_writes`` *and* ``writes_confirmed``
(the command's ``--include-writes --i-know-this-writes``) are both set; writes are then sent one at a time in
recorded order. Requests whose recorded body or query holds redacted secrets (a login's password) cannot be
replayed faithfully and are skipped. Requests that authenticated themselves are re-authenticated with
``auth_token`` (``Authorization: <scheme> <token>``) or skipped, each with its count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from mitmproxy import http

from router.compare import Response, Rules, compare
from strangler.parity.environment import AUTH_TOKEN_ENV
from strangler.parity.exceptions import ReplayError, UnsafeReplay
from strangler.parity.flows import FRAMING, RecordedRequest
from strangler.parity.outcomes import ReplayReport, RequestOutcome
from strangler.parity.redaction import CREDENTIAL_HEADERS, REDACTED, Redactor

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Never replayed as recorded: framing (httpx sets its own), and credentials (redacted in the file anyway).
DROPPED = FRAMING | {"host", "proxy-connection", "te", "trailer", "upgrade", "cookie", "x-csrftoken"} \
    | CREDENTIAL_HEADERS

SKIP_WRITE = "a write (not GET/HEAD/OPTIONS); pass --include-writes to send writes"
SKIP_AUTH = f"needed authentication (recorded credentials are redacted); pass --auth-token or set {AUTH_TOKEN_ENV}"
SKIP_REDACTED = "its recorded body or query holds redacted values (e.g. a login's password)"
SKIP_NO_ANSWER = "the recording holds no answer to compare with (backend failed); use --baseline"


@dataclass
class ReplaySettings:
    against: str
    baseline: str | None = None
    concurrency: int = 8
    include_writes: bool = False
    writes_confirmed: bool = False
    rules: Rules = field(default_factory=Rules)
    auth_token: str | None = None
    auth_scheme: str = "Token"
    host_header: str = "recorded"  # "recorded": send the recorded Host (links agree); "target": the target's
    path_prefix: str | None = None
    timeout: float = 30.0


def check_target(url: str, option: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReplayError(f"{option} {url!r}: expected an http(s) URL such as http://127.0.0.1:8000")
    return url.rstrip("/")


def plan(requests: Sequence[RecordedRequest], settings: ReplaySettings
         ) -> tuple[list[RecordedRequest], dict[int, RequestOutcome]]:
    """Which requests go out; the rest as skipped outcomes, by index."""
    if settings.include_writes and not settings.writes_confirmed:
        raise UnsafeReplay("--include-writes sends recorded POST/PUT/PATCH/DELETE requests, which change the "
                           "target's data: add --i-know-this-writes to confirm the target (and the baseline) "
                           "run on disposable databases")
    send: list[RecordedRequest] = []
    skipped: dict[int, RequestOutcome] = {}
    for r in requests:
        reason = None
        if settings.path_prefix and not r.path.startswith(settings.path_prefix):
            reason = f"outside --path-prefix {settings.path_prefix}"
        elif r.method not in SAFE_METHODS and not settings.include_writes:
            reason = SKIP_WRITE
        elif r.credentials and not settings.auth_token:
            reason = SKIP_AUTH
        elif REDACTED.encode() in r.body or REDACTED in r.path or "%5Bredacted%5D" in r.path:
            reason = SKIP_REDACTED
        elif r.response is None and not settings.baseline:
            reason = SKIP_NO_ANSWER
        if reason:
            skipped[r.index] = RequestOutcome(r.index, r.method, r.path, "skipped",
                                              expected_status=r.response.status if r.response else None,
                                              error=reason)
        else:
            send.append(r)
    return send, skipped


def outgoing_headers(r: RecordedRequest, settings: ReplaySettings) -> list[tuple[str, str]]:
    headers = [(k, v) for k, v in r.headers if k.lower() not in DROPPED]
    if settings.host_header == "recorded" and r.host:
        headers.append(("Host", r.host))
    if r.credentials and settings.auth_token:
        headers.append(("Authorization", f"{settings.auth_scheme} {settings.auth_token}"))
    return headers


def redacted_answer(response: httpx.Response, redactor: Redactor) -> Response:
    """A live answer, decoded and redacted exactly like a recorded one."""
    headers = http.Headers([(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.multi_items()
                            if k.lower() not in FRAMING])
    message = http.Response.make(response.status_code, response.content, headers)
    redactor.response(message)
    return Response(message.status_code, tuple(message.headers.items(multi=True)),
                    message.get_content(strict=False) or b"")


async def _send(client: httpx.AsyncClient, base: str, r: RecordedRequest, settings: ReplaySettings,
                redactor: Redactor) -> Response:
    response = await client.request(r.method, base + r.path, headers=outgoing_headers(r, settings),
                                    content=r.body or None)
    return redacted_answer(response, redactor)


async def _replay(send: list[RecordedRequest], settings: ReplaySettings,
                  progress: Callable[[RequestOutcome], None] | None) -> list[RequestOutcome]:
    writes = any(r.method not in SAFE_METHODS for r in send)
    gate = asyncio.Semaphore(1 if writes else max(1, settings.concurrency))
    redactor = Redactor()
    limits = httpx.Limits(max_connections=max(1, settings.concurrency))
    timeout = httpx.Timeout(settings.timeout)
    target = check_target(settings.against, "--against")
    baseline = check_target(settings.baseline, "--baseline") if settings.baseline else None
    async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False) as client:

        async def one(r: RecordedRequest) -> RequestOutcome:
            outcome = await attempt(r)
            if progress:
                progress(outcome)
            return outcome

        async def attempt(r: RecordedRequest) -> RequestOutcome:
            async with gate:
                started = time.perf_counter()
                try:
                    if baseline:
                        expected = await _send(client, baseline, r, settings, redactor)
                    else:
                        assert r.response is not None
                        expected = r.response
                except httpx.HTTPError as exc:
                    return RequestOutcome(r.index, r.method, r.path, "error",
                                          error=f"baseline: {type(exc).__name__}: {exc}".strip())
                try:
                    got = await _send(client, target, r, settings, redactor)
                except httpx.HTTPError as exc:
                    return RequestOutcome(r.index, r.method, r.path, "error", expected_status=expected.status,
                                          error=f"target: {type(exc).__name__}: {exc}".strip())
                elapsed = (time.perf_counter() - started) * 1000
            differences = compare(expected, got, settings.rules)
            return RequestOutcome(r.index, r.method, r.path, "different" if differences else "equal",
                                  expected_status=expected.status, got_status=got.status,
                                  differences=differences, elapsed_ms=elapsed)

        if writes:  # in recorded order, one at a time: later requests may depend on earlier writes
            return [await one(r) for r in send]
        return list(await asyncio.gather(*(one(r) for r in send)))


def replay(requests: Sequence[RecordedRequest], settings: ReplaySettings, *, source: str = "",
           progress: Callable[[RequestOutcome], None] | None = None) -> ReplayReport:
    check_target(settings.against, "--against")
    if settings.baseline:
        check_target(settings.baseline, "--baseline")
    if settings.host_header not in ("recorded", "target"):
        raise ReplayError(f"--host-header {settings.host_header!r}: expected 'recorded' or 'target'")
    send, skipped = plan(requests, settings)
    started = time.perf_counter()
    sent = asyncio.run(_replay(send, settings, progress)) if send else []
    outcomes = sorted([*sent, *skipped.values()], key=lambda o: o.index)
    notes = []
    if any(r.method not in SAFE_METHODS for r in send):
        notes.append("writes were included: requests were sent one at a time in recorded order")
    return ReplayReport(source=source, against=settings.against, baseline=settings.baseline,
                        rules=settings.rules.as_dict(), outcomes=outcomes,
                        duration_s=time.perf_counter() - started, notes=notes)
