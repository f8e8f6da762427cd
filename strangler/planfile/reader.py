"""Reading a plan file: the YAML read safely (:mod:`router.safeyaml`), each section checked against the
schema (:mod:`strangler.planfile.model`), then what no single section can check on its own (the steps'
order, rising canaries, a cutover's writes routes, routes named once, unique hook names, tables mapped
once...).

Every problem is collected before anything is refused, so one ``plan check`` lists them all, each as
``FILE: key path: what was expected``. A file is read once; :func:`read_plan_file` is what both
``strangler.datasplit.load_plan`` and ``strangler.plans.schema.load_executor_plan`` start from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from router import safeyaml
from strangler.planfile.kinds import BY_NAME, ORDER, Step
from strangler.planfile.messages import Problem, describe_all, show, unknown_key, unknown_name
from strangler.planfile.model import (
    DatasplitSection,
    EndpointsSpec,
    Hook,
    HookSection,
    PlanFile,
    PlanFileInvalid,
    RouterSpec,
    ServiceSection,
    SourceSection,
    TableSection,
)
from strangler.planfile.values import Identifier, Spec

TOP_KEYS = ("name", "service", "source", "datasplit", "tables", "router", "endpoints", "steps", "hooks", "requires")
SECTIONS: dict[str, type[BaseModel]] = {"service": ServiceSection, "source": SourceSection,
                                        "datasplit": DatasplitSection, "router": RouterSpec, "endpoints": EndpointsSpec}
_NAME: TypeAdapter[str] = TypeAdapter(Identifier, config=ConfigDict(strict=True))
T = TypeVar("T")
OLD_HOOKS = ("the after_cutover/after_rollback form is gone: hooks are a list of named sub-steps with their own "
             "undo, e.g. hooks: [{name: gateway, at: cutover, do: [<the after_cutover command>], "
             "undo: [<the after_rollback command>], timeout: 30}]")


def read_plan_file(path: str | Path, *, executor: bool = False) -> PlanFile:
    """The plan at ``path`` checked against the schema, or :class:`PlanFileInvalid` listing every problem.

    ``executor``: the file must also say how to run the plan (steps, router, endpoints); without it a
    data-split-only file (name, service, source, tables) is enough, but whatever else it holds is checked.
    """
    try:
        doc = safeyaml.load_mapping(path)
    except safeyaml.YamlRefused as exc:
        raise PlanFileInvalid(str(path), [(exc.where, exc.message)]) from None
    reading = _Reading()
    plan = reading.run(Path(path), doc, executor=executor)
    if reading.problems or plan is None:
        raise PlanFileInvalid(str(path), reading.problems)
    return plan


class _Reading:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, field: str, message: str) -> None:
        self.problems.append((field, message))

    def model(self, cls: type[BaseModel], prefix: str, value: Any) -> Any:
        try:
            return cls.model_validate(value)
        except ValidationError as exc:
            self.problems.extend(describe_all(exc.errors(), cls, prefix))
            return None

    def run(self, path: Path, doc: dict[Any, Any], *, executor: bool) -> PlanFile | None:
        found: dict[str, Any] = {}
        for key, value in doc.items():  # in the file's order, so the problems are too
            if key not in TOP_KEYS:
                self.problem(str(key), unknown_key(key, TOP_KEYS))
            elif key == "name":
                try:
                    found[key] = _NAME.validate_python(value)
                except ValidationError as exc:
                    self.problems.extend(describe_all(exc.errors(), Identifier, "name"))
            elif key == "tables":
                found[key] = self.tables(value)
            elif key == "steps":
                found[key] = self.steps(value)
            elif key == "hooks":
                found[key] = self.hooks(value)
            elif key == "requires":
                found[key] = self.requires(value)
            else:
                found[key] = self.model(SECTIONS[key], key, value)
        for key, what in (("name", "an identifier: it names the plan's changelog and its state"),
                          ("service", "the service's name and where its database is"),
                          ("tables", "a non-empty list of the tables to move")):
            if key not in doc:
                self.problem(key, f"required ({what})")
        found.setdefault("source", SourceSection(database="default"))
        found.setdefault("datasplit", DatasplitSection())
        if executor or "steps" in doc:  # steps need somewhere to move traffic: the router and its routes
            for key, cls in (("router", RouterSpec), ("endpoints", EndpointsSpec)):
                if key not in doc:
                    found[key] = self.model(cls, key, {})
        if executor and "steps" not in doc:
            self.problem("steps", "required (a non-empty list of steps)")
        self.cross_check(found)
        if self.problems or any(found.get(k) is None for k in ("name", "service", "tables")):
            return None
        return PlanFile(path=path, name=found["name"], service=found["service"], source=found["source"],
                        datasplit=found["datasplit"], tables=found["tables"], router=found.get("router"),
                        endpoints=found.get("endpoints"), steps=found.get("steps") or (),
                        hooks=found.get("hooks") or (), requires=found.get("requires") or ())

    def items(self, key: str, value: list[Any], cls: type[Spec]) -> Iterator[tuple[int, Any]]:
        """Each item of the list section ``key`` that passes ``cls``, with its index, as soon as it is checked
        (so the problems the caller finds in an item follow the item's own, in the file's order); an item
        that fails has its problems recorded and is skipped."""
        for i, raw in enumerate(value):
            spec = self.model(cls, f"{key}[{i}]", raw)
            if spec is not None:
                yield i, spec

    def tables(self, value: Any) -> tuple[TableSection, ...] | None:
        if not isinstance(value, list) or not value:
            self.problem("tables", f"expected a non-empty list of tables, got {show(value)}")
            return None
        tables: list[TableSection] = []
        seen: dict[str, int] = {}
        for i, table in self.items("tables", value, TableSection):
            self.table_checks(i, table)
            for side, name in (("source", table.source), ("target", table.target or table.source)):
                first = seen.setdefault(f"{side}:{name}", i)
                if first != i:
                    self.problem(f"tables[{i}].{side}", f"{name!r} is already mapped by tables[{first}]")
            tables.append(table)
        return _every(tables, value)

    def table_checks(self, i: int, t: TableSection) -> None:
        where, columns = f"tables[{i}]", t.columns
        first_at: dict[str, str] = {}
        for field, column in t.key_fields(where):
            earlier = first_at.setdefault(column, field)
            if earlier != field:
                self.problem(field, f"{column!r} is already {earlier} (a key names each column once)")
        if columns is None:
            return
        if not columns:
            self.problem(f"{where}.columns", "empty; omit it to copy every column under the same name")
            return
        mapped_to: dict[str, str] = {}
        for src, dst in columns.items():
            first = mapped_to.setdefault(dst, src)
            if first != src:
                self.problem(f"{where}.columns.{src}", f"target column {dst!r} is already mapped from {first!r}")
        for field, column in t.key_fields(where):
            if column not in columns:
                what = "the key" if len(t.key) == 1 else "the key column"
                self.problem(field, f"{what} {column!r} is not among the mapped columns ({', '.join(columns)})")
        for j, name in enumerate(t.plain_ids):
            if name not in columns:
                self.problem(f"{where}.plain_ids[{j}]", f"{name!r} is not among the mapped columns")
        for name in t.decimal_places:
            if name not in columns:
                self.problem(f"{where}.decimal_places.{name}", f"{name!r} is not among the mapped columns")

    def steps(self, value: Any) -> tuple[Step, ...] | None:
        if not isinstance(value, list) or not value:
            self.problem("steps", f"expected a non-empty list of steps, got {show(value)}")
            return None
        steps: list[Step] = []
        for i, raw in enumerate(value):
            where = f"steps[{i}]"
            if isinstance(raw, str):
                kind, body = raw, None
            elif isinstance(raw, dict) and len(raw) == 1:
                kind, body = next(iter(raw.items()))
            else:
                self.problem(where, f"a step is a name or a one-key mapping {{name: {{...}}}}, got {show(raw)}")
                continue
            if kind not in BY_NAME:
                self.problem(where, unknown_name("step", kind, ORDER))
                continue
            options, spec = BY_NAME[kind].options, None
            if options is not None:  # a bare `- shadow` (or `shadow:` with nothing) takes every default
                spec = self.model(options, f"{where}.{kind}", {} if body is None else body)
                if spec is None:
                    continue
            elif body is not None:
                self.problem(f"{where}.{kind}", "this step takes no settings")
                continue
            step_id = BY_NAME[kind].step_id(spec)
            if any(s.id == step_id for s in steps):
                self.problem(where, f"step {step_id!r} appears twice")
            steps.append(Step(step_id, kind, spec))
        kinds = [s.kind for s in steps]
        if [ORDER.index(k) for k in kinds] != sorted(ORDER.index(k) for k in kinds):
            self.problem("steps", f"out of order ({', '.join(kinds)}); the order is {', '.join(ORDER)}")
        percents = [s.spec.percent for s in steps if s.kind == "canary"]
        if percents != sorted(percents):
            self.problem("steps", f"canary percentages must rise ({', '.join(f'{p:g}' for p in percents)})")
        return _every(steps, value)

    def hooks(self, value: Any) -> tuple[Hook, ...] | None:
        if isinstance(value, dict) and {"after_cutover", "after_rollback"} & set(value):
            self.problem("hooks", OLD_HOOKS)
            return None
        if not isinstance(value, list):
            self.problem("hooks", f"expected a list of hooks ({{name, at, do, undo, timeout}}), got {show(value)}")
            return None
        hooks: list[Hook] = []
        first: dict[str, int] = {}
        for i, spec in self.items("hooks", value, HookSection):
            earlier = first.setdefault(spec.name, i)
            if earlier != i:  # sub-steps are recorded by name: two of one name would share a record
                self.problem(f"hooks[{i}].name", f"{spec.name!r} is already the name of hooks[{earlier}]")
            hooks.append(Hook(spec.name, spec.at, tuple(spec.do), tuple(spec.undo), spec.timeout, spec.prepare))
        return _every(hooks, value)

    def requires(self, value: Any) -> tuple[str, ...] | None:
        if not isinstance(value, list):
            self.problem("requires", f"expected a list of plan names (the plans whose cutovers must come first), "
                                     f"got {show(value)}")
            return None
        names: list[str] = []
        for i, raw in enumerate(value):
            try:
                name = _NAME.validate_python(raw)
            except ValidationError as exc:
                self.problems.extend(describe_all(exc.errors(), Identifier, f"requires[{i}]"))
                continue
            if name in names:
                self.problem(f"requires[{i}]", f"{name!r} is already requires[{names.index(name)}]")
            names.append(name)
        return _every(names, value)

    def cross_check(self, found: dict[str, Any]) -> None:
        steps, endpoints, service = found.get("steps"), found.get("endpoints"), found.get("service")
        kinds = {s.kind for s in steps or ()}
        if endpoints is not None:
            self.endpoints(endpoints, steps)
        if "cutover" in kinds and endpoints is not None and not endpoints.writes:
            self.problem("endpoints.writes", "required for a cutover (the write freeze and the switch)")
        if "cutover" in kinds and service is not None and not service.url:
            self.problem("service.url", "required once traffic moves to the service")
        tables = found.get("tables")
        if "cutover" in kinds and tables and all(t.snapshot for t in tables):
            at = next(i for i, s in enumerate(steps or ()) if s.kind == "cutover")
            marked = ", ".join(f"tables[{i}].snapshot" for i in range(len(tables)))
            self.problem(f"steps[{at}]", f"nothing to cut over: every table is a snapshot ({marked}: true), which the "
                                         "monolith keeps owning; a cutover needs a table the service takes over")
        for i, name in enumerate(found.get("requires") or ()):
            if name == found.get("name"):
                self.problem(f"requires[{i}]", f"{name!r} is this plan's own name (a plan cannot wait for itself)")
        if found.get("requires") and steps is not None and "cutover" not in kinds:
            self.problem("requires", "the plan has no cutover step, and what it requires is checked at its cutover "
                                     "(and at the required plans' rollbacks)")
        for i, hook in enumerate(found.get("hooks") or ()):
            if steps is not None and hook.at not in kinds:
                self.problem(f"hooks[{i}].at", f"the plan has no {hook.at} step, so this hook would never run")
        self.bookkeeping_tables(found.get("name"), found.get("datasplit"), found.get("tables"))

    def endpoints(self, endpoints: EndpointsSpec, steps: tuple[Step, ...] | None) -> None:
        """A route named twice in a list; a route in both lists while the plan has a canary step (the share of
        readers it moves would take that route's writes along, to a service that does not own the data yet).
        Without a canary one route may carry both: shadow mirrors only its reads, the cutover moves it whole."""
        for key in ("reads", "writes"):
            first: dict[str, str] = {}
            for field, route in endpoints.keyed(key):
                earlier = first.setdefault(route, field)
                if earlier != field:
                    self.problem(field, f"{route!r} is already {earlier}")
        canaries = [s.id for s in steps or () if s.kind == "canary"]
        reads = {route: field for field, route in reversed(endpoints.keyed("reads"))}  # its first place
        if canaries:
            for field, route in endpoints.keyed("writes"):
                if route in reads:
                    self.problem(field, f"{route!r} is also {reads[route]}: {', '.join(canaries)} would send a "
                                        "share of its writes to the service before it owns the data; give the "
                                        "reads and the writes routes of their own")

    def bookkeeping_tables(self, name: str | None, opts: DatasplitSection | None,
                           tables: tuple[TableSection, ...] | None) -> None:
        """The engine's own tables (changelog, checkpoints, ownership guard) must not be a moved table nor
        one another: capture would log its own log, a copy would overwrite its checkpoints."""
        if name is None or opts is None:
            return
        changelog = opts.changelog_table or f"strangler_changelog_{name}"
        if opts.changelog_table is None and len(changelog) > 63:
            self.problem("name", f"too long for the default changelog table ({changelog!r} is over 63 characters); "
                                 "shorten it or set datasplit.changelog_table")
        moved = {n for t in tables or () for n in (t.source, t.target or t.source)}
        own = {"changelog_table": changelog, "checkpoint_table": opts.checkpoint_table,
               "guard_table": opts.guard_table}
        earlier: dict[str, str] = {}
        for key, table in own.items():
            if table in moved:
                self.problem(f"datasplit.{key}", f"{table!r} is a table the plan moves")
            elif table in earlier:
                self.problem(f"datasplit.{key}", f"{table!r} is also the {earlier[table]}")
            earlier.setdefault(table, key)


def _every(items: list[T], value: list[Any]) -> tuple[T, ...] | None:
    """A list section is kept only when every item of it passed: one bad item and the plan is refused."""
    return tuple(items) if len(items) == len(value) else None
