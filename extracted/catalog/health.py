"""``/healthz``: 200 ``{"status": "ok", "database": <kind>}`` when the database answers, 503 otherwise."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, text
from starlette.requests import Request
from starlette.responses import Response

from .db import dialect_label
from .responses import dump

log = logging.getLogger("extracted.catalog.health")


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def healthz(request: Request) -> Response:
    """The query runs as the service's reads do (``State.read``: inline on SQLite, else in a worker thread)."""
    state = request.app.state.catalog
    try:
        await state.read(ping, state.engine)
    except Exception as exc:  # noqa: BLE001 - any DBAPI error class (sqlite3, psycopg, PyMySQL) means "down"
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return Response(dump({"status": "unavailable", "database": type(exc).__name__}), 503,
                        media_type="application/json")
    return Response(dump({"status": "ok", "database": dialect_label(state.engine)}), media_type="application/json")
