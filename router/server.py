"""Assembling the running router from a routes file: the ASGI app, its addons and the reloader."""

from __future__ import annotations

from pathlib import Path

from router.addons import AccessLog
from router.app import RouterApp
from router.config import RouterConfig
from router.reload import Reloader


def build_app(config: RouterConfig, path: Path) -> RouterApp:
    app = RouterApp(config, addons=[AccessLog()])
    app.background.append(Reloader(app.tables, path))
    return app
