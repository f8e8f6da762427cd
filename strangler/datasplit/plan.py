"""The data-split part of a migration plan: the plan as the engine uses it, and the reverse mapping.

A plan is a YAML file (``migration_plans/<name>.yaml``) whose schema, for every key, is
:mod:`strangler.planfile.model` (one schema for the whole file: unknown keys are errors anywhere, even in the
executor's part). The data split uses these keys::

    name: catalog
    service:
      name: catalog
      database_url_env: CATALOG_DATABASE_URL       # the service's database, as the service reads it
      default_database_url: sqlite:///var/catalog.sqlite3   # relative paths are under the project root
      migrations: extracted/catalog/migrations     # its Alembic script_location
      version_table: alembic_version_catalog
    source:
      database: default                            # a Django DATABASES alias (or `url:` / `url_env:`)
    datasplit:                                     # optional tuning, all keys optional
      batch_size: 20000                            # rows per copy batch (and per transaction)
      chunk_size: 20000                            # rows per verify checksum chunk
      changelog_table: strangler_changelog_catalog # default strangler_changelog_<name>; in the source
                                                   # (reverse: in the service) database
      checkpoint_table: strangler_checkpoint       # in the target (reverse: in the monolith) database
      guard_table: strangler_ownership             # the ownership guard's table, in both databases
    tables:                                        # in copy order: parents before children
      - source: catalog_product
        target: products
        key: id                                    # the key's column (source side); several for a composite
                                                   # key: key: [order_id, line_no]
        columns: {id: id, price: price}            # source -> target; omitted: every source column, same name
        plain_ids: [category_id]                   # cross-service foreign keys copied as plain ids
        decimal_places: {price: 2}                 # only where neither database declares the scale
        snapshot: false                            # true: the monolith keeps owning it (a read-only copy the
                                                   # service reads; synced forward always, never handed over)

Structure errors are :class:`PlanError` naming the file and the field (the first problem; the others follow on
lines of their own); errors against the databases come from :mod:`strangler.datasplit.mapping`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from strangler.planfile.model import PlanFile, PlanFileInvalid, TableSection, key_fields
from strangler.planfile.reader import read_plan_file
from strangler.project import project_root

from .exceptions import PlanError


@dataclass(frozen=True)
class TableMap:
    index: int                      # position in the file's `tables` list (for error messages)
    source: str
    target: str
    keys: tuple[str, ...]           # the key's columns on the source side (several: a composite key)
    columns: tuple[tuple[str, str], ...] | None   # (source, target); None: every source column, same name
    plain_ids: tuple[str, ...] = ()
    decimal_places: dict[str, int] = field(default_factory=dict)   # by source column name
    snapshot: bool = False          # the monolith owns it for good: synced forward only, never handed over

    @property
    def target_keys(self) -> tuple[str, ...]:
        mapped = dict(self.columns or ())
        return tuple(mapped.get(k, k) for k in self.keys)

    def key_fields(self, where: str) -> list[tuple[str, str]]:
        """The key's columns with their key paths in the file (``tables[0].key``, ``tables[0].key[1]``)."""
        return key_fields(where, self.keys)

    def inverted(self) -> TableMap:
        cols = tuple((t, s) for s, t in self.columns) if self.columns is not None else None
        places = {dict(self.columns or ()).get(c, c): n for c, n in self.decimal_places.items()}
        plain = tuple(dict(self.columns or ()).get(c, c) for c in self.plain_ids)
        return TableMap(self.index, self.target, self.source, self.target_keys, cols, plain, places, self.snapshot)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    database_url_env: str | None
    default_database_url: str | None
    migrations: Path | None
    version_table: str


@dataclass(frozen=True)
class SourceSpec:
    database: str | None = None     # Django alias
    url: str | None = None
    url_env: str | None = None


