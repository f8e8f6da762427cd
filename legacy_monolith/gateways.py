"""What every gateway (branch by abstraction: ``catalog/gateway.py``, ``cart/gateway.py``, ``orders/gateway.py``)
checks the same way: whether the settings let its remote side work, and a service's answer read as JSON."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings


def remote_settings_problems(url_setting: str, token_setting: str) -> list[str]:
    """What stops a gateway's remote side with the current settings (empty when it can be switched on)."""
    problems = []
    url = (getattr(settings, url_setting) or "").strip()
    if not url:
        problems.append(f"{url_setting} is not set")
    elif not url.startswith(("http://", "https://")):
        problems.append(f"{url_setting} {url!r} is not an http(s) URL")
    if not getattr(settings, token_setting):
        problems.append(f"{token_setting} is not set")
    return problems


def response_json(response: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
