"""Django's answer to a URL no route matches (the app router's default): APPEND_SLASH's 301 to the same path
with a slash when a route takes that one, else its JSON 404 (handler404)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Match, Router
from starlette.types import Receive, Scope, Send

from .context import EARLY
from .exceptions import DjangoNotFound
from .responses import error_response, iri_query


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
