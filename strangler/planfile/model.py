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
    tables: [{source, target, key, columns: {src: dst}, plain_ids: [...], decimal_places: {col: n}}]
    router: {admin_url, token_env, monolith_backend, service_backend}
    endpoints: {reads: ROUTE, writes: ROUTE}
    steps: [provision, capture, copy, sync, verify, {contract: {...}}, {shadow: {...}}, {canary: {...}},
            {cutover: {...}}, decommission]
    hooks: [{name, at: cutover, do: [argv...], undo: [argv...], timeout: 30}]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from router.compare import PathError, parse_path
from router.config import NAME as ROUTER_NAME
from router.config.values import check_env_name
from strangler.planfile.messages import Problem, show

IDENTIFIER = re.compile(r"^[A-Za-z0-9_]{1,63}$")  # a SQL name we can quote anywhere, within PostgreSQL's 63
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
DATABASE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(f"{show(value)} is not a plain identifier (letters, digits, underscore; at most 63)")
    return value


def _name(value: str) -> str:
    if not ROUTER_NAME.match(value):  # the router's own rule for route and backend names
        raise ValueError(f"{show(value)} is not a name (letters, digits, - and _, starting with a letter or "
                         "digit; at most 63)")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL with a host, got {show(value)}")
    return value


def _database_url(value: str) -> str:
    if not DATABASE_URL.match(value):
        raise ValueError(f"expected a database URL such as sqlite:///var/x.sqlite3 or postgresql://host/db, "
                         f"got {show(value)}")
    return value


def _argv(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("expected at least one argument (the program to run), got []")
    if not value[0].strip():
        raise ValueError(f"the program to run (the first argument) is empty: {show(value)}")
    return value


def _url_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"expected a path starting with '/', got {show(value)}")
    return value


