"""A small, real HTTP backend for router tests, run as its own process (``python -m tests.support.upstream``).

Endpoints (any method unless said):
- ``/healthz``                 200 {"status": "ok", "name": NAME} (``/healthz?fail=1`` is 503)
- ``/echo/...``                200 JSON: name, method, raw path, query, headers, body length and sha256
- ``/status/{code}``           that status with a JSON body (``?only=NAME``: only when this backend is NAME,
                               200 otherwise, so one path can fail on a primary and succeed on its fallback)
- ``/slow/{seconds}``          answers after sleeping (``?only=NAME``: sleeps only when this backend is NAME,
                               answers at once otherwise, so a shadow can be slow and its primary not)
- ``/stream/{n}``              n chunks of 1 KiB, streamed
- ``/bytes/{n}``               n bytes in one body
- ``/products/...``            200 JSON: a catalog page of 20 products (``?differ=NAME&product=I``: product I's
                               price differs when this backend is NAME; ``?noise=1``: a fresh request_id and
                               updated_at on every call, as real services have)
- ``/ws``                      WebSocket echo (text and binary)
- ``/__journal``               the requests seen so far (method, raw path, headers, whether the body was read
                               whole); ``?clear=1`` empties it after answering. Not itself recorded.
Every response (404s included) carries ``X-Upstream: NAME`` so tests can tell backends apart.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

JOURNAL_KEY = web.RequestKey("journal", dict)


def build(name: str) -> web.Application:
    routes = web.RouteTableDef()
    journal: deque[dict[str, Any]] = deque(maxlen=10_000)

    @web.middleware
    async def record(request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if request.path == "/__journal":
            return await handler(request)
        entry: dict[str, Any] = {
            "method": request.method, "raw_path": request.raw_path.split("?")[0],
            "request_id": request.headers.get("X-Request-ID"),
            "headers": [[k, v] for k, v in request.headers.items()],
            "body_length": None, "body_complete": None,
        }
        journal.append(entry)
        request[JOURNAL_KEY] = entry
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers["X-Upstream"] = name
            raise
        if not response.prepared:
            response.headers["X-Upstream"] = name
        return response

    @routes.get("/__journal")
    async def show_journal(request: web.Request) -> web.StreamResponse:
        response = web.json_response(list(journal))
        if request.query.get("clear"):
            journal.clear()
        return response

    def tag(response: web.StreamResponse) -> web.StreamResponse:
        response.headers["X-Upstream"] = name
        return response

    @routes.get("/healthz")
    async def healthz(request: web.Request) -> web.StreamResponse:
        status = 503 if request.query.get("fail") else 200
        return tag(web.json_response({"status": "ok" if status == 200 else "failing", "name": name},
                                     status=status))

    @routes.route("*", "/echo{tail:.*}")
    async def echo(request: web.Request) -> web.StreamResponse:
        digest, size = hashlib.sha256(), 0
        entry = request[JOURNAL_KEY]
        entry["body_complete"] = False
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
            entry["body_length"] = size
        entry["body_length"], entry["body_complete"] = size, True
        return tag(web.json_response({
            "name": name, "method": request.method, "raw_path": request.raw_path.split("?")[0],
            "query": request.query_string, "raw_query": request.rel_url.raw_query_string,
            "headers": [[k, v] for k, v in request.headers.items()],
            "body_length": size, "body_sha256": digest.hexdigest(),
        }))

    @routes.route("*", "/status/{code:\\d+}")
    async def status(request: web.Request) -> web.StreamResponse:
        code = int(request.match_info["code"])
        if request.query.get("only", name) != name:
            code = 200
        return tag(web.json_response({"name": name, "status": code}, status=code))

    @routes.route("*", "/slow/{seconds}")
    async def slow(request: web.Request) -> web.StreamResponse:
        seconds = float(request.match_info["seconds"]) if request.query.get("only", name) == name else 0.0
        await asyncio.sleep(seconds)
        return tag(web.json_response({"name": name, "slept": seconds}))

    @routes.get("/stream/{n:\\d+}")
    async def stream(request: web.Request) -> web.StreamResponse:
        response = tag(web.StreamResponse())
        await response.prepare(request)
        for _ in range(int(request.match_info["n"])):
            await response.write(b"x" * 1024)
        await response.write_eof()
        return response

    @routes.get("/bytes/{n:\\d+}")
    async def some_bytes(request: web.Request) -> web.StreamResponse:
        return tag(web.Response(body=b"y" * int(request.match_info["n"]), content_type="application/octet-stream"))

    @routes.get("/products{tail:.*}")
    async def products(request: web.Request) -> web.StreamResponse:
        items: list[dict[str, Any]] = [
            {"id": i, "sku": f"SKU-{i:04d}", "name": f"Product {i}", "price": f"{10 + i}.50", "stock": 3 * i,
             "active": True, "category": {"id": 1, "slug": "kitchen"}, "tags": ["mug", f"batch-{i % 3}"]}
            for i in range(20)
        ]
        if request.query.get("differ") == name:
            items[int(request.query.get("product", "7"))]["price"] = "0.99"
        body: dict[str, Any] = {"count": len(items), "results": items}
        if request.query.get("noise"):
            body["request_id"] = uuid.uuid4().hex
            for item in items:
                item["updated_at"] = f"{time.time():.6f}"
        return tag(web.json_response(body))

    @routes.get("/ws")
    async def ws(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                await socket.send_str(f"{name}:{message.data}")
            elif message.type == WSMsgType.BINARY:
                await socket.send_bytes(message.data)
        return socket

    app = web.Application(client_max_size=1024**3, middlewares=[record])
    app.add_routes(routes)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="upstream")
    args = parser.parse_args()
    web.run_app(build(args.name), host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
