"""``python manage.py strangler scaffold APP [--name NAME] [--out DIR] [--port P] [--force] [--json]``: parsing
and printing only."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError

from strangler.arguments import Output, positive_int

SUMMARY = "generate a service, its schema and migrations, the plan and routes for one Django app"
DESCRIPTION = """Generates the first extraction of a Django app from the project itself: the service skeleton
(SQLAlchemy models and the first Alembic revision from the Django models, database settings, /healthz, the
identity verifier, entry point), the plan (data split, shadow, canary, cutover) and the routes."""


def add_parser(groups: Any) -> None:
    p = groups.add_parser("scaffold", help=SUMMARY, description=DESCRIPTION)
    p.add_argument("app", metavar="APP", help="the Django app's label, e.g. cart")
    p.add_argument("--name", help="the service's name (default: the app's label)")
    p.add_argument("--out", default="extracted", help="the package directory services live in (default extracted)")
    p.add_argument("--port", type=positive_int, default=8102, help="the service's port (default 8102)")
    p.add_argument("--force", action="store_true", help="write over files that exist")
    p.add_argument("--with", dest="with_models", action="append", default=[], metavar="APP.MODEL",
                   help="a model of another app that moves with this one (repeatable), e.g. --with auth.User "
                        "--with authtoken.Token for an accounts app: its table is the service's, foreign keys "
                        "between the moved models stay foreign keys")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def handle(options: dict[str, Any], out: Output) -> None:
    from strangler.scaffold import ScaffoldError, scaffold

    try:
        report = scaffold(options["app"], name=options["name"], out=options["out"], port=options["port"],
                          force=options["force"], with_models=options["with_models"])
    except ScaffoldError as exc:
        raise CommandError(str(exc), returncode=2) from exc
    except OSError as exc:
        raise CommandError(f"scaffold: cannot write {exc.filename}: {exc.strerror}", returncode=2) from exc
    if options["json"]:
        out.write(json.dumps(report.to_dict(), indent=2))
        return
    lines = [f"scaffolded the {report.app} app as the {report.service} service: {len(report.files)} files"]
    lines += [f"  {path}" for path in report.files]
    lines.append(f"tables: {', '.join(report.tables)}")
    lines += [f"plain id: {p}" for p in report.plain_ids]
    lines += [f"note: {n}" for n in report.notes]
    out.write("\n".join(lines) + "\n")
