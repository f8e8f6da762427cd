"""The plan commands of ``python manage.py strangler``: plan check, run, rollback, status, follow."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from django.core.management.base import CommandError

from strangler import datasplit
from strangler.arguments import Output
from strangler.datasplit.plan import plan_from
from strangler.planfile.model import PlanFileInvalid
from strangler.planfile.reader import read_plan_file
from strangler.plans.arguments import GROUPS, add_parsers
from strangler.plans.checks import check_world
from strangler.plans.exceptions import PlanFileError, PlanRunError
from strangler.plans.executor import Executor
from strangler.plans.order import load_plans, plan_files, plan_order
from strangler.plans.schema import executor_plan, load_executor_plan
from strangler.plans.state import StateStore, default_path

__all__ = ["GROUPS", "add_parsers", "handle"]

def handle(options: dict[str, Any], out: Output) -> None:
    group = options["group"]
    try:
        if group == "plan" and options["plan_operation"] == "order":
            _order(options, out)
        elif group == "plan":
            _check(options, out)
        elif group == "status":
            _status(options, out)
        elif group == "follow":
            Executor(options["file"], say=lambda line: print(line, file=sys.stderr, flush=True)).follow(
                interval=options["interval"])
        else:
            executor = Executor(options["file"], say=lambda line: print(line, file=sys.stderr, flush=True))
            outcome = (executor.run(options["to"], yes=options["yes"]) if group == "run"
                       else executor.rollback(options["to"]))
            data = {"plan": outcome.plan, "action": outcome.action, "ok": outcome.ok, "at": outcome.position,
                    "steps": outcome.steps, "message": outcome.message}
            out.write(json.dumps(data, indent=2) + "\n" if options["json"] else
                      f"{outcome.plan}: {outcome.action} {'finished' if outcome.ok else 'stopped'}; now at "
                      f"{outcome.position or 'the start'}" + (f" ({outcome.message})" if outcome.message else "")
                      + "\n")
            if not outcome.ok:
                raise CommandError(outcome.message or "failed", returncode=1)
    except PlanFileError as exc:
        raise CommandError("\n".join(exc.problems), returncode=2) from exc
    except datasplit.DataSplitError as exc:
        raise CommandError(str(exc), returncode=2) from exc
    except PlanRunError as exc:
        raise CommandError(str(exc), returncode=1) from exc
    except KeyboardInterrupt:
        raise CommandError("interrupted; the state is saved: run again to resume", returncode=130) from None


def _check(options: dict[str, Any], out: Output) -> None:
    path = options["file"]
    try:
        doc = read_plan_file(path, executor=True)  # read once: both views below are built from it
    except PlanFileInvalid as exc:
        _refuse(options, out, None, exc.lines())
    plan = executor_plan(doc)
    split = plan_from(doc)
    checked = ["schema"]
    if not options["offline"]:
        problems = check_world(plan, split)
        if problems:
            _refuse(options, out, plan.name, [f"{path}: {field}: {message}" for field, message in problems])
        checked += ["router", "databases", "commands"]
    steps = [{"step": s.id, **(s.spec.model_dump() if s.spec is not None else {})} for s in plan.steps]
    tables = [{"source": t.source, "target": t.target, "snapshot": t.snapshot} for t in split.tables]
    if options["json"]:
        out.write(json.dumps({"plan": plan.name, "ok": True, "checked": checked, "tables": tables, "steps": steps},
                             indent=2) + "\n")
        return
    out.write(f"{plan.path}: valid plan {plan.name!r} for service {plan.service.name!r}\n")
    out.write(f"  routes: reads {_names(plan.endpoints.reads)}, writes {_names(plan.endpoints.writes)}; router "
              f"admin {plan.router.admin_url}\n")
    kept = [f"{t['source']} -> {t['target']}" for t in tables if t["snapshot"]]
    if kept:
        out.write(f"  snapshots: {', '.join(kept)} (the monolith keeps owning them: synced forward only, never "
                  "guarded on its side nor handed over)\n")
    for i, step in enumerate(steps, 1):
        settings = ", ".join(f"{k}={v}" for k, v in step.items() if k != "step")
        out.write(f"  {i}. {step['step']}" + (f"  ({settings})" if settings else "") + "\n")
    for hook in plan.hooks:
        out.write(f"  hook {hook.name} at {hook.at}: do {' '.join(hook.do)}; undo {' '.join(hook.undo)}\n")
    out.write("  checked: the schema only (--offline)\n" if options["offline"] else
              "  checked: the schema, the router's routes and backends, the databases, the commands\n")


def _order(options: dict[str, Any], out: Output) -> None:
    try:
        placed = plan_order(load_plans(plan_files(options["files"])))
    except PlanFileError as exc:
        _refuse(options, out, None, exc.problems)
    if options["json"]:
        out.write(json.dumps({"ok": True, "order": [p.to_dict() for p in placed]}, indent=2) + "\n")
        return
    for i, plan in enumerate(placed, 1):
        out.write(f"{i}. {plan.name} ({plan.path}): {plan.why}\n")


def _names(routes: tuple[str, ...]) -> str:
    """``'catalog-reads'``, ``'catalog-reads', 'categories-reads'``, or ``none``."""
    return ", ".join(map(repr, routes)) or "none"


def _refuse(options: dict[str, Any], out: Output, name: str | None, problems: list[str]) -> NoReturn:
    """Every problem on stderr (and, with --json, as {"ok": false, "problems": [...]} on stdout); status 2."""
    if options["json"]:
        out.write(json.dumps({"plan": name, "ok": False, "problems": problems}, indent=2) + "\n")
    raise CommandError("\n".join(problems), returncode=2)


def _status(options: dict[str, Any], out: Output) -> None:
    if options["file"]:
        reports = [Executor(options["file"]).status()]
    else:
        from strangler.project import project_root

        store = StateStore(default_path(project_root()))
        plans = sorted(Path(project_root(), "migration_plans").glob("*.yaml"))
        known = {s.plan for s in store.all()}
        reports = [Executor(p, state=store).status(live=False) for p in plans
                   if load_executor_plan(p).name in known]
        if not reports:
            out.write("no plan has been run yet\n")
            return
    if options["json"]:
        out.write(json.dumps(reports if not options["file"] else reports[0], indent=2, default=str) + "\n")
        return
    for report in reports:
        out.write(f"{report['plan']}: {report['status']} at {report['at'] or 'the start'} since {report['since']}"
                  + (f" — {report['message']}" if report["message"] else "") + "\n")
        out.write("  steps: " + " ".join(("✓" if s["done"] else "·") + s["step"] for s in report["steps"]) + "\n")
        if report.get("requires"):
            out.write("  requires: " + ", ".join(
                f"{name} ({'cut over' if r['cut_over'] else 'not cut over'}: at {r['at'] or 'the start'})"
                for name, r in report["requires"].items()) + "\n")
        live = report.get("live") or {}
        if "sync" in live:
            out.write(f"  sync: {live['sync']}\n")
        if "snapshots" in live:
            out.write(f"  snapshots: {live['snapshots']}\n")
        if "routes" in live:
            out.write(f"  routes: {live['routes']}\n")
        owners = live.get("ownership") or {}
        if "error" in owners:
            out.write(f"  ownership: {owners['error']}\n")
        elif owners.get("state") not in (None, "unguarded"):
            out.write(f"  ownership: {owners['state']}\n")
            for side, tables in owners.get("tables", {}).items():
                for table, owner in tables.items():
                    refuses = "" if owner == side else " (refuses writes but the sync's)"
                    out.write(f"    {side} {table}: owned by the {owner}{refuses}\n")
            for side, tables in owners.get("snapshots", {}).items():
                for table in tables:
                    out.write(f"    {side} {table}: a snapshot, the monolith's for good"
                              + (" (takes writes)\n" if side == "monolith" else
                                 " (refuses writes but the forward sync's)\n"))


