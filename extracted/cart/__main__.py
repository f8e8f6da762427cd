"""``python -m extracted.cart [serve] [--host H] [--port P] [--workers N]``, ``... migrate`` and ``... check`` (the
commands every service has: :mod:`.commands`, the template's; the cart has no events, so no relay).

``serve`` (the default) refuses to start, exit status 1, when the database is not at the Alembic head, or when
a variable it reads cannot be used (``CART_CATALOG_URL``, ``CART_MONOLITH_URL``, their timeouts, ...).
"""

from __future__ import annotations

import sys

from extracted.cart.commands import run


def main(argv: list[str] | None = None) -> int:
    return run(argv, "The cart service (the monolith's /api/cart/).")


if __name__ == "__main__":
    sys.exit(main())
