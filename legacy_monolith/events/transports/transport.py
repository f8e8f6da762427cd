"""The bus's one small interface (publish; subscribe, fetch, ack, nak), implemented by :mod:`.embedded` and
:mod:`.jetstream`; :mod:`.bus` picks one by URL.

Subjects are dotted words (``catalog.stock.changed``); a subscription's filter may use NATS's wildcards
(``*`` one word, ``>`` the rest), and means the same on both buses.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

WORD = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Message:
    """One delivery: ``seq`` orders the bus's messages; ``msg_id`` is the event's id (the bus's dedup key)."""

    subject: str
    msg_id: str
    payload: bytes
    seq: int
    deliveries: int  # 1 the first time


def check_subject(subject: str, *, pattern: bool = False) -> str:
    words = subject.split(".")
    for i, word in enumerate(words):
        if pattern and (word == "*" or (word == ">" and i == len(words) - 1)):
            continue
        if not WORD.fullmatch(word):
            raise ValueError(f"subject {subject!r}: word {i + 1} ({word!r}) is not letters, digits, '_' or '-'"
                             + (" ('*' or a last '>')" if pattern else ""))
    return subject


def matches(pattern: str, subject: str) -> bool:
    """NATS's rule: ``*`` is one word, a last ``>`` is one or more words."""
    want, have = pattern.split("."), subject.split(".")
    for i, word in enumerate(want):
        if word == ">":
            return len(have) > i
        if i >= len(have) or (word != "*" and word != have[i]):
            return False
    return len(have) == len(want)


class Subscription(ABC):
    @abstractmethod
    async def fetch(self, batch: int, timeout: float) -> list[Message]:
        """Up to ``batch`` messages not yet acknowledged, oldest first; [] after ``timeout`` seconds."""

    @abstractmethod
    async def ack(self, message: Message) -> None:
        """Done with ``message``: it is not delivered to this durable subscription again."""

    @abstractmethod
    async def nak(self, message: Message, delay: float) -> None:
        """Not done: deliver ``message`` (and, on the embedded bus, what follows it) again after ``delay``."""


class Transport(ABC):
    @abstractmethod
    async def publish(self, subject: str, msg_id: str, payload: bytes) -> bool:
        """Stores the message; False when the bus already had ``msg_id`` (a duplicate it dropped)."""

    @abstractmethod
    async def subscribe(self, durable: str, subject_filter: str) -> Subscription:
        """The durable subscription ``durable`` (created on first use; it remembers what was acknowledged)."""

    @abstractmethod
    async def close(self) -> None: ...
