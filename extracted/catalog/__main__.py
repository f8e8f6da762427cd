"""``python -m extracted.catalog [serve] [--host H] [--port P] [--workers N]``, ``... migrate``, ``... check`` and
``... relay`` (publishes the outbox's events to the bus ``EVENTS_URL`` names until SIGTERM).

``serve`` (the default) refuses to start, exit status 1, when the database is not at the Alembic head.
"""

from __future__ import annotations

import argparse
import sys

from extracted.catalog.db import ENV_VAR, database_url, make_engine
from extracted.catalog.events.exceptions import EventsError
from extracted.catalog.exceptions import CatalogError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m extracted.catalog",
                                     description="The catalog service (the monolith's /api/catalog/).")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the API with uvicorn (the default)")
    migrate = sub.add_parser("migrate", help=f"bring the database ({ENV_VAR}) to the Alembic head")
    check = sub.add_parser("check", help="exit 0 when the database is at the Alembic head, 1 otherwise")
    relay = sub.add_parser("relay", help="publish the outbox's events to the bus (EVENTS_URL) until SIGTERM")
    relay.add_argument("--once", action="store_true", help="publish what is waiting, then exit")
    for p in (parser, serve):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8101)
        p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        p.add_argument("--log-level", default="info")
    del migrate, check, relay
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from extracted.catalog.migrate import check_at_head

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


def _relay(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from extracted.catalog.db import var_dir
    from extracted.catalog.events.bus import connect, events_url
    from extracted.catalog.events.relay import Relay
    from extracted.catalog.logs import configure_logging
    from extracted.catalog.migrate import check_at_head
    from extracted.catalog.models import outbox

    configure_logging()
    engine = make_engine()

    async def run() -> int:
        check_at_head(engine)
        url = events_url(var_dir())
        transport = await connect(url)
        relay = Relay(engine, outbox, transport)
        try:
            if args.once:
                while await relay.run_once():
                    pass
            else:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, stop.set)
                print(f"catalog relay: outbox -> {url}", file=sys.stderr, flush=True)
                await relay.run(stop)
        finally:
            await transport.close()
        print(f"catalog relay: {relay.published} published, {relay.duplicates} the bus had already",
              file=sys.stderr, flush=True)
        return 0

    try:
        return asyncio.run(run())
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        if command == "migrate":
            from extracted.catalog.migrate import upgrade_head

            before, head = upgrade_head()
            print(f"catalog database {database_url()}: {before or '<empty>'} -> {head}")
            return 0
        if command == "check":
            from extracted.catalog.migrate import check_at_head

            engine = make_engine()
            try:
                print(f"catalog database at head {check_at_head(engine)}")
            finally:
                engine.dispose()
            return 0
        if command == "relay":
            return _relay(args)
        return _serve(args)
    except (CatalogError, EventsError) as exc:
        print(f"catalog: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
