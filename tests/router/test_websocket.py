"""WebSocket upgrades in the forwarding core (router/proxy/app.py, router/proxy/websocket.py), driven in-process
as ASGI: an upgrade passes through the addons as a plain request does, an addon's answer reaches the client as
the upgrade's HTTP answer, and the addons' done() sees every upgrade once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from router.config import parse
from router.proxy.app import RouterApp
from router.proxy.flow import Flow
from router.proxy.pipeline import Addon, Reply
from router.upstream.interface import UpstreamRequest, UpstreamResponse

ROUTES = """
default: monolith
backends:
  monolith: {targets: http://monolith.test, health: {interval: 0}}
  catalog: {targets: http://catalog.test, health: {interval: 0}}
routes:
  live: {path: /live/, backend: catalog}
"""


class NoUpstream:
    """A transport that carries no upgrades (neither h1 nor aiohttp): an upgrade it is asked for is refused."""

    async def handle_request(self, request: UpstreamRequest) -> UpstreamResponse:
        raise AssertionError("no plain request expected")

    async def aclose(self) -> None:
        return None


class Recorder(Addon):
    """Answers every request with ``reply`` (when given) and keeps what done() saw."""

    def __init__(self, reply: Reply | None = None) -> None:
        self.reply = reply
        self.asked: list[Flow] = []
        self.done_with: list[Flow] = []

    async def request(self, flow: Flow) -> Reply | None:
        self.asked.append(flow)
        return self.reply

    def done(self, flow: Flow) -> None:
        self.done_with.append(flow)


def upgrade(app: RouterApp, path: str, *, denial_extension: bool = True) -> list[dict[str, Any]]:
    """Sends one upgrade to ``app`` and returns what it sent back."""
    scope: dict[str, Any] = {
        "type": "websocket", "path": path, "raw_path": path.encode(), "query_string": b"", "scheme": "ws",
        "headers": [(b"host", b"shop.test"), (b"x-request-id", b"ws-test-1"), (b"x-user-id", b"1")],
        "client": ("127.0.0.1", 5000), "subprotocols": [],
        "extensions": {"websocket.http.response": {}} if denial_extension else {},
    }
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_an_addons_answer_is_the_upgrades_http_answer() -> None:
    freeze = Recorder(Reply(503, {"detail": "paused", "code": "write_freeze"}, [(b"retry-after", b"3")]))
    app = RouterApp(parse(ROUTES), upstream=NoUpstream(), addons=[freeze])
    start, body = upgrade(app, "/live/feed")
    assert (start["type"], start["status"]) == ("websocket.http.response.start", 503)
    assert (b"retry-after", b"3") in start["headers"]
    assert (b"x-request-id", b"ws-test-1") in start["headers"]
    assert body["type"] == "websocket.http.response.body"
    assert json.loads(body["body"]) == {"detail": "paused", "code": "write_freeze", "request_id": "ws-test-1"}
    [flow] = freeze.done_with
    assert (flow.upgrade, flow.status, flow.route_name) == (True, 503, "live")


def test_without_the_denial_extension_a_refused_upgrade_is_closed() -> None:
    identity = Recorder(Reply(401, {"detail": "who?"}))
    app = RouterApp(parse(ROUTES), upstream=NoUpstream(), addons=[identity])
    assert upgrade(app, "/live/feed", denial_extension=False) == [{"type": "websocket.close", "code": 1008}]
    [flow] = identity.done_with
    assert flow.status == 403  # what the server answers to a close before the accept


def test_the_addons_see_an_upgrade_as_the_forwarding_policy_built_it() -> None:
    recorder = Recorder()
    app = RouterApp(parse(ROUTES), upstream=NoUpstream(), addons=[recorder])
    # No transport that carries upgrades here: refused after the addons decided, and done() still runs once.
    assert upgrade(app, "/live/./feed") == [{"type": "websocket.close", "code": 1013}]
    [flow] = recorder.asked
    assert recorder.done_with == [flow]
    assert (flow.method, flow.path, flow.route_name, flow.backend) == ("GET", "/live/feed", "live", "catalog")
    assert flow.request_id == "ws-test-1"
    headers = dict(flow.headers)
    assert b"x-user-id" not in headers  # an identity header from a client never goes on
    assert (headers[b"host"], headers[b"x-forwarded-for"], headers[b"x-forwarded-proto"]) == (
        b"shop.test", b"127.0.0.1", b"http")


def test_an_upgrade_to_a_rejected_path_is_closed_and_counted() -> None:
    recorder = Recorder()
    app = RouterApp(parse(ROUTES), upstream=NoUpstream(), addons=[recorder])
    assert upgrade(app, "/live/%2e%2e%2fadmin") == [{"type": "websocket.close", "code": 1008}]
    assert recorder.asked == []
    [flow] = recorder.done_with
    assert flow.status == 403 and flow.error
