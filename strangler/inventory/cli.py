"""``python manage.py strangler inventory [--apps A,B] [--traffic LOG] [--json] [--html FILE]``: parsing and
printing only."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from strangler.arguments import Output

SUMMARY = "what the project holds and how to take it apart: endpoints, tables, coupling, order"
DESCRIPTION = """\
Reads the Django project this command runs in: every URL pattern (view, methods, app), every model's table,
the foreign keys, many-to-manys, generic relations and signals that cross apps, and the imports between apps;
with --traffic, requests per endpoint from a router access log. Proposes the order of extraction (least
coupled first), the apps that can only move together, and what blocks each app."""


def add_parser(groups: Any) -> None:
    p = groups.add_parser("inventory", help=SUMMARY, description=DESCRIPTION)
    p.add_argument("--apps", type=_labels, metavar="LABELS",
                   help="comma-separated app labels to look at (default: the project's own apps)")
    p.add_argument("--traffic", type=Path, metavar="LOG", help="a router access log (JSON lines) to count requests")
    p.add_argument("--json", action="store_true", help="print the inventory as JSON")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML page with the coupling graph")


def _labels(text: str) -> list[str]:
    labels = [part.strip() for part in text.split(",") if part.strip()]
    if not labels:
        raise argparse.ArgumentTypeError(f"expected app labels separated by commas, got {text!r}")
    return labels


def handle(options: dict[str, Any], out: Output) -> None:
    from strangler.inventory import InventoryError, take
    from strangler.inventory.render import page, text

    try:
        inventory = take(options["apps"], traffic=options["traffic"])
    except InventoryError as exc:
        raise CommandError(str(exc), returncode=2) from exc
    target: Path | None = options["html"]
    if target is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(page(inventory), encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--html {target}: cannot write it ({exc.strerror or exc})", returncode=2) from exc
    out.write(json.dumps(inventory.to_dict(), indent=2) if options["json"] else text(inventory))
