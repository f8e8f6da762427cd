"""The embedded bus: a SQLite file every service on the machine opens (WAL, a busy timeout), no broker.

Tables: ``bus_messages`` (``seq`` in publishing order, ``msg_id`` unique: a second publish of an event is
dropped, as JetStream's duplicate window drops it) and ``bus_consumers`` (per durable subscription, the
highest ``seq`` acknowledged and when it may be fed again after a nak). A durable subscription is read in
order by one consumer at a time: ``fetch`` answers what follows its last acknowledgement, so a message
fetched and never acknowledged (its consumer died) comes again. Messages older than ``RETENTION_SECONDS``
are deleted now and then.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from .exceptions import BusUnavailable
from .transport import Message, Subscription, Transport, check_subject, matches

RETENTION_SECONDS = 7 * 24 * 3600
POLL_SECONDS = 0.05
BUSY_TIMEOUT_MS = 30_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    msg_id TEXT NOT NULL UNIQUE,
    payload BLOB NOT NULL,
    published_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS bus_consumers (
    durable TEXT PRIMARY KEY,
    subject_filter TEXT NOT NULL,
    acked INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    not_before REAL NOT NULL
);
"""


class EmbeddedBus(Transport):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not self._ready:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.executescript(SCHEMA)
                self._ready = True
        except (OSError, sqlite3.Error) as exc:
            raise BusUnavailable(f"embedded bus {self.path}: {exc}") from exc
        conn.create_function("subject_matches", 2, matches, deterministic=True)
        return conn

    def _publish(self, subject: str, msg_id: str, payload: bytes) -> bool:
        conn = self._connect()
        try:
            cursor = conn.execute("INSERT OR IGNORE INTO bus_messages (subject, msg_id, payload, published_at) "
                                  "VALUES (?, ?, ?, ?)", (subject, msg_id, payload, time.time()))
            stored = cursor.rowcount == 1
            if stored and (cursor.lastrowid or 0) % 1000 == 0:
                conn.execute("DELETE FROM bus_messages WHERE published_at < ?", (time.time() - RETENTION_SECONDS,))
            return stored
        except sqlite3.Error as exc:
            raise BusUnavailable(f"embedded bus {self.path}: {exc}") from exc
        finally:
            conn.close()

    async def publish(self, subject: str, msg_id: str, payload: bytes) -> bool:
        check_subject(subject)
        return await asyncio.to_thread(self._publish, subject, msg_id, payload)

    async def subscribe(self, durable: str, subject_filter: str) -> Subscription:
        check_subject(subject_filter, pattern=True)

        def create() -> None:
            conn = self._connect()
            try:
                # A new durable starts at the bus's beginning (JetStream's DeliverAll); its filter may change.
                conn.execute("INSERT INTO bus_consumers (durable, subject_filter, acked, delivered, not_before) "
                             "VALUES (?, ?, 0, 0, 0) ON CONFLICT (durable) DO UPDATE SET "
                             "subject_filter = excluded.subject_filter", (durable, subject_filter))
            finally:
                conn.close()

        await asyncio.to_thread(create)
        return EmbeddedSubscription(self, durable)

    async def close(self) -> None:
        return None


class EmbeddedSubscription(Subscription):
    def __init__(self, bus: EmbeddedBus, durable: str) -> None:
        self.bus, self.durable = bus, durable

    def _take(self, batch: int) -> list[Message]:
        conn = self.bus._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            acked, delivered, not_before, pattern = conn.execute(
                "SELECT acked, delivered, not_before, subject_filter FROM bus_consumers WHERE durable = ?",
                (self.durable,)).fetchone()
            if time.time() < not_before:
                conn.execute("COMMIT")
                return []
            rows = conn.execute("SELECT seq, subject, msg_id, payload FROM bus_messages WHERE seq > ? AND "
                                "subject_matches(?, subject) ORDER BY seq LIMIT ?", (acked, pattern, batch)).fetchall()
            if rows:
                conn.execute("UPDATE bus_consumers SET delivered = MAX(delivered, ?) WHERE durable = ?",
                             (rows[-1][0], self.durable))
            conn.execute("COMMIT")
            return [Message(subject, msg_id, bytes(payload), seq, 2 if seq <= delivered else 1)
                    for seq, subject, msg_id, payload in rows]
        except sqlite3.Error as exc:
            raise BusUnavailable(f"embedded bus {self.bus.path}: {exc}") from exc
        finally:
            conn.close()

    async def fetch(self, batch: int, timeout: float) -> list[Message]:
        deadline = time.monotonic() + timeout
        while True:
            messages = await asyncio.to_thread(self._take, batch)
            if messages or time.monotonic() >= deadline:
                return messages
            await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    def _update(self, sql: str, args: tuple[object, ...]) -> None:
        conn = self.bus._connect()
        try:
            conn.execute(sql, args)
        except sqlite3.Error as exc:
            raise BusUnavailable(f"embedded bus {self.bus.path}: {exc}") from exc
        finally:
            conn.close()

    async def ack(self, message: Message) -> None:
        # Never backwards: an acknowledgement arriving late (after a later one) changes nothing.
        await asyncio.to_thread(self._update, "UPDATE bus_consumers SET acked = MAX(acked, ?) WHERE durable = ?",
                                (message.seq, self.durable))

    async def nak(self, message: Message, delay: float) -> None:
        await asyncio.to_thread(self._update, "UPDATE bus_consumers SET not_before = ? WHERE durable = ?",
                                (time.time() + delay, self.durable))
