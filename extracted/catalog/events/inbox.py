"""Consuming events exactly once in effect: each event is applied in one transaction with the row that says
so (``event_inbox``: consumer, event id), and acknowledged after that commits.

- killed before the commit: nothing was applied; the bus delivers the event again;
- killed after the commit, before the acknowledgement: delivered again, found in the inbox, acknowledged and
  skipped;
- the handler fails (or the database is away): the transaction rolls back, the event and the rest of its
  batch are nak'ed and come again after a pause (the embedded bus keeps their order; JetStream may not, so
  events carry what a consumer needs to order them, such as the stock after the change);
- a message that is not an event envelope is logged and acknowledged: it never will be one;
- the handler raises :class:`~.exceptions.Postpone` (it cannot apply the event yet): as a failure, without the
  traceback, after a longer pause.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select
from sqlalchemy.exc import IntegrityError

from . import crashpoints
from .exceptions import BadEvent, BusUnavailable, Postpone
from .transport import Message, Subscription, Transport

log = logging.getLogger("events.inbox")
BATCH = 50
FETCH_SECONDS = 1.0
RETRY_SECONDS = 1.0
POSTPONE_SECONDS = 2.0


@dataclass(frozen=True)
class Event:
    id: str
    subject: str
    source: str
    at: str
    data: dict[str, Any]


def parse(message: Message) -> Event:
    try:
        body = json.loads(message.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadEvent(f"message {message.seq} ({message.subject}) is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadEvent(f"message {message.seq} ({message.subject}) is not a JSON object")
    fields = {"id": str, "subject": str, "source": str, "at": str, "data": dict}
    wrong = [name for name, kind in fields.items() if not isinstance(body.get(name), kind)]
    if wrong:
        raise BadEvent(f"message {message.seq} ({message.subject}): {', '.join(wrong)} missing or of the wrong type")
    if message.msg_id and message.msg_id != body["id"]:
        raise BadEvent(f"message {message.seq}: its id {message.msg_id!r} is not the event's ({body['id']!r})")
    return Event(body["id"], body["subject"], body["source"], body["at"], body["data"])


Handler = Callable[[Connection, Event], None]


class Consumer:
    """``handler(conn, event)`` applies one event inside the consumer's transaction (it must not commit)."""

    def __init__(self, engine: Engine, inbox: Table, transport: Transport, *, name: str, subject_filter: str,
                 handler: Handler, batch: int = BATCH) -> None:
        self.engine, self.inbox, self.transport = engine, inbox, transport
        self.name, self.subject_filter, self.handler, self.batch = name, subject_filter, handler, batch
        self.applied = self.skipped = self.refused = 0
        self._sub: Subscription | None = None

    def _apply(self, event: Event) -> bool:
        t = self.inbox
        try:
            with self.engine.begin() as conn:
                seen = conn.execute(select(t.c.event_id).where(t.c.consumer == self.name, t.c.event_id == event.id))
                if seen.first() is not None:
                    return False
                conn.execute(insert(t).values(consumer=self.name, event_id=event.id, subject=event.subject,
                                              applied_at=datetime.now(timezone.utc)))
                self.handler(conn, event)
                crashpoints.reached("inbox.before_commit")
        except IntegrityError:  # the same event applied by another copy of this consumer just now
            return False
        crashpoints.reached("inbox.after_commit")
        return True

    async def run_once(self, timeout: float = FETCH_SECONDS) -> int:
        """Takes one batch; the number of messages dealt with (applied, skipped or refused)."""
        if self._sub is None:
            self._sub = await self.transport.subscribe(self.name, self.subject_filter)
        done = 0
        messages = await self._sub.fetch(self.batch, timeout)
        for index, message in enumerate(messages):
            try:
                event = parse(message)
            except BadEvent as exc:
                log.error(json.dumps({"event": "bad_event", "consumer": self.name, "error": str(exc)[:300]}))
                self.refused += 1
            else:
                try:
                    applied = await asyncio.to_thread(self._apply, event)
                except Postpone as why:
                    log.info(json.dumps({"event": "postponed", "consumer": self.name, "id": event.id,
                                         "subject": event.subject, "why": str(why)[:300]}))
                    for later in messages[index:]:
                        await self._sub.nak(later, POSTPONE_SECONDS)
                    break
                except Exception:
                    log.exception("consumer %s: event %s (%s) not applied; it comes again in %ss",
                                  self.name, event.id, event.subject, RETRY_SECONDS)
                    for later in messages[index:]:  # JetStream would hold the rest until their ack wait
                        await self._sub.nak(later, RETRY_SECONDS)
                    break
                if applied:
                    self.applied += 1
                else:
                    self.skipped += 1
            await self._sub.ack(message)
            done += 1
        return done

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except BusUnavailable as exc:
                log.warning(json.dumps({"event": "consumer_retry", "consumer": self.name, "error": str(exc)[:300]}))
                self._sub = None
                try:
                    await asyncio.wait_for(stop.wait(), RETRY_SECONDS)
                except asyncio.TimeoutError:
                    pass
