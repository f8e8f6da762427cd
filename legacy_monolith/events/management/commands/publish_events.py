"""``python manage.py publish_events [--once]``: the monolith's relay (see legacy_monolith/events/)."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from legacy_monolith.events.relay import Relay
from legacy_monolith.events.transports.bus import connect, events_url
from legacy_monolith.events.transports.exceptions import EventsError


class Command(BaseCommand):
    help = "Publish the monolith's outbox (shipping.shipment.changed) to the bus EVENTS_URL names, until SIGTERM."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="publish what is waiting, then exit")

    def handle(self, *args, once: bool = False, **options):
        try:
            asyncio.run(self._run(once))
        except EventsError as exc:
            raise CommandError(str(exc)) from None

    async def _run(self, once: bool) -> None:
        url = events_url(Path(settings.VAR_DIR))
        transport = await connect(url)
        relay = Relay(transport)
        try:
            if once:
                while await relay.run_once():
                    pass
            else:
                stop = asyncio.Event()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    asyncio.get_running_loop().add_signal_handler(sig, stop.set)
                print(f"monolith relay: outbox -> {url}", file=sys.stderr, flush=True)
                await relay.run(stop)
        finally:
            await transport.close()
        print(f"monolith relay: {relay.published} published, {relay.duplicates} the bus had already",
              file=sys.stderr, flush=True)
