"""The real catalog service with one difference put back on purpose: it ignores ``max_price``.

``python -m tests.strangler.contract.broken_catalog --port N`` serves ``extracted.catalog`` with the
``max_price`` query parameter taken out of every request before the app sees it, so a listing filtered by a
highest price answers as if unfiltered. The contract tests point a plan's ``service.start`` here and expect
the check to find exactly that, shrunk to one request.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import unquote_to_bytes

import uvicorn

from extracted.catalog.app import create_served_app

DROPPED = b"max_price"


class IgnoreMaxPrice:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            # Byte for byte, so every other parameter reaches the app exactly as sent.
            parts = scope["query_string"].split(b"&")
            kept = [p for p in parts if unquote_to_bytes(p.split(b"=", 1)[0].replace(b"+", b" ")) != DROPPED]
            if len(kept) != len(parts):
                scope = {**scope, "query_string": b"&".join(kept)}
        await self.app(scope, receive, send)


def app() -> IgnoreMaxPrice:
    return IgnoreMaxPrice(create_served_app())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run("tests.strangler.contract.broken_catalog:app", factory=True, host="127.0.0.1", port=args.port,
                access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
