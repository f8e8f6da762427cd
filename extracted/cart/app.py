"""The cart service's ASGI app (Starlette): the monolith's ``/api/cart/`` contract, the internal merge, and
``/healthz``.

Layers, outside in: :class:`~cookies.CookieContext` (request id, static headers, a malformed session cookie's
removal, a bad CSRF cookie's renewal, access log, JSON 500), :class:`~gate.RequestGate` (body limit, chunked
bodies, allowed hosts, unread bodies), the routes (:mod:`urls`), each a :class:`~resources.Resource`
(negotiation, authentication, the session, method) around thin handlers (:mod:`apis`) that read through
:mod:`selectors`, ask the catalog's owner for the products (:mod:`catalog`), write through :mod:`services` and
render with :mod:`rendering`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy import Engine
from starlette.applications import Starlette

from extracted.cart.catalog import Catalog
from extracted.cart.cookies import CookieContext
from extracted.cart.db import make_engine
from extracted.cart.gate import RequestGate
from extracted.cart.logs import configure_logging
from extracted.cart.notfound import NotFoundApp
from extracted.cart.resources import State
from extracted.cart.sessions import Sessions
from extracted.cart.settings import allowed_hosts, max_request_body
from extracted.cart.upstreams import session_cookie
from extracted.cart.urls import ROUTES


def _lifespan(state: State) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.catalog.close()
            await state.sessions.close()

    return lifespan


def create_app(engine: Engine | None = None, *, catalog: Catalog | None = None,
               sessions: Sessions | None = None) -> Starlette:
    """The ASGI app; ``engine`` defaults to one built from ``CART_DATABASE_URL``, ``catalog`` and ``sessions`` to
    clients of ``CART_CATALOG_URL`` and ``CART_MONOLITH_URL``."""
    engine = engine if engine is not None else make_engine()
    cookie = session_cookie()
    state = State(engine=engine, catalog=catalog or Catalog(), sessions=sessions or Sessions(cookie=cookie),
                  inline_reads=engine.dialect.name == "sqlite")
    app = Starlette(routes=ROUTES, lifespan=_lifespan(state))
    app.router.redirect_slashes = False  # Django's APPEND_SLASH answers instead (NotFoundApp)
    app.router.default = NotFoundApp(app.router)
    app.state.cart = state
    app.add_middleware(RequestGate, max_body=max_request_body(), hosts=allowed_hosts())
    app.add_middleware(CookieContext, session_cookie=cookie)
    return app


def create_served_app() -> Starlette:
    """uvicorn's factory for ``python -m extracted.cart``: JSON logs on stderr, then the app."""
    configure_logging()
    return create_app()
