"""The relay: publishes the outbox's events, oldest first, and marks them published.

Publish, then mark: a relay that dies in between publishes those events again after its restart, and the
bus drops them by event id (JetStream within its duplicate window, the embedded bus always); a consumer's
inbox skips any that get through. Mark, then publish would lose them instead. One relay per service
database is the plan (a second one only publishes some events twice, which is harmless). Events are
published in outbox id order; a transaction that commits after a later-numbered one is published after it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone

from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from . import crashpoints
from .exceptions import BusUnavailable
from .transport import Transport

log = logging.getLogger("events.relay")
BATCH = 200
IDLE_SECONDS = 0.1
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)
KEEP_PUBLISHED_SECONDS = 24 * 3600


class Relay:
    def __init__(self, engine: Engine, outbox: Table, transport: Transport, *, batch: int = BATCH) -> None:
        self.engine, self.outbox, self.transport, self.batch = engine, outbox, transport, batch
        self.published = 0
        self.duplicates = 0

    def _pending(self) -> list[tuple[int, str, str, str]]:
        t = self.outbox
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.id, t.c.event_id, t.c.subject, t.c.payload)
                                .where(t.c.published_at.is_(None)).order_by(t.c.id).limit(self.batch))
            return [(r.id, r.event_id, r.subject, r.payload) for r in rows]

    def _mark(self, ids: list[int]) -> None:
        t = self.outbox
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id.in_(ids), t.c.published_at.is_(None))
                         .values(published_at=datetime.now(timezone.utc)))

    def prune(self, older_than: float = KEEP_PUBLISHED_SECONDS) -> int:
        """Deletes events published more than ``older_than`` seconds ago (the bus has them)."""
        t = self.outbox
        cutoff = datetime.fromtimestamp(datetime.now(timezone.utc).timestamp() - older_than, timezone.utc)
        with self.engine.begin() as conn:
            return conn.execute(delete(t).where(t.c.published_at < cutoff)).rowcount or 0

    async def run_once(self) -> int:
        """Publishes up to one batch; the number published (0: nothing was waiting)."""
        rows = await asyncio.to_thread(self._pending)
        done: list[int] = []
        try:
            for row_id, event_id, subject, payload in rows:
                if await self.transport.publish(subject, event_id, payload.encode()):
                    self.published += 1
                else:
                    self.duplicates += 1
                done.append(row_id)
                crashpoints.reached("relay.after_publish")
        finally:
            if done:  # what went out is marked, even when the bus failed half way through the batch
                await asyncio.to_thread(self._mark, done)
                crashpoints.reached("relay.after_mark")
        return len(done)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: publishes what is waiting, waits a little when nothing is, and retries with
        a growing pause while the bus or the database is away (the outbox keeps the events meanwhile)."""
        failures = 0
        while not stop.is_set():
            try:
                sent = await self.run_once()
                failures = 0
            except (BusUnavailable, SQLAlchemyError) as exc:
                pause = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning(json.dumps({"event": "relay_retry", "error": str(exc)[:300], "retry_in": pause}))
                sent = 0
                await _wait(stop, pause)
                continue
            if sent < self.batch:
                await _wait(stop, IDLE_SECONDS)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
