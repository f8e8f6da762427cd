"""What every gateway (branch by abstraction: ``catalog/gateway.py``, ``cart/gateway.py``, ``orders/gateway.py``)
does the same way: whether the settings let its remote side work, one pooled HTTP client per service, and a
service's answer read as JSON."""

from __future__ import annotations

import threading
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


_clients: dict[tuple[str, float], httpx.Client] = {}
_clients_lock = threading.Lock()


def pooled_client(base_url: str, timeout: float) -> httpx.Client:
    """One pooled client per process and target (created on first use, so after gunicorn's fork)."""
    key = (base_url, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
                                  headers={"Accept": "application/json"}, follow_redirects=False)
            _clients[key] = client
        return client
