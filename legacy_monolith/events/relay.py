"""The monolith's relay: the services' ``events/relay.py`` over Django's ORM. Publish, then mark: killed in
between, it publishes those events again and the bus drops them by event id."""

from __future__ import annotations

import asyncio
import json
import logging

from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from legacy_monolith.events.models import OutboxEvent
from legacy_monolith.events.transports import crashpoints
from legacy_monolith.events.transports.exceptions import BusUnavailable
from legacy_monolith.events.transports.transport import Transport

log = logging.getLogger("legacy_monolith.events.relay")
BATCH = 200
IDLE_SECONDS = 0.1
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


def _pending(batch: int) -> list[tuple[int, str, str, str]]:
    close_old_connections()
    return list(OutboxEvent.objects.filter(published_at__isnull=True).order_by("id")
                .values_list("id", "event_id", "subject", "payload")[:batch])


def _mark(ids: list[int]) -> None:
    OutboxEvent.objects.filter(id__in=ids, published_at__isnull=True).update(published_at=timezone.now())


class Relay:
    def __init__(self, transport: Transport, *, batch: int = BATCH) -> None:
        self.transport, self.batch = transport, batch
        self.published = self.duplicates = 0

    async def run_once(self) -> int:
        rows = await sync_to_async(_pending, thread_sensitive=True)(self.batch)
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
            if done:
                await sync_to_async(_mark, thread_sensitive=True)(done)
                crashpoints.reached("relay.after_mark")
        return len(done)

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                sent = await self.run_once()
                failures = 0
            except (BusUnavailable, DatabaseError) as exc:
                pause = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.warning(json.dumps({"event": "relay_retry", "error": str(exc)[:300], "retry_in": pause}))
                await _wait(stop, pause)
                continue
            if sent < self.batch:
                await _wait(stop, IDLE_SECONDS)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
