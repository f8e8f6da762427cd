"""The data-split part of a migration plan: loading, schema checking, and the reverse mapping.

A plan is a YAML file (``migration_plans/<name>.yaml``). The data split reads these keys; any other top-level
key (steps, gates, ... added by the plans issue) is left to its owner::

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
      changelog_table: strangler_changelog         # in the source (reverse: in the service) database
      checkpoint_table: strangler_checkpoint       # in the target (reverse: in the monolith) database
    tables:                                        # in copy order: parents before children
      - source: catalog_product
        target: products
        key: id                                    # single-column primary key (source side)
        columns: {id: id, price: price}            # source -> target; omitted: every source column, same name
        plain_ids: [category_id]                   # cross-service foreign keys copied as plain ids
        decimal_places: {price: 2}                 # only where neither database declares the scale

Structure errors are :class:`PlanError` naming the file and the field; errors against the databases come from
:mod:`strangler.datasplit.validation`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .exceptions import PlanError

DEFAULTS = {
    "batch_size": 20000,
    "chunk_size": 20000,
    "changelog_table": "strangler_changelog",
    "checkpoint_table": "strangler_checkpoint",
}
IDENTIFIER_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@dataclass(frozen=True)
class TableMap:
    index: int                      # position in the file's `tables` list (for error messages)
    source: str
    target: str
    key: str                        # key column on the source side
    columns: tuple[tuple[str, str], ...] | None   # (source, target); None: every source column, same name
    plain_ids: tuple[str, ...] = ()
    decimal_places: dict[str, int] = field(default_factory=dict)   # by source column name

    @property
    def target_key(self) -> str:
        for src, tgt in self.columns or ():
            if src == self.key:
                return tgt
        return self.key

    def inverted(self) -> TableMap:
        cols = tuple((t, s) for s, t in self.columns) if self.columns is not None else None
        places = {dict(self.columns or ()).get(c, c): n for c, n in self.decimal_places.items()}
        plain = tuple(dict(self.columns or ()).get(c, c) for c in self.plain_ids)
        return TableMap(self.index, self.target, self.source, self.target_key, cols, plain, places)


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
    changelog_table: str
    checkpoint_table: str
    reverse: bool = False

    @property
    def state_name(self) -> str:
        """The key of this plan's rows in the checkpoint table (reverse runs keep their own)."""
        return f"{self.name}:reverse" if self.reverse else self.name

    def reversed(self) -> Plan:
        """The same split from the service back to the monolith: tables inverted, same copy order."""
        return replace(self, tables=tuple(t.inverted() for t in self.tables), reverse=not self.reverse)

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


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, fld: str, message: str) -> PlanError:
        return PlanError(self.path, fld, message)

    def mapping(self, value: Any, fld: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(fld, f"expected a mapping, got {_show(value)}")
        return value

    def strict(self, value: Any, fld: str, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
        data = self.mapping(value, fld)
        for key in data:
            if key not in allowed:
                raise self.fail(f"{fld}.{key}" if fld else str(key),
                                f"unknown field (expected one of: {', '.join(sorted(allowed))})")
        for key in sorted(required):
            if key not in data:
                raise self.fail(f"{fld}.{key}" if fld else key, "missing (required)")
        return data

    def string(self, data: dict[str, Any], key: str, fld: str, *, ident: bool = False,
               optional: bool = False) -> str | None:
        value = data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(f"{fld}.{key}" if fld else key, f"expected a non-empty string, got {_show(value)}")
        if ident and not set(value) <= IDENTIFIER_CHARS:
            raise self.fail(f"{fld}.{key}" if fld else key,
                            f"{value!r} is not a plain identifier (letters, digits, underscore)")
        return value

    def ident(self, value: Any, fld: str) -> str:
        if not isinstance(value, str) or not value or not set(value) <= IDENTIFIER_CHARS:
            raise self.fail(fld, f"expected a plain identifier (letters, digits, underscore), got {_show(value)}")
        return value

    def positive(self, data: dict[str, Any], key: str, fld: str) -> int:
        value = data.get(key, DEFAULTS[key])
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(f"{fld}.{key}", f"expected a positive integer, got {_show(value)}")
        return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_plan(path: str | Path, *, root: Path | None = None) -> Plan:
    """Read and structurally check a plan. ``root``: where relative paths point (default: the project root)."""
    shown = str(path)
    r = _Reader(shown)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(shown, "", f"cannot read the plan: {exc.strerror or exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PlanError(shown, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    doc = r.mapping(doc, "")
    root = root or project_root()

    name = r.string(doc, "name", "", ident=True)
    # start/url/health belong to the plan executor (strangler/plans), which runs the service.
    svc = r.strict(doc.get("service"), "service",
                   {"name", "database_url_env", "default_database_url", "migrations", "version_table", "start", "url",
                    "health"}, {"name"})
    migrations = r.string(svc, "migrations", "service", optional=True)
    service = ServiceSpec(
        name=r.string(svc, "name", "service") or "",
        database_url_env=r.string(svc, "database_url_env", "service", optional=True),
        default_database_url=r.string(svc, "default_database_url", "service", optional=True),
        migrations=(root / migrations) if migrations else None,
        version_table=r.string(svc, "version_table", "service", ident=True, optional=True) or "alembic_version",
    )
    if not service.database_url_env and not service.default_database_url:
        raise r.fail("service", "needs database_url_env or default_database_url")
    src = r.strict(doc.get("source", {"database": "default"}), "source", {"database", "url", "url_env"})
    if len([k for k in ("database", "url", "url_env") if src.get(k)]) != 1:
        raise r.fail("source", "give exactly one of database (a Django alias), url or url_env")
    source = SourceSpec(database=r.string(src, "database", "source", optional=True),
                        url=r.string(src, "url", "source", optional=True),
                        url_env=r.string(src, "url_env", "source", optional=True))
    opts = r.strict(doc.get("datasplit", {}) or {}, "datasplit", set(DEFAULTS))
    tables_raw = doc.get("tables")
    if not isinstance(tables_raw, list) or not tables_raw:
        raise r.fail("tables", f"expected a non-empty list of tables, got {_show(tables_raw)}")
    tables = tuple(_table(r, i, raw) for i, raw in enumerate(tables_raw))
    seen: dict[str, int] = {}
    for t in tables:
        for side, value in (("source", t.source), ("target", t.target)):
            k = f"{side}:{value}"
            if k in seen:
                raise r.fail(f"tables[{t.index}].{side}", f"{value!r} is already mapped by tables[{seen[k]}]")
            seen[k] = t.index
    return Plan(
        path=shown, root=root, name=name or "", service=service, source=source, tables=tables,
        batch_size=r.positive(opts, "batch_size", "datasplit"), chunk_size=r.positive(opts, "chunk_size", "datasplit"),
        changelog_table=r.ident(opts.get("changelog_table", DEFAULTS["changelog_table"]), "datasplit.changelog_table"),
        checkpoint_table=r.ident(opts.get("checkpoint_table", DEFAULTS["checkpoint_table"]),
                                 "datasplit.checkpoint_table"),
    )


def _table(r: _Reader, i: int, raw: Any) -> TableMap:
    fld = f"tables[{i}]"
    data = r.strict(raw, fld, {"source", "target", "key", "columns", "plain_ids", "decimal_places"}, {"source"})
    source = r.ident(data.get("source"), f"{fld}.source")
    target = r.ident(data.get("target", source), f"{fld}.target")
    key = data.get("key", "id")
    if isinstance(key, list):
        raise r.fail(f"{fld}.key", f"composite keys are not supported yet (got {_show(key)}); give one column")
    key = r.ident(key, f"{fld}.key")
    columns: tuple[tuple[str, str], ...] | None = None
    if "columns" in data:
        cols = r.mapping(data["columns"], f"{fld}.columns")
        if not cols:
            raise r.fail(f"{fld}.columns", "empty: omit it to copy every column under the same name")
        columns = tuple((r.ident(s, f"{fld}.columns.{s}"), r.ident(t, f"{fld}.columns.{s}")) for s, t in cols.items())
        targets = [t for _, t in columns]
        for s, t in columns:
            if targets.count(t) > 1:
                raise r.fail(f"{fld}.columns.{s}", f"target column {t!r} is mapped more than once")
        if key not in dict(columns):
            raise r.fail(f"{fld}.key", f"the key {key!r} is not among the mapped columns ({', '.join(dict(columns))})")
    plain = data.get("plain_ids", []) or []
    if not isinstance(plain, list):
        raise r.fail(f"{fld}.plain_ids", f"expected a list of column names, got {_show(plain)}")
    plain_ids = tuple(r.ident(c, f"{fld}.plain_ids[{j}]") for j, c in enumerate(plain))
    places_raw = r.mapping(data.get("decimal_places", {}) or {}, f"{fld}.decimal_places")
    places: dict[str, int] = {}
    for c, n in places_raw.items():
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 30:
            raise r.fail(f"{fld}.decimal_places.{c}", f"expected an integer 0..30, got {_show(n)}")
        places[r.ident(c, f"{fld}.decimal_places.{c}")] = n
    return TableMap(i, source, target, key, columns, plain_ids, places)


def project_root() -> Path:
    """Django's ``BASE_DIR`` when the project defines one, else the current directory."""
    try:
        from django.conf import settings

        base = getattr(settings, "BASE_DIR", None) if settings.configured else None
    except ImportError:  # pragma: no cover - strangler always runs inside Django
        base = None
    return Path(base) if base else Path.cwd()
