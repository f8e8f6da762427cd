"""Writing an event in the caller's transaction (the services' ``events/outbox.py``, in Django's terms)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from django.db import transaction
from django.utils import timezone as django_timezone

from legacy_monolith.events.models import OutboxEvent
from legacy_monolith.events.transports.transport import check_subject


def envelope(event_id: str, subject: str, source: str, at: datetime, data: dict[str, Any]) -> str:
    return json.dumps({"id": event_id, "subject": subject, "source": source,
                       "at": at.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                       "data": data}, separators=(",", ":"), sort_keys=True, default=str)


def record(subject: str, data: dict[str, Any], *, source: str) -> str:
    """Adds the event to the outbox inside the caller's transaction (required: an event written outside one
    would be published even if the change it describes rolled back). Returns its id."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"an event ({subject}) is written in the transaction of its change: none is open")
    check_subject(subject)
    event_id, now = str(uuid.uuid4()), django_timezone.now()
    OutboxEvent.objects.create(event_id=event_id, subject=subject, created_at=now,
                               payload=envelope(event_id, subject, source, now, data))
    return event_id
