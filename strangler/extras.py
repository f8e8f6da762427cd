"""What each part of the toolkit needs beyond Django, and a clear error when it is not installed.

The wheel's extras (``pip install 'strangler-toolkit[split,postgres]'``) map to the modules below; a command
asks for its extra before importing anything of it, so a missing one is a message naming the extra to
install, not an ImportError from deep inside.
"""

from __future__ import annotations

import importlib.util

# extra -> the modules it brings (the import names, not the distributions')
EXTRAS: dict[str, tuple[str, ...]] = {
    "split": ("sqlalchemy", "alembic"),
    "postgres": ("psycopg",),
    "mysql": ("pymysql",),
    "router": ("uvicorn", "httptools", "aiohttp", "prometheus_client", "jwt"),
    "parity": ("mitmproxy", "hypothesis"),
}
DISTRIBUTION = "strangler-toolkit"


class MissingExtra(ImportError):
    def __init__(self, extra: str, missing: list[str], what: str) -> None:
        self.extra = extra
        super().__init__(f"{what} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
                         f"installed: pip install '{DISTRIBUTION}[{extra}]'")


def require(extra: str, what: str) -> None:
    """Raises :class:`MissingExtra` when a module of ``extra`` cannot be imported."""
    missing = [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(extra, missing, what)
