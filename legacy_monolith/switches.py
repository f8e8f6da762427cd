"""Reading and flipping :class:`~legacy_monolith.models.FeatureSwitch` rows.

``is_enabled(name)`` is called on hot paths (every checkout), so each process keeps what it read for at most
:data:`CACHE_SECONDS`; a flip made elsewhere (another worker, a management command) is seen by every process
within that time. ``set_switch`` clears this process's cache at once.
"""

from __future__ import annotations

import threading
import time

from legacy_monolith.models import FeatureSwitch

CACHE_SECONDS = 1.0

_lock = threading.Lock()
_cache: dict[str, tuple[float, bool]] = {}


def is_enabled(name: str) -> bool:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(name)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    enabled = FeatureSwitch.objects.filter(name=name, enabled=True).exists()
    with _lock:
        _cache[name] = (now, enabled)
    return enabled


def set_switch(name: str, enabled: bool, *, note: str = "") -> FeatureSwitch:
    switch, _ = FeatureSwitch.objects.update_or_create(name=name, defaults={"enabled": enabled, "note": note})
    clear_cache()
    return switch


def clear_cache() -> None:
    with _lock:
        _cache.clear()
