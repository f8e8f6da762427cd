"""Which URL is answered by what: the monolith's ``/api/cart/`` routes, the internal merge, ``/healthz``, and
Django's answer to a URL no route matches."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

from extracted.cart import apis, health
from extracted.cart.context import EARLY
from extracted.cart.exceptions import DjangoNotFound
from extracted.cart.rendering import error_response, iri_query
from extracted.cart.resources import Resource, ServiceResource


class IdConvertor(Convertor[int]):
    """A database id in a path: 1 to 18 digits (the monolith's ``id`` converter); anything else is a plain 404."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("cart_id", IdConvertor())

# The names are DRF's for the monolith's views (CartApi, CartItemsApi, CartItemApi): OPTIONS shows them.
ROUTES: Final[list[BaseRoute]] = [
    Route("/api/cart/", Resource("Cart Api", {"GET": apis.cart_detail, "DELETE": apis.cart_clear})),
    Route("/api/cart/items/", Resource("Cart Items Api", {"POST": apis.item_add})),
    Route("/api/cart/items/{id:cart_id}/", Resource("Cart Item Api", {
        "PUT": apis.item_set_quantity, "PATCH": apis.item_set_quantity, "DELETE": apis.item_remove})),
    # Internal: the monolith merges an anonymous cart into the user's on login (through its gateway, later).
    Route("/api/cart/internal/merge/", ServiceResource("Cart Merge", {"POST": apis.merge})),
    Route("/healthz", health.healthz, methods=["GET", "HEAD"]),
]


class NotFoundApp:
    """Django's answer to a URL no route matches: a 301 to the same path with a slash when that one exists
    (APPEND_SLASH), else the JSON 404."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["type"] == "http" and not path.endswith("/"):
            slashed = {**scope, "path": path + "/"}
            for route in self.router.routes:
                match, _ = route.matches(slashed)
                if match != Match.NONE:
                    query = scope.get("query_string")
                    location = quote(path + "/") + ("?" + iri_query(query) if query else "")
                    response = Response(status_code=301, headers={"Location": location},
                                        media_type="text/html; charset=utf-8")
                    scope[EARLY] = True  # CommonMiddleware answers it: no X-Frame-Options
                    await response(scope, receive, send)
                    return
        await error_response(DjangoNotFound())(scope, receive, send)
