"""``python manage.py strangler <group> <command> ...``: a thin front over the strangler library.

Groups: ``split`` (the data split); ``plan``, ``run``, ``rollback``, ``status`` and ``follow`` (plans);
``record``, ``replay`` and ``parity`` (parity); ``contract`` (generated requests, both sides compared);
``inventory`` (what the project holds, how to take it apart); ``scaffold`` (an app's first extraction).
Parsing and printing only; the work is in the library.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from strangler import extras
from strangler.arguments import positive_float, positive_int

SPLIT_OPERATIONS = {
    "check": "check the plan against both databases (tables, columns, kinds, scales)",
    "provision": "create the service database if missing and run its Alembic migrations to head",
    "capture": "install change-capture triggers on the source tables (before the copy)",
    "uncapture": "remove the capture triggers (and the changelog when empty or --drop-changelog)",
    "copy": "copy every mapped table in key-ordered batches; resumes from its checkpoints",
    "sync": "apply the captured changes from the high-water mark; reports the lag",
    "verify": "compare row counts and checksums per table; exit status 1 on any difference",
    "status": "show capture, copy checkpoints, high-water mark and lag",
}


# What each group needs beyond Django (strangler.extras): asked before anything of it is imported.
NEEDS = {"split": ("split", "`strangler split`"), "plan": ("split", "`strangler plan`"),
         "run": ("split", "`strangler run`"), "rollback": ("split", "`strangler rollback`"),
         "status": ("split", "`strangler status`"), "follow": ("split", "`strangler follow`"),
         "record": ("parity", "`strangler record`"), "replay": ("parity", "`strangler replay`"),
         "parity": ("parity", "`strangler parity`"), "contract": ("parity", "`strangler contract`")}


class Command(BaseCommand):
    help = "The strangler migration toolkit. Groups: split (data split). See `strangler split --help`."

    def add_arguments(self, parser: CommandParser) -> None:
        groups = parser.add_subparsers(dest="group", metavar="GROUP", required=True)
        from strangler.parity.commands import add_record_parser, add_replay_parser

        add_record_parser(groups)
        add_replay_parser(groups)
        from strangler.parity import shadow_report

        shadow_report.add_parser(groups)
        split = groups.add_parser("split", help="the data split: provision, capture, copy, sync, verify",
                                  description="Move a plan's tables into the service database and keep them in step.")
        from strangler.plans import arguments as plans_arguments

        plans_arguments.add_parsers(groups)
        from strangler.contract import cli as contract_cli

        contract_cli.add_parser(groups)
        from strangler.inventory import cli as inventory_cli

        inventory_cli.add_parser(groups)
        from strangler.scaffold import cli as scaffold_cli

        scaffold_cli.add_parser(groups)
        ops = split.add_subparsers(dest="operation", metavar="OPERATION", required=True)
        for name, text in SPLIT_OPERATIONS.items():
            op = ops.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
            op.add_argument("plan", metavar="PLAN", help="the plan file, e.g. migration_plans/catalog.yaml")
            op.add_argument("--json", action="store_true", help="print the result as JSON")
            op.add_argument("--reverse", action="store_true",
                            help="service -> monolith (the plan's mapping inverted; capture on the service)")
            if name in ("copy", "sync"):
                op.add_argument("--batch-size", type=positive_int, metavar="N",
                                help="rows per batch and transaction (copy) / changelog entries per slice (sync)")
                op.add_argument("--generic", action="store_true",
                                help="use the generic row-by-row path instead of the engine pair's fast path")
            if name == "copy":
                op.add_argument("--throttle", type=positive_float, metavar="ROWS_PER_S",
                                help="copy at most this many rows per second on average")
                op.add_argument("--restart", action="store_true",
                                help="forget the copy checkpoints and copy everything again (upserts)")
            if name == "verify":
                op.add_argument("--max-differences", type=positive_int, default=20, metavar="N",
                                help="list at most N differing keys per table (default 20)")
                op.add_argument("--chunk-size", type=positive_int, metavar="N", help="rows per checksum chunk")
            if name == "uncapture":
                op.add_argument("--drop-changelog", action="store_true",
                                help="drop the changelog table even when it still holds entries")
            op.add_argument("--quiet", action="store_true", help="no progress output")

    def handle(self, *args: Any, **options: Any) -> None:
        from strangler.plans.arguments import GROUPS as PLAN_GROUPS

        group = options["group"]
        if group in NEEDS:
            try:
                extras.require(*NEEDS[group])
            except extras.MissingExtra as exc:
                raise CommandError(str(exc), returncode=2) from exc
        if group in PLAN_GROUPS:
            from strangler.plans import cli as plans_cli

            plans_cli.handle(options, self.stdout)
        elif options["group"] == "split":
            self.split(options)
        elif options["group"] == "parity":
            from strangler.parity import shadow_report

            shadow_report.run(options, self.stdout)
        elif options["group"] == "contract":
            from strangler.contract import cli as contract_cli

            contract_cli.handle(options, self.stdout)
        elif options["group"] == "inventory":
            from strangler.inventory import cli as inventory_cli

            inventory_cli.handle(options, self.stdout)
        elif options["group"] == "scaffold":
            from strangler.scaffold import cli as scaffold_cli

            scaffold_cli.handle(options, self.stdout)
        elif options["group"] in ("record", "replay"):
            from strangler.parity import commands

            (commands.run_record if options["group"] == "record" else commands.run_replay)(options, self.stdout)

    def split(self, o: dict[str, Any]) -> None:
        from strangler import datasplit as ds
        from strangler.datasplit.progress import Reporter

        op = o["operation"]
        reporter = Reporter(enabled=not o.get("quiet") and not o["json"], stream=sys.stderr)
        try:
            split = ds.open_split(o["plan"], reverse=o["reverse"])
            try:
                if op == "check":
                    result: Any = ds.check(split)
                elif op == "provision":
                    result = ds.provision(split)
                elif op == "capture":
                    result = ds.capture(split)
                elif op == "uncapture":
                    result = ds.uncapture(split, drop_changelog=o["drop_changelog"])
                elif op == "copy":
                    result = ds.copy(split, batch_size=o["batch_size"], throttle=o["throttle"], restart=o["restart"],
                                     reporter=reporter, generic=o["generic"])
                elif op == "sync":
                    result = ds.sync(split, batch_size=o["batch_size"], reporter=reporter, generic=o["generic"])
                elif op == "verify":
                    result = ds.verify(split, max_differences=o["max_differences"], chunk_size=o["chunk_size"],
                                       reporter=reporter)
                else:
                    result = ds.status(split)
            finally:
                split.close()
        except ds.DataSplitError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        except ds.DRIVER_ERRORS as exc:
            raise CommandError(f"split {op}: the database refused: {type(exc).__name__}: {exc}".strip(),
                               returncode=2) from exc
        data = result if isinstance(result, dict) else result.to_dict()
        if o["json"]:
            self.stdout.write(json.dumps(data, indent=2, default=str))
        else:
            from strangler.datasplit.report import render

            self.stdout.write(render(op, data))
        if op == "verify" and not data["ok"]:
            bad = [t["target"] for t in data["tables"] if not t["ok"]]
            raise CommandError(f"verify: {len(bad)} table(s) differ: {', '.join(bad)}", returncode=1)
