"""The commands every service has: ``serve`` (the default: uvicorn with the app factory), ``migrate`` (the database
to the Alembic head) and ``check`` (exit 0 at the head, 1 otherwise); ``__main__`` runs them with :func:`run`, adding
its own (``relay``, where the service has events).

``serve`` refuses to start, exit status 1, when the database is not at the Alembic head or when a variable the app
reads cannot be used (the app is built once, and thrown away, before uvicorn starts).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .db import ENV_VAR, database_url, make_engine
from .exceptions import CatalogError
from .migrate import check_at_head, upgrade_head

Command = Callable[[argparse.Namespace], int]
# Adds a service's own commands to the parser's subcommands; returns them by name.
MoreCommands = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], dict[str, Command]]


def run(argv: list[str] | None, description: str, more: MoreCommands | None = None,
        errors: tuple[type[Exception], ...] = ()) -> int:
    """Parses ``argv`` and runs its command; a CatalogError (or one of ``errors``) is printed, exit status 1."""
    parser = argparse.ArgumentParser(prog="python -m extracted.catalog", description=description)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the API with uvicorn (the default)")
    sub.add_parser("migrate", help=f"bring the database ({ENV_VAR}) to the Alembic head")
    sub.add_parser("check", help="exit 0 when the database is at the Alembic head, 1 otherwise")
    commands: dict[str, Command] = {"serve": _serve, "migrate": _migrate, "check": _check}
    if more is not None:
        commands.update(more(sub))
    for p in (parser, serve):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8101)
        p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        p.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    caught: tuple[type[Exception], ...] = (CatalogError, *errors)
    try:
        return commands[args.command or "serve"](args)
    except caught as exc:
        print(f"catalog: {exc}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    engine = make_engine()
    try:
        check_at_head(engine)
        create_app(engine)  # every variable it reads is checked now, not in the worker
    finally:
        engine.dispose()
    uvicorn.run("extracted.catalog.app:create_served_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, http="httptools", loop="uvloop", access_log=False, log_level=args.log_level,
                server_header=False, date_header=True,
                # Like the monolith (Django without SECURE_PROXY_SSL_HEADER): links use the request's own
                # scheme, never a forwarded one, so both answer the same through the router.
                proxy_headers=False)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    before, head = upgrade_head()
    print(f"catalog database {database_url()}: {before or '<empty>'} -> {head}")
    return 0


def _check(args: argparse.Namespace) -> int:
    engine = make_engine()
    try:
        print(f"catalog database at head {check_at_head(engine)}")
    finally:
        engine.dispose()
    return 0
