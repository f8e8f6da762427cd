"""The orders service's ASGI app (Starlette): the monolith's ``/api/orders/`` read contract, plus ``/healthz``.

Layers, outside in: :class:`~context.RequestContext` (request id, static headers, access log, JSON 500),
:class:`~gate.RequestGate` (body limit, chunked bodies, allowed hosts, unread bodies), the routes
(:mod:`urls`), each a :class:`~resources.Resource` (negotiation, authentication, permission, method) around
thin handlers (:mod:`apis`) that read through :mod:`selectors` and render with :mod:`rendering`. The same
layers as the catalog service's, each module this service's own copy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from extracted.orders.checkout.runtime import start_saga, stop_saga
from extracted.orders.context import RequestContext
from extracted.orders.db import make_engine
from extracted.orders.following import follow
from extracted.orders.gate import RequestGate
from extracted.orders.logs import configure_logging
from extracted.orders.notfound import NotFoundApp
from extracted.orders.resources import State
from extracted.orders.selectors import Reader
from extracted.orders.settings import allowed_hosts, max_request_body
from extracted.orders.urls import ROUTES


def create_app(engine: Engine | None = None, *, background: bool = False) -> Starlette:
    """The ASGI app; ``engine`` defaults to one built from ``ORDERS_DATABASE_URL``. ``background``: the work the
    service does besides answering runs with the app: the sagas (DBOS launched at startup, resuming unfinished
    checkouts and cancels; stopped at shutdown) and the shipment follower (:mod:`.following`). Without it
    checkout and cancel answer 503 ``not_yet`` (tests of the reads build it so)."""
    engine = engine if engine is not None else make_engine()
    built = engine

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if not background:
            yield
            return
        await run_in_threadpool(start_saga, built)
        try:
            async with follow(built):
                yield
        finally:
            await run_in_threadpool(stop_saga)

    app = Starlette(routes=ROUTES, lifespan=lifespan)
    app.router.redirect_slashes = False  # Django's APPEND_SLASH answers instead (NotFoundApp)
    app.router.default = NotFoundApp(app.router)
    app.state.orders = State(engine=engine, reader=Reader(engine), inline_reads=engine.dialect.name == "sqlite")
    app.add_middleware(RequestGate, max_body=max_request_body(), hosts=allowed_hosts())
    app.add_middleware(RequestContext)
    return app


def create_served_app() -> Starlette:
    """uvicorn's factory for ``python -m extracted.orders``: JSON logs on stderr, then the app."""
    configure_logging()
    return create_app(background=True)
