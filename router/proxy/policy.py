"""The forwarding policy, written once for every way a request leaves the router: a plain HTTP request
(``app.py``), its shadow copy (``router/addons/shadow.py``, which sends the headers built here) and a WebSocket
upgrade (``app.py`` and ``websocket.py``).

- What a client sent that never goes upstream: hop-by-hop headers and those its ``Connection`` header names
  (RFC 9110 section 7.6.1), identity headers (only the identity bridge sets them), forwarding headers (the
  router sets its own), ``X-Request-ID`` and ``Host`` (set again below) and ``Expect``: the router meets a
  100-continue itself (uvicorn sends the 100 when the body is first read, that is when forwarding starts);
  forwarded, it would make the upstream client wait for the backend's 100 before sending the body, and a
  backend that never answers would hold the client past every timeout.
- What the router sets: ``Host`` as the client sent it, ``X-Forwarded-For`` (the client's address),
  ``X-Forwarded-Proto`` (the scheme it used), ``X-Forwarded-Host`` (when it sent a Host) and ``X-Request-ID``.
- The request id: the client's ``X-Request-ID`` when it looks like one (``headers.VALID_REQUEST_ID``), else a
  new one.
- The upstream URL: the target, the normalised path the request was matched on (re-encoded, never the raw
  one) and the query as it came.
- What comes back: the backend's hop-by-hop headers are dropped and the ``X-Request-ID`` is the router's.
"""

from __future__ import annotations

from router.proxy.flow import Flow
from router.routing.headers import FORWARDING, HOP_BY_HOP, IDENTITY, VALID_REQUEST_ID, connection_listed, new_request_id
from router.routing.paths import encode

Headers = list[tuple[bytes, bytes]]

# Header names as bytes, lower-case: compared with names that are lower-cased once per request.
DROP_FROM_CLIENT = frozenset(name.encode() for name in HOP_BY_HOP | IDENTITY | FORWARDING
                             | {"x-request-id", "host", "expect"})
DROP_FROM_UPSTREAM = frozenset(name.encode() for name in HOP_BY_HOP | {"x-request-id"})


def request_id(incoming: bytes | None) -> str:
    """The id the request goes on with: ``incoming`` (the client's X-Request-ID) when it is a valid one."""
    return incoming.decode() if incoming is not None and VALID_REQUEST_ID.match(incoming) else new_request_id()


def upstream_headers(raw: Headers, flow: Flow, host: bytes, *, has_connection: bool = True) -> Headers:
    """The headers ``flow`` goes upstream with. ``raw``: the client's, names lower-case; ``has_connection``
    False says it sent no Connection header (the HTTP path knows, and skips looking for one)."""
    drop = DROP_FROM_CLIENT | connection_listed(raw) if has_connection else DROP_FROM_CLIENT
    out = [item for item in raw if item[0] not in drop]
    out.append((b"host", host))
    out.append((b"x-forwarded-for", flow.client.encode()))
    out.append((b"x-forwarded-proto", flow.scheme.encode()))
    if host:
        out.append((b"x-forwarded-host", host))
    out.append((b"x-request-id", flow.request_id.encode()))
    return out


def upstream_url(target: str, path: str, query: bytes, *, websocket: bool = False) -> str:
    """Where a request for ``path`` (normalised) goes on ``target`` (``http://host:port``); ``websocket``: the
    same place as a ``ws://`` URL."""
    base = "ws" + target.removeprefix("http") if websocket else target
    return base + encode(path) + ("?" + query.decode("latin-1") if query else "")


def downstream_headers(upstream: Headers, flow: Flow) -> Headers:
    """The backend's response headers as the client gets them (lower-cased once: the client library keeps the
    backend's spelling; uvicorn writes them lower-case)."""
    headers = [(k.lower(), v) for k, v in upstream]
    listed = connection_listed(headers)
    drop = DROP_FROM_UPSTREAM | listed if listed else DROP_FROM_UPSTREAM
    headers = [item for item in headers if item[0] not in drop]
    headers.append((b"x-request-id", flow.request_id.encode()))
    return headers
