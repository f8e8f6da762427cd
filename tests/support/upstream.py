"""A small, real HTTP backend for router tests, run as its own process (``python -m tests.support.upstream``).

Endpoints (any method unless said):
- ``/healthz``                 200 {"status": "ok", "name": NAME} (``/healthz?fail=1`` is 503)
- ``/echo/...``                200 JSON: name, method, raw path, query, headers, body length and sha256
- ``/status/{code}``           that status with a JSON body
- ``/slow/{seconds}``          answers after sleeping
- ``/stream/{n}``              n chunks of 1 KiB, streamed
- ``/bytes/{n}``               n bytes in one body
- ``/ws``                      WebSocket echo (text and binary)
Every response carries ``X-Upstream: NAME`` so tests can tell backends apart.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib

from aiohttp import WSMsgType, web


def build(name: str) -> web.Application:
    routes = web.RouteTableDef()

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
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            size += len(chunk)
        return tag(web.json_response({
            "name": name, "method": request.method, "raw_path": request.raw_path.split("?")[0],
            "query": request.query_string, "headers": [[k, v] for k, v in request.headers.items()],
            "body_length": size, "body_sha256": digest.hexdigest(),
        }))

    @routes.route("*", "/status/{code:\\d+}")
    async def status(request: web.Request) -> web.StreamResponse:
        code = int(request.match_info["code"])
        return tag(web.json_response({"name": name, "status": code}, status=code))

    @routes.route("*", "/slow/{seconds}")
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(float(request.match_info["seconds"]))
        return tag(web.json_response({"name": name, "slept": float(request.match_info["seconds"])}))

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

    app = web.Application(client_max_size=1024**3)
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
