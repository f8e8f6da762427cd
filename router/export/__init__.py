"""Exports of a routing table to other proxies' configurations (``python -m router export nginx FILE``).

The Python router stays the reference; an export routes the same requests to the same backends and says,
in the generated file and as warnings, what the other proxy cannot do.
"""

from __future__ import annotations

from router.export.nginx import DEFAULT_PREFIX, render_nginx

__all__ = ["DEFAULT_PREFIX", "render_nginx"]
