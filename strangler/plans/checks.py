"""A plan checked against the world it will run in (``plan check`` without ``--offline``).

The schema proves a plan well formed; these checks prove it names things that exist, before a run finds out
halfway: the routes and backends it names are in the router's table (read from its admin API), the tables
and columns it moves are in the monolith's database, the service's database answers (and, once provisioned,
has the tables and columns the mapping needs), and the commands of its hooks and of ``service.start`` can
be found. Every problem is returned (key path, message), not only the first.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from strangler import datasplit
from strangler.datasplit.databases import monolith_engine
from strangler.datasplit.engines import Engine, open_engine
from strangler.datasplit.mapping import resolve
from strangler.datasplit.plan import TableMap
from strangler.planfile.messages import Problem
from strangler.plans.admin import RouterAdmin
from strangler.plans.exceptions import RouterUnavailable
from strangler.plans.schema import CutoverSpec, ExecutorPlan


def check_world(plan: ExecutorPlan, split: datasplit.Plan) -> list[Problem]:
    return [*router_problems(plan), *database_problems(split), *command_problems(plan, split.root)]


def router_problems(plan: ExecutorPlan) -> list[Problem]:
    try:
        admin = RouterAdmin(plan.router)
    except RouterUnavailable:
        return [("router.token_env", f"{plan.router.token_env} is not set; it must hold the router's admin token "
                                     "(to read its routes)")]
    try:
        table = admin.table()
    except RouterUnavailable as exc:
        return [("router.admin_url", f"cannot read the router's routes ({exc})")]
    finally:
        admin.close()
    routes, backends = table.get("routes") or {}, table.get("backends") or {}
    named = [*plan.endpoints.keyed("reads"), *plan.endpoints.keyed("writes")]  # endpoints.reads[1], ...
    for i, step in enumerate(plan.steps):
        if isinstance(step.spec, CutoverSpec):
            named += [(f"steps[{i}].cutover.also_freeze[{j}]", r) for j, r in enumerate(step.spec.also_freeze)]
    problems = [(field, f"the router has no route {name!r} (known: {', '.join(sorted(routes))})")
                for field, name in named if name not in routes]
    for field, name in (("router.monolith_backend", plan.router.monolith_backend),
                        ("router.service_backend", plan.router.service_backend)):
        if name not in backends:
            problems.append((field, f"the router has no backend {name!r} (known: {', '.join(sorted(backends))})"))
    return problems


def database_problems(plan: datasplit.Plan) -> list[Problem]:
    try:
        monolith = monolith_engine(plan)
    except datasplit.DataSplitError as exc:
        return [_problem(exc, "source")]
    try:
        problems, good = _monolith_tables(plan, monolith)
        problems += _service(plan, monolith, good)
    finally:
        monolith.dispose()
    return problems


def _problem(exc: Exception, field: str) -> Problem:
    if isinstance(exc, datasplit.PlanError):
        return exc.field, exc.message
    return field, _one_line(exc)


def _one_line(exc: Exception) -> str:
    """Drivers' messages span lines (psycopg adds a hint); a problem is one line."""
    return " ".join(str(exc).split())


def _monolith_tables(plan: datasplit.Plan, monolith: Engine) -> tuple[list[Problem], list[TableMap]]:
    """Every table and column the plan moves, in the monolith's database; the tables without a problem."""
    problems: list[Problem] = []
    good = []
    try:
        if not monolith.exists():  # introspecting a missing SQLite file would create it
            return [("source", f"the monolith database {monolith.display} does not exist")], []
        for t in plan.tables:
            where = f"tables[{t.index}]"
            columns = monolith.columns(t.source)
            if columns is None:
                problems.append((f"{where}.source", f"no table {t.source!r} in the monolith database "
                                                    f"({monolith.display})"))
                continue
            listing = ", ".join(columns)
            missing = [(f"{where}.columns.{s}", s) for s, _ in t.columns or ()]
            if t.columns is None:  # with a mapping, these are among the mapped columns (the schema saw to it)
                missing += t.key_fields(where)
                missing += [(f"{where}.plain_ids[{j}]", c) for j, c in enumerate(t.plain_ids)]
                missing += [(f"{where}.decimal_places.{c}", c) for c in t.decimal_places]
            found = [(f, f"no column {c!r} in {t.source} (columns: {listing})") for f, c in missing if c not in columns]
            problems += found
            if not found:
                good.append(t)
    except datasplit.DataSplitError as exc:
        problems.append(("source", f"cannot read the monolith database ({_one_line(exc)})"))
    return problems, good


def _service(plan: datasplit.Plan, monolith: Engine, good: list[TableMap]) -> list[Problem]:
    """The service's database answers; once it exists, the mapping holds against it too (the data split's
    own resolve: target tables, columns, kinds that convert). Before ``provision`` it need not exist."""
    field = ("service.database_url_env" if os.environ.get(plan.service.database_url_env or "")
             else "service.default_database_url")
    try:
        service = open_engine(plan.service_url(), "service")
    except datasplit.DataSplitError as exc:
        return [_problem(exc, field)]
    problems: list[Problem] = []
    try:
        if not service.exists():
            return []
        service.connect().close()
        for t in good:
            try:
                resolve(replace(plan, tables=(t,)), monolith, service, need_target=False)
            except datasplit.PlanError as exc:
                problems.append((exc.field, exc.message))
    except datasplit.DataSplitError as exc:
        problems.append((field, f"cannot reach the service database ({_one_line(exc)})"))
    finally:
        service.dispose()
    return problems


def command_problems(plan: ExecutorPlan, root: Path) -> list[Problem]:
    commands = [("service.start", plan.service.start)] if plan.service.start else []
    for i, hook in enumerate(plan.hooks):
        commands += [(f"hooks[{i}].do", list(hook.do)), (f"hooks[{i}].undo", list(hook.undo))]
    problems = []
    for field, argv in commands:
        why = _unresolved(argv, root)
        if why:
            problems.append((field, why))
    return problems


def _unresolved(argv: list[str], root: Path) -> str | None:
    """Why ``argv`` would not start (run from ``root``, "{python}" being this interpreter), or None."""
    program, args = argv[0], argv[1:]
    if program != "{python}":
        if shutil.which(program) or (root / program).is_file():
            return None
        return f"no program {program!r} (not on PATH, not a file under {root})"
    if not args or args[0] == "-c":
        return None
    if args[0] == "-m":
        module = args[1] if len(args) > 1 else ""
        return None if module and _module_exists(module) else f"no Python module {module!r} to run with -m"
    if args[0].startswith("-"):
        return None  # other interpreter options: nothing to look up
    script = root / args[0]
    if not script.is_file():
        return f"no script {args[0]!r} under {root}"
    if script.name == "manage.py" and len(args) > 1:
        from django.core.management import get_commands

        commands: dict[str, Any] = get_commands()
        if args[1] not in commands:
            close = difflib.get_close_matches(args[1], list(commands), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "`manage.py help` lists them"
            return f"{args[1]!r} is not a management command of this project ({hint})"
    return None


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a missing parent package, or a malformed name
        return False