def _json_path(value: str) -> str:
    try:
        parse_path(value)  # the router's own parser: the rule must mean the same thing there
    except PathError as exc:
        raise ValueError(str(exc)) from None
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError(f"expected a non-empty string, got {show(value)}")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
Name = Annotated[str, AfterValidator(_name)]
EnvName = Annotated[str, AfterValidator(check_env_name)]  # the router's rule
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Argv = Annotated[list[str], AfterValidator(_argv)]
Text = Annotated[str, AfterValidator(_non_empty)]
Positive = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]
Rate = Annotated[float, Field(ge=0, le=1)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ServiceSection(Spec):
    name: Name
    database_url_env: EnvName | None = None  # the service's database, as the service itself reads it
    default_database_url: Annotated[str, AfterValidator(_database_url)] | None = None
    migrations: Text | None = None  # its Alembic script_location, under the project root when relative
    version_table: Identifier = "alembic_version"
    start: Argv | None = None  # how the executor starts it ("{python}" is this interpreter)
    url: HttpUrl | None = None
    health: Annotated[str, AfterValidator(_url_path)] = "/healthz"
    # The variable holding the monolith's URL, for a service that asks the monolith's API (e.g. whether orders
    # reference a product): the contract check points it at its own scratch monolith.
    monolith_url_env: EnvName | None = None

    @model_validator(mode="after")
    def _has_database(self) -> ServiceSection:
        if not self.database_url_env and not self.default_database_url:
            raise ValueError("needs database_url_env or default_database_url (where the service's database is)")
        return self


class SourceSection(Spec):
    database: Text | None = None  # a Django DATABASES alias
    url: Annotated[str, AfterValidator(_database_url)] | None = None
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
    key: Identifier = "id"
    columns: dict[Identifier, Identifier] | None = None  # source -> target; None: every column, same name
    plain_ids: list[Identifier] = []
    decimal_places: dict[Identifier, Annotated[int, Field(ge=0, le=30)]] = {}

    @field_validator("key", mode="before")
    @classmethod
    def _one_column(cls, value: Any) -> Any:
        if isinstance(value, list):
            raise ValueError(f"composite keys are not supported yet (got {show(value)}); give one column")
        return value


class RouterSpec(Spec):
    admin_url: HttpUrl = "http://127.0.0.1:8081"
    token_env: EnvName = "ROUTER_ADMIN_TOKEN"  # noqa: S105 - the variable's name
    monolith_backend: Name = "monolith"
    service_backend: Name


class EndpointsSpec(Spec):
    reads: Name  # routes of the router's table that carry the moved endpoints
    writes: Name | None = None


class ShadowGate(Spec):
    min_requests: Positive = 50
    max_mismatch_rate: Rate = 0.0
    # Comparison rules handed to the router's shadow (JSON paths): fields that live writes change between
    # the two answers (replication lag, not a difference of behaviour), found by calibration.
    ignore: list[Annotated[str, AfterValidator(_json_path)]] = []
    unordered: list[Annotated[str, AfterValidator(_json_path)]] = []
    timeout: Seconds = 300.0
    poll: Seconds = 1.0


def _header_name(value: str) -> str:
    if not HEADER_NAME.match(value):
        raise ValueError(f"{show(value)} is not an HTTP header name")
    return value.lower()


class ContractGate(Spec):
    """Generated requests sent to scratch copies of the monolith and the service (strangler.contract)."""

    examples: Positive = 500
    # Distinct differences allowed (each a kind of difference on one operation, shrunk to one request).
    max_differences: Annotated[int, Field(ge=0)] = 0
    seed: Annotated[int, Field(ge=0)] | None = None  # None: a new one each run (printed, to reproduce)
    # The routes file that defines the plan's endpoints (relative: under the project root): which paths the
    # moved routes cover, the identity bridge and the backends' timeouts.
    routes: Text = "router/routes.yaml"
    openapi: Annotated[str, AfterValidator(_url_path)] = "/api/schema/?format=json"  # the schema, on the monolith
    # None: the shadow step's ignore rules (what the plan already accepts as not a difference).
    ignore: list[Annotated[str, AfterValidator(_json_path)]] | None = None
    headers: list[Annotated[str, AfterValidator(_header_name)]] = [
        "content-type", "location", "allow", "www-authenticate", "vary"]
    # Who the requests are sent as: nobody, a user, a staff member, a credential nobody issued, a credential
    # the monolith issued and no longer takes (its user deactivated).
    identities: Annotated[list[Literal["anonymous", "user", "staff", "bad-token", "revoked-token"]],
                          Field(min_length=1)] = ["anonymous", "user", "staff", "bad-token", "revoked-token"]
    # Kinds of difference known and accepted for now, exactly as the check names them
    # ("DELETE /api/catalog/products/{id}/: status 409 vs 204"): still reported, never counted.
    accept: list[Text] = []
    timeout: Seconds = 600.0  # the whole check, start-up included


class CanaryGate(Spec):
    percent: Annotated[float, Field(gt=0, le=100)]
    min_requests: Positive = 50
    max_error_rate: Rate = 0.01
    max_p99_ratio: Seconds = 2.0  # the service's p99 against the monolith's
    timeout: Seconds = 300.0
    poll: Seconds = 1.0


class CutoverSpec(Spec):
    freeze_seconds: Annotated[float, Field(gt=0, le=300)] = 5.0  # the longest write freeze the plan allows
    lease_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0  # the freeze lease's TTL, renewed while working
    max_sync_rounds: Positive = 20
    # Other routes whose writes touch the moved tables through legacy code (a checkout that takes stock):
    # frozen with the moved writes, so no write of the moved tables escapes the final sync.
    also_freeze: list[Name] = []


class HookSection(Spec):
    name: Name
    at: Literal["cutover"]  # the kind of step the hook belongs to
    do: Argv
    undo: Argv
    timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0


GATES: dict[str, type[Spec]] = {"contract": ContractGate, "shadow": ShadowGate, "canary": CanaryGate,
                                "cutover": CutoverSpec}
SIMPLE_STEPS = ("provision", "capture", "copy", "sync", "verify", "decommission")
STEP_ORDER = ("provision", "capture", "copy", "sync", "verify", "contract", "shadow", "canary", "cutover",
              "decommission")


@dataclass(frozen=True)
class Step:
    id: str  # unique in the plan: "copy", "canary-10", ...
    kind: str
    spec: Any  # the kind's spec model (ContractGate, ShadowGate, CanaryGate, CutoverSpec), or None


@dataclass(frozen=True)
class Hook:
    """A command a step runs outside the databases and the router, recorded as a sub-step with its undo."""

    name: str
    at: str
    do: tuple[str, ...]
    undo: tuple[str, ...]
    timeout: float


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
