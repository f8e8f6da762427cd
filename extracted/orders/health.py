"""``/healthz``: 200 ``{"status": "ok", "database": <kind>}`` when the database answers, 503 otherwise."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from extracted.orders.db import dialect_label
from extracted.orders.rendering import dump

log = logging.getLogger("extracted.orders.health")


async def healthz(request: Request) -> Response:
    state = request.app.state.orders
    try:
        await state.read(state.reader.ping)
    except Exception as exc:  # noqa: BLE001 - any DBAPI error class (sqlite3, psycopg, PyMySQL) means "down"
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return Response(dump({"status": "unavailable", "database": type(exc).__name__}), 503,
                        media_type="application/json")
    return Response(dump({"status": "ok", "database": dialect_label(state.engine)}), media_type="application/json")
