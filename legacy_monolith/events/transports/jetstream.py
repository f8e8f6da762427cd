"""NATS JetStream as the bus: one stream (``EVENTS``, subjects ``events.>``, file storage) that the first
publisher or subscriber creates; the event id goes in ``Nats-Msg-Id``, so a second publish inside the
stream's duplicate window is dropped by the server; durable pull consumers with explicit acks."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from .exceptions import BusUnavailable
from .transport import Message, Subscription, Transport, check_subject

STREAM = "EVENTS"
PREFIX = "events."
DUPLICATE_WINDOW_SECONDS = 600.0
ACK_WAIT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 3.0


class JetStream(Transport):
    def __init__(self, client: Client, js: JetStreamContext, url: str, *, ack_wait: float = ACK_WAIT_SECONDS) -> None:
        self.client, self.js, self.url, self.ack_wait = client, js, url, ack_wait
        self._stream_ready = False

    @classmethod
    async def connect(cls, url: str, *, ack_wait: float = ACK_WAIT_SECONDS) -> JetStream:
        try:
            client = await nats.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, max_reconnect_attempts=-1,
                                        allow_reconnect=True)
        except (OSError, NatsError) as exc:
            raise BusUnavailable(f"NATS at {url}: {exc or type(exc).__name__}") from exc
        return cls(client, client.jetstream(), url, ack_wait=ack_wait)

    async def _ensure_stream(self) -> None:
        if self._stream_ready:
            return
        try:
            await self.js.stream_info(STREAM)
        except NotFoundError:
            await self.js.add_stream(api.StreamConfig(
                name=STREAM, subjects=[f"{PREFIX}>"], storage=api.StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_SECONDS))
        self._stream_ready = True

    async def publish(self, subject: str, msg_id: str, payload: bytes) -> bool:
        check_subject(subject)
        try:
            await self._ensure_stream()
            ack = await self.js.publish(PREFIX + subject, payload, stream=STREAM, headers={"Nats-Msg-Id": msg_id})
        except (OSError, NatsError) as exc:
            raise BusUnavailable(f"NATS at {self.url}: publish {subject}: {exc or type(exc).__name__}") from exc
        return not ack.duplicate

    async def subscribe(self, durable: str, subject_filter: str) -> Subscription:
        check_subject(subject_filter, pattern=True)
        try:
            await self._ensure_stream()
            sub = await self.js.pull_subscribe(PREFIX + subject_filter, durable=durable, stream=STREAM,
                                               config=api.ConsumerConfig(ack_wait=self.ack_wait,
                                                                         max_deliver=-1))
        except (OSError, NatsError) as exc:
            raise BusUnavailable(f"NATS at {self.url}: subscribe {durable}: {exc or type(exc).__name__}") from exc
        return JetStreamSubscription(sub, self.url)

    async def close(self) -> None:
        # Not drain(): it waits (up to 30 s) on the pull subscriptions' open fetch requests. Every publish
        # was awaited to its acknowledgement, every ack sent: nothing is left in flight to wait for.
        try:
            await self.client.flush(timeout=2)
        except (OSError, NatsError):
            pass
        await self.client.close()


class JetStreamSubscription(Subscription):
    def __init__(self, sub: JetStreamContext.PullSubscription, url: str) -> None:
        self.sub, self.url = sub, url
        self._msgs: dict[int, Msg] = {}

    async def fetch(self, batch: int, timeout: float) -> list[Message]:
        try:
            msgs = await self.sub.fetch(batch, timeout=max(timeout, 0.01))
        except (NatsTimeout, asyncio.TimeoutError):  # nothing came (TimeoutError is an OSError: caught first)
            return []
        except (OSError, NatsError) as exc:
            raise BusUnavailable(f"NATS at {self.url}: fetch: {type(exc).__name__} {exc}") from exc
        out = []
        for msg in msgs:
            meta = msg.metadata
            seq = meta.sequence.stream
            self._msgs[seq] = msg
            out.append(Message(msg.subject.removeprefix(PREFIX), (msg.headers or {}).get("Nats-Msg-Id", ""),
                               msg.data, seq, meta.num_delivered or 1))
        return out

    async def ack(self, message: Message) -> None:
        msg = self._msgs.pop(message.seq, None)
        if msg is not None:
            try:
                await msg.ack()
            except (OSError, NatsError) as exc:  # not acknowledged: it comes again, the inbox skips it
                raise BusUnavailable(f"NATS at {self.url}: ack: {exc or type(exc).__name__}") from exc

    async def nak(self, message: Message, delay: float) -> None:
        msg = self._msgs.pop(message.seq, None)
        if msg is not None:
            try:
                await msg.nak(delay=delay)
            except (OSError, NatsError) as exc:
                raise BusUnavailable(f"NATS at {self.url}: nak: {exc or type(exc).__name__}") from exc