@dataclass(frozen=True)
class Plan:
    path: str                       # as given (for messages)
    root: Path                      # relative paths in the plan are under this directory
    name: str
    service: ServiceSpec
    source: SourceSpec
    tables: tuple[TableMap, ...]
    batch_size: int
    chunk_size: int
    changelog_table: str            # strangler_changelog_<name> unless the plan says otherwise
    checkpoint_table: str
    guard_table: str                # the ownership guard's table (both databases)
    reverse: bool = False

    @property
    def direction(self) -> str:
        """How reports name the way this run goes: "forward" (monolith to service) or "reverse"."""
        return "reverse" if self.reverse else "forward"

    @property
    def state_name(self) -> str:
        """The key of this plan's rows in the checkpoint table (reverse runs keep their own)."""
        return f"{self.name}:reverse" if self.reverse else self.name

    @property
    def snapshots(self) -> tuple[TableMap, ...]:
        """The tables the monolith keeps owning (``snapshot: true``): fed forward, never handed over."""
        return tuple(t for t in self.tables if t.snapshot)

    @property
    def owned(self) -> tuple[TableMap, ...]:
        """The tables that move: ownership passes to the service at the cutover."""
        return tuple(t for t in self.tables if not t.snapshot)

    def reversed(self) -> Plan:
        """The same split from the service back to the monolith: tables inverted, same copy order. Snapshot
        tables have no way back: the reverse split leaves them out (capture, copy, sync, verify, status)."""
        tables = self.tables if self.reverse else self.owned
        return replace(self, tables=tuple(t.inverted() for t in tables), reverse=not self.reverse)

    def service_url(self) -> str:
        """The service database URL: the plan's variable when set, else its default (paths under root)."""
        url = os.environ.get(self.service.database_url_env or "", "") or self.service.default_database_url
        if not url:
            raise PlanError(self.path, "service.database_url_env",
                            f"{self.service.database_url_env or '(none)'} is not set and the plan has no "
                            "service.default_database_url")
        return absolutise_sqlite(url, self.root)


def absolutise_sqlite(url: str, root: Path) -> str:
    """``sqlite:///var/x.sqlite3`` (relative) -> ``sqlite:////<root>/var/x.sqlite3``."""
    scheme, sep, rest = url.partition(":///")
    if sep and scheme.split("+")[0] == "sqlite" and rest and not rest.startswith("/") and rest != ":memory:":
        return f"{scheme}:///{(root / rest).resolve()}"
    return url


def load_plan(path: str | Path, *, root: Path | None = None) -> Plan:
    """Read and check a plan (the whole file: the executor's keys too, if it has them). ``root``: where relative
    paths point (default: the project root)."""
    try:
        doc = read_plan_file(path)
    except PlanFileInvalid as exc:
        raise _error(exc) from None
    return plan_from(doc, root=root)


def _error(exc: PlanFileInvalid) -> PlanError:
    """PlanError names one field; the other problems follow on lines of their own, each naming the file."""
    (field, message), rest = exc.problems[0], exc.lines()[1:]
    return PlanError(exc.path, field, "\n".join([message, *rest]))


def plan_from(doc: PlanFile, *, root: Path | None = None) -> Plan:
    """The data split's plan from a file already read (``plan check`` reads a file once for both views)."""
    root = root or project_root()
    svc = doc.service
    service = ServiceSpec(name=svc.name, database_url_env=svc.database_url_env,
                          default_database_url=svc.default_database_url,
                          migrations=(root / svc.migrations) if svc.migrations else None,
                          version_table=svc.version_table)
    src = doc.source
    return Plan(
        path=str(doc.path), root=root, name=doc.name, service=service,
        source=SourceSpec(database=src.database, url=src.url, url_env=src.url_env),
        tables=tuple(_table(i, t) for i, t in enumerate(doc.tables)),
        batch_size=doc.datasplit.batch_size, chunk_size=doc.datasplit.chunk_size,
        changelog_table=doc.changelog_table, checkpoint_table=doc.datasplit.checkpoint_table,
        guard_table=doc.datasplit.guard_table,
    )


def _table(i: int, t: TableSection) -> TableMap:
    columns = tuple(t.columns.items()) if t.columns is not None else None
    return TableMap(i, t.source, t.target or t.source, tuple(t.key), columns, tuple(t.plain_ids),
                    dict(t.decimal_places), t.snapshot)
