"""The plan file's schema: every key a migration plan (``migration_plans/<name>.yaml``) may hold, and its type.

One schema for the whole file, read once (:mod:`strangler.planfile.reader`), from which both users build
what they need: the data-split engine its :class:`strangler.datasplit.plan.Plan`, the executor its
:class:`strangler.plans.schema.ExecutorPlan`. Every model refuses unknown keys (a misspelt ``hook:`` or
``percnt:`` must not silently do nothing) and is strict: no ``true`` for a number, no number for a string,
no infinities. The layout::

    name: catalog                           # an identifier: it names the changelog and the state rows
    service: {name, database_url_env | default_database_url, migrations, version_table,
              start: [argv...], url: http(s)://..., health: /healthz, monolith_url_env}
    source: {database: ALIAS | url: URL | url_env: VAR}          # default: {database: default}
    datasplit: {batch_size, chunk_size, changelog_table, checkpoint_table, guard_table}
    tables: [{source, target, key: COLUMN | [COLUMN, ...], columns: {src: dst}, plain_ids: [...],
              decimal_places: {col: n}, snapshot: false}]
    router: {admin_url, token_env, monolith_backend, service_backend}
    endpoints: {reads: ROUTE | [ROUTE, ...], writes: ROUTE | [ROUTE, ...]}
    steps: [provision, capture, copy, sync, verify, {contract: {...}}, {shadow: {...}}, {canary: {...}},
            {cutover: {...}}, decommission]
    hooks: [{name, at: cutover, do: [argv...], undo: [argv...], timeout: 30, prepare: false}]
    requires: [PLAN NAME, ...]              # plans cut over before this one's cutover (strangler.plans.requires)

The values' rules are :mod:`strangler.planfile.values`; the kinds of step, each with its settings' model,
:mod:`strangler.planfile.kinds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from strangler.planfile.kinds import CanaryGate as CanaryGate  # re-exported: the file's whole schema is here
from strangler.planfile.kinds import ContractGate as ContractGate
from strangler.planfile.kinds import CutoverSpec as CutoverSpec
from strangler.planfile.kinds import ShadowGate as ShadowGate
from strangler.planfile.kinds import Step
from strangler.planfile.messages import Problem
from strangler.planfile.values import (
    Argv,
    DatabaseUrl,
    EnvName,
    HttpUrl,
    Identifier,
    KeyColumns,
    Name,
    Positive,
    Routes,
    RoutesOrNone,
    Spec,
    Text,
    UrlPath,
)


class ServiceSection(Spec):
    name: Name
    database_url_env: EnvName | None = None  # the service's database, as the service itself reads it
    default_database_url: DatabaseUrl | None = None
    migrations: Text | None = None  # its Alembic script_location, under the project root when relative
    version_table: Identifier = "alembic_version"
    start: Argv | None = None  # how the executor starts it ("{python}" is this interpreter)
    url: HttpUrl | None = None
    health: UrlPath = "/healthz"
    # The variable holding the monolith's URL, for a service that asks the monolith's API (e.g. whether orders
    # reference a product): the contract check points it at its own scratch monolith.
    monolith_url_env: EnvName | None = None
    # Variables the contract check's copy of the service runs with, over the environment ("{workdir}" is the
    # check's scratch directory): where the service keeps state of its own besides its database (a durable-execution
    # system database, an event bus it consumes), so that the copy never shares the running service's.
    scratch_env: dict[EnvName, Text] = {}

    @model_validator(mode="after")
    def _has_database(self) -> ServiceSection:
        if not self.database_url_env and not self.default_database_url:
            raise ValueError("needs database_url_env or default_database_url (where the service's database is)")
        return self


class SourceSection(Spec):
    database: Text | None = None  # a Django DATABASES alias
    url: DatabaseUrl | None = None
    url_env: EnvName | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SourceSection:
        if sum(v is not None for v in (self.database, self.url, self.url_env)) != 1:
            raise ValueError("give exactly one of database (a Django alias), url or url_env")
        return self


class DatasplitSection(Spec):
    batch_size: Positive = 20000  # rows per copy batch (and per transaction)
    chunk_size: Positive = 20000  # rows per verify checksum chunk
    # Default strangler_changelog_<plan name>: two plans capturing one table never share a log or triggers.
    changelog_table: Identifier | None = None
    checkpoint_table: Identifier = "strangler_checkpoint"
    guard_table: Identifier = "strangler_ownership"


class TableSection(Spec):
    source: Identifier
    target: Identifier | None = None  # default: the source's name
    # The columns that identify a row (source side): `key: id`, or several for a composite key,
    # `key: [order_id, line_no]`; held as a tuple either way.
    key: KeyColumns = ("id",)
    columns: dict[Identifier, Identifier] | None = None  # source -> target; None: every column, same name
    plain_ids: list[Identifier] = []
    decimal_places: dict[Identifier, Annotated[int, Field(ge=0, le=30)]] = {}
    # A read-only copy of a table the monolith keeps owning for the whole life of the plan (an order's view of
    # its shipment, which shipping keeps writing): copied and synced forward always, also after the cutover and
    # the decommission; never guarded on the monolith's side, guarded on the service's (only the forward sync
    # writes it there), never captured, synced or verified in reverse, left out of the cutover's handover.
    snapshot: bool = False

    def key_fields(self, where: str) -> list[tuple[str, str]]:
        return key_fields(where, self.key)


def key_fields(where: str, key: tuple[str, ...]) -> list[tuple[str, str]]:
    """A table's key columns, each with its key path for a problem (``where``: ``tables[0]``): ``tables[0].key``
    for a one-column key, ``tables[0].key[1]`` in a composite one."""
    if len(key) == 1:
        return [(f"{where}.key", key[0])]
    return [(f"{where}.key[{i}]", column) for i, column in enumerate(key)]


class RouterSpec(Spec):
    admin_url: HttpUrl = "http://127.0.0.1:8081"
    token_env: EnvName = "ROUTER_ADMIN_TOKEN"  # noqa: S105 - the variable's name
    monolith_backend: Name = "monolith"
    service_backend: Name


class EndpointsSpec(Spec):
    """The routes of the router's table that carry the moved endpoints: each key one name or a list of them
    (an app under several URL prefixes has a pair of routes per prefix), held as tuples in the file's order.
    A route named twice, or in both lists where that makes no sense, is the reader's to refuse (it knows the
    steps and names the items: ``endpoints.reads[2]``)."""

    reads: Routes
    writes: RoutesOrNone = ()  # none: a plan without a cutover needs no writes route

    def keyed(self, key: Literal["reads", "writes"]) -> list[tuple[str, str]]:
        """The routes of ``key``, each with its key path for a problem: ``endpoints.reads`` for a single one,
        ``endpoints.reads[1]`` in a list of several."""
        routes: tuple[str, ...] = getattr(self, key)
        if len(routes) == 1:
            return [(f"endpoints.{key}", routes[0])]
        return [(f"endpoints.{key}[{i}]", route) for i, route in enumerate(routes)]

    @property
    def routes(self) -> tuple[str, ...]:
        """Every route named, once each: the writes routes first (the order the cutover moves them in)."""
        return tuple(dict.fromkeys((*self.writes, *self.reads)))


class HookSection(Spec):
    name: Name
    at: Literal["cutover"]  # the kind of step the hook belongs to
    do: Argv
    undo: Argv
    timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # The command speaks the go protocol (strangler.plans.hooks): started before the write freeze with
    # STRANGLER_HOOK_GO=stdin, it does its start-up and checks, prints "ready", and acts only on "go" on stdin.
    prepare: bool = False


@dataclass(frozen=True)
class Hook:
    """A command a step runs outside the databases and the router, recorded as a sub-step with its undo."""

    name: str
    at: str
    do: tuple[str, ...]
    undo: tuple[str, ...]
    timeout: float
    prepare: bool = False  # started before the freeze, acting on a go (strangler.plans.hooks)


@dataclass(frozen=True)
class PlanFile:
    """A plan file that passed the schema: what both the data split and the executor are built from."""

    path: Path
    name: str
    service: ServiceSection
    source: SourceSection
    datasplit: DatasplitSection
    tables: tuple[TableSection, ...]
    router: RouterSpec | None  # None only in a data-split-only file (no steps)
    endpoints: EndpointsSpec | None
    steps: tuple[Step, ...]  # () in a data-split-only file
    hooks: tuple[Hook, ...]
    requires: tuple[str, ...] = ()  # the names of the plans whose cutovers must come before this one's

    @property
    def changelog_table(self) -> str:
        return self.datasplit.changelog_table or f"strangler_changelog_{self.name}"


class PlanFileInvalid(Exception):
    """Every problem of a plan file, as (key path, message); :meth:`lines` names the file on each."""

    def __init__(self, path: str, problems: list[Problem]) -> None:
        self.path, self.problems = path, problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.path}: {field}: {message}" if field else f"{self.path}: {message}"
                for field, message in self.problems]
