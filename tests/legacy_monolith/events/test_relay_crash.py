"""The monolith's relay (``manage.py publish_events``) SIGKILLed between publishing and marking, as real
processes on a database of the suite's kind: run again, it publishes the rest, the bus drops the one it had,
and every event is on the bus once and marked published."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import scratch_database

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 5
WRITE = ("from django.db import transaction\n"
         "from legacy_monolith.events.outbox import record\n"
         f"for i in range({EVENTS}):\n"
         "    with transaction.atomic():\n"
         "        record('shipping.shipment.changed', {'shipment': i, 'version': i}, source='shipping')\n")
UNPUBLISHED = ("from legacy_monolith.events.models import OutboxEvent\n"
               "print(OutboxEvent.objects.filter(published_at__isnull=True).count())")


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **env},  # noqa: S603
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.slow
def test_a_relay_killed_after_publishing_publishes_the_rest_once(tmp_path: Path) -> None:
    with scratch_database(tmp_path / "db") as url:
        bus = tmp_path / "events.sqlite3"
        env = {"MONOLITH_DATABASE_URL": url, "SHOP_VAR_DIR": str(tmp_path / "var"), "EVENTS_URL": f"sqlite:///{bus}"}
        for args in (("migrate", "-v", "0"), ("shell", "-c", WRITE)):
            done = _manage(env, *args)
            assert done.returncode == 0, done.stderr
        killed = _manage({**env, "EVENTS_CRASH_AT": "relay.after_publish"}, "publish_events", "--once")
        assert killed.returncode == -9 and "crashpoint relay.after_publish" in killed.stderr, killed.stderr
        assert _manage(env, "shell", "-c", UNPUBLISHED).stdout.split()[-1] == str(EVENTS)   # published, not marked
        again = _manage(env, "publish_events", "--once")
        assert again.returncode == 0, again.stderr
        assert f"{EVENTS - 1} published, 1 the bus had already" in again.stderr
        assert _manage(env, "shell", "-c", UNPUBLISHED).stdout.split()[-1] == "0"
        with sqlite3.connect(bus) as conn:
            assert conn.execute("SELECT count(*), count(DISTINCT msg_id) FROM bus_messages").fetchone() == (
                EVENTS, EVENTS)
