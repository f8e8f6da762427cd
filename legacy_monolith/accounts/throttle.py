"""The login throttle: repeated failed logins for one account, or from one client, are refused for a while.

Within a sliding window of :data:`WINDOW`, :data:`PER_ACCOUNT` failed logins for one account (the normalised email,
whether or not such a user exists: the answer must not tell) or :data:`PER_CLIENT` from one client refuse further
logins for that account or client, right password or not, with 429 and ``Retry-After``: the seconds until enough
counted failures have left the window. A successful login forgets the account's failures (not the client's).

Both ways in count: the API's ``POST /api/accounts/login/`` and the login page. The failures are rows
(:class:`~legacy_monolith.accounts.models.LoginFailure`), so every worker counts the same ones and the accounts
service, once it owns the accounts, counts on from the same rows (its plan copies them): refused the same way
before and after the move.

The client is the peer's address, or, when the peer is a proxy this shop trusts (``SHOP_TRUSTED_PROXIES``, the
router's address: it sets ``X-Forwarded-For`` to the client's own address, never passing on the client's), the
first address of ``X-Forwarded-For``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.utils import timezone

from legacy_monolith.accounts.models import LoginFailure

WINDOW: Final = timedelta(minutes=5)
PER_ACCOUNT: Final = 5
PER_CLIENT: Final = 20
MAX_CLIENT_LENGTH: Final = 64


class LoginThrottled(Exception):
    """Too many failed logins: ``retry_after`` seconds until the next attempt is counted again."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        return f"Too many failed logins. Try again in {self.retry_after} seconds."


def client_of(request: Any) -> str:
    meta = request.META
    peer = str(meta.get("REMOTE_ADDR") or "")
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR") or "")
    if forwarded and peer in settings.TRUSTED_PROXIES:
        return forwarded.split(",")[0].strip()[:MAX_CLIENT_LENGTH]
    return peer[:MAX_CLIENT_LENGTH]


def _wait(newest: list[datetime], limit: int, now: datetime) -> int | None:
    """Seconds until fewer than ``limit`` failures are in the window, given the newest ``limit`` of them (newest
    first): when the oldest of those leaves; None when fewer than ``limit`` are there now."""
    if len(newest) < limit:
        return None
    return max(1, math.ceil((newest[limit - 1] + WINDOW - now).total_seconds()))


def check(email: str, client: str, now: datetime | None = None) -> None:
    """Raises :class:`LoginThrottled` when the account or the client has failed too often lately."""
    now = now or timezone.now()
    recent = LoginFailure.objects.filter(at__gt=now - WINDOW).order_by("-at")
    account = list(recent.filter(email=email).values_list("at", flat=True)[:PER_ACCOUNT])
    by_client = list(recent.filter(client=client).values_list("at", flat=True)[:PER_CLIENT]) if client else []
    waits = [w for w in (_wait(account, PER_ACCOUNT, now), _wait(by_client, PER_CLIENT, now)) if w is not None]
    if waits:
        raise LoginThrottled(max(waits))


def failed(email: str, client: str, now: datetime | None = None) -> None:
    now = now or timezone.now()
    LoginFailure.objects.create(email=email[:254], client=client, at=now)
    # What no window will count again goes (a few rows at a time: the table stays small without a sweeper).
    stale = LoginFailure.objects.filter(at__lte=now - WINDOW).values_list("id", flat=True)[:50]
    LoginFailure.objects.filter(id__in=list(stale)).delete()


def succeeded(email: str) -> None:
    LoginFailure.objects.filter(email=email).delete()
