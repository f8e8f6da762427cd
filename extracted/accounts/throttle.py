"""The login throttle, as the monolith's ``legacy_monolith/accounts/throttle.py`` has it, on the same rows (the plan
carries ``accounts_loginfailure`` over as ``login_failures``): refused the same way before and after the move.

Within :data:`WINDOW`, :data:`PER_ACCOUNT` failed logins for one account (the normalised email, existing or not)
or :data:`PER_CLIENT` from one client refuse further logins, right password or not: 429 ``throttled`` with
``Retry-After``, the seconds until the newest counted failures that make the limit have left the window. A
success forgets the account's failures. The client is ``X-Forwarded-For``'s first address when the peer is a
trusted proxy (``ACCOUNTS_TRUSTED_PROXIES``, default the loopback addresses: the router, which sets it to the
client's own address), else the peer.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime, timedelta
from typing import Final, cast

from sqlalchemy import Connection, Table, delete, desc, insert, select

from .errors import TooManyLogins
from .models import LoginFailure

WINDOW: Final = timedelta(minutes=5)
PER_ACCOUNT: Final = 5
PER_CLIENT: Final = 20
MAX_CLIENT_LENGTH: Final = 64
TRUSTED_ENV: Final = "ACCOUNTS_TRUSTED_PROXIES"

failures = cast(Table, LoginFailure.__table__)


def trusted_proxies() -> frozenset[str]:
    raw = os.environ.get(TRUSTED_ENV, "127.0.0.1,::1")
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def client_of(peer: str, forwarded: str) -> str:
    if forwarded and peer in trusted_proxies():
        return forwarded.split(",")[0].strip()[:MAX_CLIENT_LENGTH]
    return peer[:MAX_CLIENT_LENGTH]


def _now(conn: Connection) -> datetime:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if conn.dialect.name in ("mysql", "mariadb") else now


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _wait(newest: list[datetime], limit: int, now: datetime) -> int | None:
    if len(newest) < limit:
        return None
    return max(1, math.ceil((_aware(newest[limit - 1]) + WINDOW - _aware(now)).total_seconds()))


def check(conn: Connection, email: str, client: str) -> None:
    """Raises :class:`~.errors.TooManyLogins` when the account or the client has failed too often lately."""
    now = _now(conn)
    recent = select(failures.c.at).where(failures.c.at > now - WINDOW).order_by(desc(failures.c.at))
    account = list(conn.execute(recent.where(failures.c.email == email).limit(PER_ACCOUNT)).scalars())
    by_client = list(conn.execute(recent.where(failures.c.client == client).limit(PER_CLIENT)).scalars()) \
        if client else []
    waits = [w for w in (_wait(account, PER_ACCOUNT, now), _wait(by_client, PER_CLIENT, now)) if w is not None]
    if waits:
        wait = max(waits)
        raise TooManyLogins(f"Too many failed logins. Try again in {wait} seconds.", retry_after=wait)


def failed(conn: Connection, email: str, client: str) -> None:
    now = _now(conn)
    conn.execute(insert(failures).values(email=email[:254], client=client, at=now))
    stale = list(conn.execute(select(failures.c.id).where(failures.c.at <= now - WINDOW).limit(50)).scalars())
    if stale:
        conn.execute(delete(failures).where(failures.c.id.in_(stale)))


def succeeded(conn: Connection, email: str) -> None:
    conn.execute(delete(failures).where(failures.c.email == email))
