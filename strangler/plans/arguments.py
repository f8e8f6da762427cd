"""The arguments of ``manage.py strangler plan|run|rollback|status|follow``: only argparse here, so building
the command's parser imports nothing of the data split (see ``strangler.extras``)."""

from __future__ import annotations

from typing import Any

GROUPS = ("plan", "run", "rollback", "status", "follow")


def add_parsers(groups: Any) -> None:
    plan = groups.add_parser("plan", help="plan files: check, order", description="Work with plan files.")
    plan_ops = plan.add_subparsers(dest="plan_operation", metavar="OPERATION", required=True)
    check = plan_ops.add_parser(
        "check", help="validate a plan and print its steps",
        description="Check a plan file against its schema and, unless --offline, against the world it will run "
                    "in: the router's routes and backends, the monolith's tables and columns, the service's "
                    "database, the hooks' commands. Every problem is listed; exit status 2 when there are any.")
    check.add_argument("file", metavar="FILE")
    check.add_argument("--json", action="store_true", help='print {"ok": ..., "problems": [...], "steps": [...]}')
    check.add_argument("--offline", action="store_true",
                       help="the schema only: no router, databases or commands are looked at")
    order = plan_ops.add_parser(
        "order", help="the order to run plans in, from their requires:",
        description="The order to run the plans in, worked out from what each requires (a plan runs after the "
                    "plans it requires), and why each stands where it does. Plans that do not depend on each "
                    "other keep the order given (a directory's files by name). Exit status 2 when no order "
                    "exists (a cycle) or a plan requires one not given.")
    order.add_argument("files", metavar="FILE|DIR", nargs="+", help="plan files, or directories of them")
    order.add_argument("--json", action="store_true", help='print {"ok": ..., "order": [...]} (or "problems")')

    run = groups.add_parser("run", help="run a plan from where it stands to STEP (default: the end)")
    run.add_argument("file", metavar="FILE")
    run.add_argument("--to", metavar="STEP", help="stop after this step (e.g. canary-10)")
    run.add_argument("--yes", action="store_true", help="don't ask before steps that move traffic")
    run.add_argument("--json", action="store_true")

    rollback = groups.add_parser("rollback", help="undo steps in reverse, down to STEP (default: all of them)")
    rollback.add_argument("file", metavar="FILE")
    rollback.add_argument("--to", metavar="STEP", help="keep this step done; undo everything after it")
    rollback.add_argument("--json", action="store_true")

    status = groups.add_parser("status", help="where every plan (or FILE) stands")
    status.add_argument("file", metavar="FILE", nargs="?")
    status.add_argument("--json", action="store_true")

    follow = groups.add_parser("follow", help="keep the databases in step while the plan is between copy and "
                                              "decommission (forward before cutover, reverse after)")
    follow.add_argument("file", metavar="FILE")
    follow.add_argument("--interval", type=float, default=1.0, help="seconds between syncs (default 1)")
