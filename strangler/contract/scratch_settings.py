"""Django settings of the contract check's own monolith: the project's settings, its databases pointed at
scratch copies.

The check starts the project's WSGI application with ``DJANGO_SETTINGS_MODULE`` set to this module;
``STRANGLER_CONTRACT_SETTINGS`` names the project's settings module and ``STRANGLER_CONTRACT_DATABASES`` holds
``{alias: {"NAME": ...}}`` as JSON. Nothing else changes, so the monolith under test is the real one.
"""

from __future__ import annotations

import importlib
import json
import os

_base = importlib.import_module(os.environ["STRANGLER_CONTRACT_SETTINGS"])
globals().update({name: getattr(_base, name) for name in dir(_base) if name.isupper()})
_overrides: dict[str, dict[str, object]] = json.loads(os.environ["STRANGLER_CONTRACT_DATABASES"])
DATABASES = {alias: {**spec, **_overrides.get(alias, {})}
             for alias, spec in getattr(_base, "DATABASES", {}).items()}
