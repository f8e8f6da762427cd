"""``python -m extracted.orders [serve] [--host H] [--port P] [--workers N]``, ``... migrate``, ``... check``
(the commands every service has: :mod:`.commands`) and ``... relay [--once]`` (publishes the outbox's events to
the bus ``EVENTS_URL`` names until SIGTERM; see ``events/``).

``serve`` and ``relay`` refuse to start, exit status 1, when the database is not at the Alembic head.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from sqlalchemy import Engine

from .commands import Command, run
from .db import make_engine, var_dir
from .events.bus import connect, events_url
from .events.exceptions import EventsError
from .events.relay import Relay
from .logs import configure_logging
from .migrate import check_at_head
from .models import outbox


def _relay_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    relay = sub.add_parser("relay", help="publish the outbox's events to the bus (EVENTS_URL) until SIGTERM")
    relay.add_argument("--once", action="store_true", help="publish what is waiting, then exit")
    return {"relay": _relay}


def _relay(args: argparse.Namespace) -> int:
    engine = make_engine()
    try:
        check_at_head(engine)
        configure_logging()
        return asyncio.run(_publish(engine, args.once))
    finally:
        engine.dispose()


async def _publish(engine: Engine, once: bool) -> int:
    url = events_url(var_dir())
    transport = await connect(url)
    publisher = Relay(engine, outbox, transport)
    try:
        if once:
            while await publisher.run_once():
                pass
        else:
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            print(f"orders relay: outbox -> {url}", file=sys.stderr, flush=True)
            await publisher.run(stop)
    finally:
        await transport.close()
    print(f"orders relay: {publisher.published} published, {publisher.duplicates} the bus had already",
          file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(argv, "The orders service.", _relay_command, errors=(EventsError,))


if __name__ == "__main__":
    sys.exit(main())
