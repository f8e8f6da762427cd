"""Scratch copies of the databases: the contract check never writes to a real one.

The monolith's database is copied as it is at one moment (SQLite: the online backup API, consistent while the
monolith keeps writing; PostgreSQL: ``CREATE DATABASE ... TEMPLATE``, or ``pg_dump | pg_restore`` when the
real database has other sessions, which TEMPLATE refuses). The service's scratch database is made empty, of the
kind the plan's service database is, and filled by the plan's own data split from the monolith's copy, so both
sides hold the same data.

Both kinds of copy can be put back to how they were after every write, while the servers keep their
connections, which is what makes a generated write repeatable and so shrinkable:

- SQLite (``restore``): the backup API from a pristine copy into the live file;
- PostgreSQL (:class:`PgReset`): at ``snapshot`` every table's rows are copied into a schema of the check's
  own (``strangler_contract_pristine``), every sequence's position is noted, and a statement-level trigger on
  every table notes which tables a statement changed (the capture and guard triggers' writes included);
  ``restore`` then, in one transaction with triggers and foreign-key checks off (``session_replication_role =
  replica``, which needs a superuser), deletes and re-inserts the rows of the changed tables only and puts
  every sequence back. A few milliseconds for a write that touched a few small tables. Without a superuser
  the copy cannot be reset and the check sends safe methods only, saying why.

MariaDB copies are not reset; there the check sends safe methods only, and says so.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from strangler.contract.exceptions import ContractError

SCRATCH_PREFIX = "strangler_contract_"
PRISTINE = "strangler_contract_pristine"  # the schema holding a PostgreSQL copy's pristine rows


@dataclass
class ScratchDatabase:
    """A database the check owns: ``url`` (SQLAlchemy form), ``django_name`` (Django's ``NAME``)."""

    kind: str  # sqlite, postgresql, mysql
    url: str
    django_name: str
    _pristine: Path | None = None
    _pg: PgReset | None = None
    reset_problem: str | None = None  # why this copy cannot be reset (then: safe methods only)

    @property
    def resettable(self) -> bool:
        return self.kind in ("sqlite", "postgresql") and self.reset_problem is None

    def snapshot(self) -> None:
        """Remembers the current content; ``restore`` goes back to it. A copy that cannot be reset gets a
        ``reset_problem`` (and ``resettable`` is False) instead of an error."""
        if self.kind == "sqlite":
            self._pristine = Path(self.django_name + ".pristine")
            _sqlite_backup(Path(self.django_name), self._pristine)
        elif self.kind == "postgresql":
            self._pg = PgReset(self.url)
            self.reset_problem = self._pg.snapshot()
            if self.reset_problem is not None:
                self._pg.close()
                self._pg = None
        else:
            self.reset_problem = f"{self.kind} copies are not reset between requests"

    def restore(self) -> None:
        if self._pg is not None:
            self._pg.restore()
            return
        if self._pristine is None:
            raise ContractError("restore() before snapshot()")
        _sqlite_backup(self._pristine, Path(self.django_name))

    def drop(self) -> None:
        if self._pg is not None:
            self._pg.close()
            self._pg = None
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm", ".pristine"):
                Path(self.django_name + suffix).unlink(missing_ok=True)
            return
        parsed = sa.make_url(self.url)
        name = parsed.database or ""
        if not name.startswith(SCRATCH_PREFIX):  # never drop anything the check did not make
            raise ContractError(f"refusing to drop {name!r}: not a scratch database of the contract check")
        from strangler.datasplit.engines import open_engine

        engine = open_engine(parsed, "scratch")
        try:
            engine.drop()
        finally:
            engine.dispose()


def _sqlite_backup(source: Path, target: Path) -> None:
    # The backup API copies a consistent snapshot page by page, taking the locks it needs: the monolith may
    # write meanwhile, and a target that servers have open sees the new content at their next transaction.
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def copy_django_database(settings: dict[str, Any], workdir: Path) -> ScratchDatabase:
    """A copy of the Django database described by ``settings`` (``connections[alias].settings_dict``)."""
    engine = str(settings.get("ENGINE", "")).rsplit(".", 1)[-1]
    if engine == "sqlite3":
        source = Path(str(settings["NAME"]))
        if not source.exists():
            raise ContractError(f"the monolith's database {source} does not exist (nothing to copy)")
        target = workdir / "monolith.sqlite3"
        _sqlite_backup(source, target)
        return ScratchDatabase("sqlite", f"sqlite:///{target}", str(target))
    if engine in ("postgresql", "postgis"):
        return _copy_postgresql(settings)
    raise ContractError(f"the contract check copies SQLite and PostgreSQL databases; the monolith's ENGINE is "
                        f"{settings.get('ENGINE')!r}")


def _pg_url(settings: dict[str, Any], database: str) -> sa.URL:
    port = int(settings["PORT"]) if settings.get("PORT") else None
    return sa.URL.create("postgresql+psycopg", username=settings.get("USER") or None,
                         password=settings.get("PASSWORD") or None, host=settings.get("HOST") or None, port=port,
                         database=database)


def _copy_postgresql(settings: dict[str, Any]) -> ScratchDatabase:
    import psycopg

    source = str(settings["NAME"])
    name = SCRATCH_PREFIX + uuid.uuid4().hex[:12]
    admin = _pg_url(settings, "postgres").render_as_string(hide_password=False).replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        try:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        except psycopg.errors.ObjectInUse:
            # TEMPLATE needs the source to itself: a running monolith keeps sessions open. pg_dump takes a
            # consistent snapshot without stopping anyone.
            conn.execute(f'CREATE DATABASE "{name}"')
            _pg_dump_restore(settings, source, name)
    url = _pg_url(settings, name).render_as_string(hide_password=False)
    return ScratchDatabase("postgresql", url, name)


def _pg_dump_restore(settings: dict[str, Any], source: str, target: str) -> None:
    dump, restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    if not dump or not restore:
        raise ContractError(f"the monolith's database {source!r} is in use, so CREATE DATABASE ... TEMPLATE is "
                            "refused, and pg_dump/pg_restore are not on PATH to copy it instead")
    common: list[str] = []
    if settings.get("HOST"):
        common += ["--host", str(settings["HOST"])]
    if settings.get("PORT"):
        common += ["--port", str(settings["PORT"])]
    if settings.get("USER"):
        common += ["--username", str(settings["USER"])]
    env = {"PGPASSWORD": str(settings["PASSWORD"])} if settings.get("PASSWORD") else {}
    full_env = {**os.environ, **env}
    with subprocess.Popen([dump, *common, "--format=custom", "--no-owner", source],  # noqa: S603
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env) as dumping:
        restored = subprocess.run([restore, *common, "--no-owner", "--dbname", target],  # noqa: S603
                                  stdin=dumping.stdout, capture_output=True, env=full_env, timeout=1800)
        dumping.wait(timeout=60)
        error = dumping.stderr.read().decode(errors="replace") if dumping.stderr else ""
    if dumping.returncode != 0 or restored.returncode != 0:
        raise ContractError(f"copying {source!r} with pg_dump | pg_restore failed: "
                            f"{error.strip() or restored.stderr.decode(errors='replace').strip()}")


def new_database_like(url: str, workdir: Path, name: str) -> ScratchDatabase:
    """An empty scratch database of the kind (and on the server) of ``url``: the service's copy."""
    parsed = sa.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = workdir / f"{name}.sqlite3"
        return ScratchDatabase("sqlite", f"sqlite:///{path}", str(path))
    if backend in ("postgresql", "mysql", "mariadb"):
        scratch = SCRATCH_PREFIX + uuid.uuid4().hex[:12]
        made = parsed.set(database=scratch).render_as_string(hide_password=False)
        return ScratchDatabase("postgresql" if backend == "postgresql" else "mysql", made, scratch)
    raise ContractError(f"the service's database {parsed.render_as_string()} is of a kind the contract check "
                        "cannot copy (SQLite, PostgreSQL, MariaDB/MySQL)")


def _ident(*parts: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


class PgReset:
    """Puts a PostgreSQL scratch database back to its snapshot, table by changed table (see the module's text).

    Statements are built from the catalog's own table, column and sequence names, quoted (``_ident``)."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn: Any = None
        self.tables: dict[str, tuple[str, str]] = {}  # regclass text -> (insert statement, delete statement)
        self.sequences: list[tuple[str, int, bool]] = []

    def snapshot(self) -> str | None:
        import psycopg

        self.conn = psycopg.connect(self.url, autocommit=True)
        conn = self.conn
        if not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            return (f"PostgreSQL user {conn.info.user!r} is not a superuser: the copy's foreign keys and triggers "
                    "cannot be set aside to reset it")
        tables = conn.execute(
            "SELECT c.oid::regclass::text, n.nspname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN "
            "('pg_catalog', 'information_schema', %s) AND n.nspname NOT LIKE 'pg\\_%%' ORDER BY c.oid",
            (PRISTINE,)).fetchall()
        with conn.transaction():
            conn.execute(f"CREATE SCHEMA {_ident(PRISTINE)}")
            conn.execute(f"CREATE TABLE {_ident(PRISTINE, 'changed')} (rel text PRIMARY KEY)")
            changed = _ident(PRISTINE, "changed")
            mark = (f"CREATE FUNCTION {_ident(PRISTINE, 'mark')}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
                    f"INSERT INTO {changed} VALUES (TG_RELID::regclass::text) ON CONFLICT DO NOTHING; "
                    "RETURN NULL; END $$")
            conn.execute(mark)
            for index, (regclass, schema, name) in enumerate(tables):
                columns = [row[0] for row in conn.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                    "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum", (regclass,))]
                copy = _ident(PRISTINE, f"t{index}")
                cols = ", ".join(_ident(c) for c in columns)
                table = _ident(schema, name)
                conn.execute(f"CREATE TABLE {copy} AS SELECT {cols} FROM {table}")  # noqa: S608
                conn.execute(f"CREATE TRIGGER strangler_contract_changed AFTER INSERT OR UPDATE OR DELETE OR "
                             f"TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {_ident(PRISTINE, 'mark')}()")
                insert = f"INSERT INTO {table} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {copy}"  # noqa: S608
                self.tables[regclass] = (insert, f"DELETE FROM {table}")  # noqa: S608
            for schema, name in conn.execute(
                    "SELECT schemaname, sequencename FROM pg_sequences WHERE schemaname <> %s", (PRISTINE,)):
                position = f"SELECT last_value, is_called FROM {_ident(schema, name)}"  # noqa: S608
                last, called = conn.execute(position).fetchone()
                self.sequences.append((f"{schema}.{name}", int(last), bool(called)))
        return None

    def restore(self) -> None:
        conn = self.conn
        if conn is None:
            raise ContractError("restore() before snapshot()")
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")  # no triggers, no foreign-key checks
            taken = f"DELETE FROM {_ident(PRISTINE, 'changed')} RETURNING rel"  # noqa: S608
            changed = [row[0] for row in conn.execute(taken)]
            for regclass in changed:
                insert, delete = self.tables.get(regclass, (None, None))
                if insert is None or delete is None:
                    continue  # a table made after the snapshot: nothing to put back
                conn.execute(delete)
                conn.execute(insert)
            if self.sequences:
                conn.execute("SELECT " + ", ".join("setval(%s::regclass, %s, %s)" for _ in self.sequences),
                             [value for sequence in self.sequences for value in sequence])

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
