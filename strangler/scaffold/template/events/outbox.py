"""Writing an event: in the caller's transaction, beside the change it describes.

The envelope (what consumers receive, JSON): ``{"id", "subject", "source", "at", "data"}``; ``id`` is a UUID
(the bus's dedup key and the inbox's), ``at`` the database's time of the write (ISO 8601, UTC).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Table, insert

from .transport import check_subject


def envelope(event_id: str, subject: str, source: str, at: datetime, data: dict[str, Any]) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return json.dumps({"id": event_id, "subject": subject, "source": source,
                       "at": at.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                       "data": data}, separators=(",", ":"), sort_keys=True, default=str)


def record(conn: Connection, outbox: Table, subject: str, data: dict[str, Any], *, source: str,
           at: datetime | None = None) -> str:
    """Adds the event to ``outbox`` on ``conn`` (inside the caller's transaction); returns its id. Nothing
    is sent here: the relay sends it once the transaction has committed, and never if it rolls back."""
    check_subject(subject)
    event_id = str(uuid.uuid4())
    now = at or datetime.now(timezone.utc)
    conn.execute(insert(outbox).values(event_id=event_id, subject=subject,
                                       payload=envelope(event_id, subject, source, now, data), created_at=now))
    return event_id
