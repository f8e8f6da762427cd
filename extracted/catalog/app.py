"""The catalog service's ASGI app (Starlette): the monolith's ``/api/catalog/`` contract, plus ``/healthz``.

Layers, outside in: :class:`~context.RequestContext` (request id, static headers, access log, JSON 500),
:class:`~gate.RequestGate` (body limit, chunked bodies, allowed hosts, unread bodies), the routes
(:mod:`urls`), each a :class:`~resources.Resource` (negotiation, authentication, permission, method) around
thin handlers (:mod:`apis`) that read through :mod:`selectors`, write through :mod:`services` and render with
:mod:`rendering`. Request parsing is :mod:`parsers`, validation :mod:`validation` and :mod:`filters`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy import Engine
from starlette.applications import Starlette

from extracted.catalog import reservations, search
from extracted.catalog.context import RequestContext
from extracted.catalog.db import make_engine
from extracted.catalog.gate import RequestGate
from extracted.catalog.logs import configure_logging
from extracted.catalog.notfound import NotFoundApp
from extracted.catalog.orders import OrderReferences
from extracted.catalog.resources import State
from extracted.catalog.selectors import Reader
from extracted.catalog.settings import allowed_hosts, max_request_body
from extracted.catalog.urls import ROUTES


def _lifespan(engine: Engine) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        """Keeps the search index current (rows changed by anyone, the data split's copy and sync included) and
        expires the stock reservations past their time."""
        tasks = [asyncio.create_task(reservations.sweeper(engine))]
        if search.available(engine):
            tasks.append(asyncio.create_task(search.refresher(engine)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.catalog.orders.close()

    return lifespan


def create_app(engine: Engine | None = None) -> Starlette:
    """The ASGI app; ``engine`` defaults to one built from ``CATALOG_DATABASE_URL``."""
    engine = engine if engine is not None else make_engine()
    app = Starlette(routes=ROUTES, lifespan=_lifespan(engine))
    app.router.redirect_slashes = False  # Django's APPEND_SLASH answers instead (NotFoundApp)
    app.router.default = NotFoundApp(app.router)
    app.state.catalog = State(engine=engine, reader=Reader(engine), inline_reads=engine.dialect.name == "sqlite",
                              orders=OrderReferences())  # a bad CATALOG_MONOLITH_* is a ConfigurationError
    app.add_middleware(RequestGate, max_body=max_request_body(), hosts=allowed_hosts())
    app.add_middleware(RequestContext)
    return app


def create_served_app() -> Starlette:
    """uvicorn's factory for ``python -m extracted.catalog``: JSON logs on stderr, then the app."""
    configure_logging()
    return create_app()
