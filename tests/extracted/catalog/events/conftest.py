"""The two buses the events package speaks: the embedded one (always) and NATS JetStream (where a server
answers at TEST_NATS_URL, default nats://127.0.0.1:4222; CI has one)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

NATS_URL = os.environ.get("TEST_NATS_URL", "nats://127.0.0.1:4222")


def nats_answers() -> bool:
    parts = urlsplit(NATS_URL)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture(params=["embedded", "jetstream"])
def bus_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "embedded":
        return f"sqlite:///{tmp_path / 'events.sqlite3'}"
    if not nats_answers():
        pytest.skip(f"no NATS server answers at {NATS_URL}")
    return NATS_URL


@pytest.fixture
def unique() -> str:
    """A word no other test uses: subjects and durable names of one test stay its own on a shared server."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()
