"""The Django project the toolkit runs in: where its relative paths (plans, service databases, the state store)
start."""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """Django's ``BASE_DIR`` when the project defines one, else the current directory."""
    try:
        from django.conf import settings

        base = getattr(settings, "BASE_DIR", None) if settings.configured else None
    except ImportError:  # pragma: no cover - strangler always runs inside Django
        base = None
    return Path(base) if base else Path.cwd()
