"""``python -m extracted.cart [serve] [--host H] [--port P] [--workers N]``, ``... migrate`` and ``... check``.

``serve`` (the default) refuses to start, exit status 1, when the database is not at the Alembic head, or when
a variable it reads cannot be used (``CART_CATALOG_URL``, ``CART_MONOLITH_URL``, their timeouts, ...).
"""

from __future__ import annotations

import argparse
import sys

from extracted.cart.db import ENV_VAR, database_url, make_engine
from extracted.cart.exceptions import CartError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m extracted.cart",
                                     description="The cart service (the monolith's /api/cart/).")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the API with uvicorn (the default)")
    migrate = sub.add_parser("migrate", help=f"bring the database ({ENV_VAR}) to the Alembic head")
    check = sub.add_parser("check", help="exit 0 when the database is at the Alembic head, 1 otherwise")
    for p in (parser, serve):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8102)
        p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
        p.add_argument("--log-level", default="info")
    del migrate, check
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from extracted.cart.app import create_app
    from extracted.cart.migrate import check_at_head

    engine = make_engine()
    try:
        check_at_head(engine)
        create_app(engine)  # every variable it reads is checked now, not on the first request
    finally:
        engine.dispose()
    uvicorn.run("extracted.cart.app:create_served_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, http="httptools", loop="uvloop", access_log=False, log_level=args.log_level,
                server_header=False, date_header=True,
                # Like the monolith (Django without SECURE_PROXY_SSL_HEADER): the request's own scheme, never a
                # forwarded one.
                proxy_headers=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        if command == "migrate":
            from extracted.cart.migrate import upgrade_head

            before, head = upgrade_head()
            print(f"cart database {database_url()}: {before or '<empty>'} -> {head}")
            return 0
        if command == "check":
            from extracted.cart.migrate import check_at_head

            engine = make_engine()
            try:
                print(f"cart database at head {check_at_head(engine)}")
            finally:
                engine.dispose()
            return 0
        return _serve(args)
    except CartError as exc:
        print(f"cart: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
