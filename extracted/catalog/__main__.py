"""``python -m extracted.catalog [serve] [--host H] [--port P] [--workers N]``, ``... migrate``, ``... check`` and
``... relay [--once]`` (publishes the outbox's events to the bus ``EVENTS_URL`` names until SIGTERM; see
``events/``).

``serve`` and ``relay`` refuse to start, exit status 1, when the database is not at the Alembic head.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from sqlalchemy import Engine

from .db import ENV_VAR, database_url, make_engine, var_dir
from .events.bus import connect, events_url
from .events.exceptions import EventsError
from .events.relay import Relay
from .exceptions import CatalogError
from .migrate import check_at_head, upgrade_head
from .models import outbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m extracted.catalog", description="The catalog service.")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the API with uvicorn (the default)")
    sub.add_parser("migrate", help=f"bring the database ({ENV_VAR}) to the Alembic head")
    sub.add_parser("check", help="exit 0 when the database is at the Alembic head, 1 otherwise")
    relay = sub.add_parser("relay", help="publish the outbox's events to the bus (EVENTS_URL) until SIGTERM")
    relay.add_argument("--once", action="store_true", help="publish what is waiting, then exit")
    for p in (parser, serve):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8101)
        p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        p.add_argument("--log-level", default="info")
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    engine = make_engine()
    try:
        check_at_head(engine)
    finally:
        engine.dispose()
    uvicorn.run("extracted.catalog.app:create_served_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, http="httptools", loop="uvloop", access_log=False, log_level=args.log_level,
                server_header=False, date_header=True,
                # Like the monolith (Django without SECURE_PROXY_SSL_HEADER): links use the request's own
                # scheme, never a forwarded one, so both answer the same through the router.
                proxy_headers=False)
    return 0


async def _relay(engine: Engine, once: bool) -> int:
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
            print(f"catalog relay: outbox -> {url}", file=sys.stderr, flush=True)
            await publisher.run(stop)
    finally:
        await transport.close()
    print(f"catalog relay: {publisher.published} published, {publisher.duplicates} the bus had already",
          file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        if command == "migrate":
            before, head = upgrade_head()
            print(f"catalog database {database_url()}: {before or '<empty>'} -> {head}")
            return 0
        if command in ("check", "relay"):
            from .logs import configure_logging

            engine = make_engine()
            try:
                head = check_at_head(engine)
                if command == "check":
                    print(f"catalog database at head {head}")
                    return 0
                configure_logging()
                return asyncio.run(_relay(engine, args.once))
            finally:
                engine.dispose()
        return _serve(args)
    except (CatalogError, EventsError) as exc:
        print(f"catalog: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
