"""The relay and a consumer SIGKILLed between their two writes, on both buses (real processes: ``python -m
extracted.catalog relay --once`` and tests/extracted/catalog/events/consumer_main.py). Checked against what
was written to the outbox, not against logs: every event reaches the bus once, and its effect on the
consumer's own database happens exactly once, whichever process died where."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from extracted.catalog.events.outbox import record
from extracted.catalog.models import outbox
from tests.support.servers import scratch_database

ROOT = Path(__file__).resolve().parents[4]
EVENTS = 12


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    with scratch_database(tmp_path / "db") as url:
        yield url


def _run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True,  # noqa: S603
                          text=True, timeout=timeout, check=False)


def _write_events(engine: Engine, subject: str) -> Counter[int]:
    """EVENTS events in as many transactions, as the service writes them; the tally a consumer must reach."""
    expected: Counter[int] = Counter()
    for i in range(EVENTS):
        product, delta = i % 3 + 1, i + 1
        with engine.begin() as conn:
            record(conn, outbox, subject, {"product": product, "delta": delta, "stock": 0, "reason": "adjusted"},
                   source="catalog")
        expected[product] += delta
    return expected


@pytest.mark.parametrize("crash", ["relay.after_publish", "relay.after_mark", "inbox.before_commit",
                                   "inbox.after_commit"])
def test_a_killed_relay_or_consumer_loses_nothing_and_applies_nothing_twice(
        crash: str, bus_url: str, db_url: str, engine: Engine, unique: str, tmp_path: Path) -> None:
    subject = f"{unique}.stock.changed"
    expected = _write_events(engine, subject)
    bus = bus_url + ("?ack_wait=1" if bus_url.startswith("nats://") else "")
    relay_env = {"CATALOG_DATABASE_URL": db_url, "EVENTS_URL": bus}
    consumer_db = tmp_path / "consumer.sqlite3"
    consume = ["-m", "tests.extracted.catalog.events.consumer_main", f"sqlite:///{consumer_db}",
               "--durable", unique, "--filter", f"{unique}.stock.*"]

    relay = ["-m", "extracted.catalog", "relay", "--once"]
    if crash.startswith("relay."):
        killed = _run(relay, {**relay_env, "EVENTS_CRASH_AT": crash})
        assert killed.returncode == -9, killed.stderr
        assert f"crashpoint {crash}" in killed.stderr
    second = _run(relay, relay_env)
    assert second.returncode == 0, second.stderr
    published = re.search(r"(\d+) published, (\d+) the bus had already", second.stderr)
    assert published, second.stderr
    if crash == "relay.after_publish":   # the event published before the kill went again, and was dropped
        assert int(published[2]) == 1 and int(published[1]) == EVENTS - 1
    with engine.connect() as conn:
        assert conn.execute(select(outbox.c.id).where(outbox.c.published_at.is_(None))).all() == []

    if crash.startswith("inbox."):
        killed = _run(consume, {"EVENTS_URL": bus, "EVENTS_CRASH_AT": crash})
        assert killed.returncode == -9, killed.stdout + killed.stderr
    done = _run(consume, {"EVENTS_URL": bus})
    assert done.returncode == 0, done.stderr
    counts = re.search(r"applied (\d+) skipped (\d+) refused (\d+)", done.stdout)
    assert counts, done.stdout
    if crash == "inbox.after_commit":    # the event applied before the kill came again and was skipped
        assert (int(counts[1]), int(counts[2])) == (EVENTS - 1, 1)
    elif crash == "inbox.before_commit":  # nothing of it was applied: it is applied now
        assert (int(counts[1]), int(counts[2])) == (EVENTS, 0)

    with sqlite3.connect(consumer_db) as conn:
        tally = {product: (total, n) for product, total, n in conn.execute("SELECT product, total, events FROM tally")}
        applied = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM event_inbox").fetchone()
    assert tally == {product: (total, EVENTS // 3) for product, total in expected.items()}
    assert applied == (EVENTS, EVENTS)
