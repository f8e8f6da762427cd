"""MariaDB / MySQL: LOAD DATA LOCAL INFILE into a temporary staging table, then INSERT ... ON DUPLICATE KEY.

Sessions run in UTC (``time_zone = '+00:00'``), strict mode, and ``NO_AUTO_VALUE_ON_ZERO`` (a copied key 0
stays 0). Every statement is sent with a parameter list, so a literal ``%`` is written ``%%``.

Commit order of the changelog: AUTO_INCREMENT ids are taken at insert time. :meth:`changelog_barrier` takes
``LOCK TABLES <changelog> WRITE`` for an instant, which waits for every open transaction that has written to
the changelog (they hold its metadata lock until they end); the max id read then has nothing in flight below.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar

import pymysql

from ..bindings import Binding
from ..columns import Column
from ..exceptions import DatabaseError
from .base import Engine
from .checksums import RS
from .rows import KeyRange
from .schema import ROW_EVENTS, Namer

UTC = timezone.utc  # datetime.UTC is 3.11+

SESSION = ("SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,"
           "NO_ENGINE_SUBSTITUTION', group_concat_max_len = 4294967295, lock_wait_timeout = 60")


class MySQLEngine(Engine):
    kind: ClassVar[str] = "mysql"
    int_cast: ClassVar[str] = "SIGNED"
    float_type: ClassVar[str] = "DOUBLE"
    # The changelog identities and the guard table are transactional whatever the server's default storage
    # engine (the checkpoint table is created without it, as it always was).
    table_options: ClassVar[str] = " ENGINE=InnoDB"

    def q(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def literal(self, text: str) -> str:
        # Every statement is sent with a parameter list, so pymysql %-formats it: a literal % is written %%.
        return super().literal(text).replace("%", "%%")

    def upsert_clause(self, keys: Sequence[str], columns: Sequence[str]) -> str:
        rest = [c for c in columns if c not in keys] or list(keys)
        return "ON DUPLICATE KEY UPDATE " + ", ".join(f"{self.q(c)} = VALUES({self.q(c)})" for c in rest)

    # -- keys --------------------------------------------------------------------------------------------
    # MariaDB answers a row-value comparison ``(a, b) > (?, ?)`` without the key's index (a scan from the
    # table's start on every batch): a composite key's bound is spelt out column by column instead.
    def key_compare(self, b: Binding, op: str, key: Any, prefix: str = "") -> tuple[str, list[Any]]:
        if not b.composite:
            return super().key_compare(b, op, key, prefix)
        return self.expanded_compare(b, op, key, prefix)

    # A one-column key is logged as it always was, a composite one as a JSON array (MariaDB's JSON_ARRAY text).
    def key_json(self, b: Binding, row: str) -> str:
        if not b.composite:
            return f"{row}.{self.q(b.keys[0])}"
        return f"JSON_ARRAY({', '.join(f'{row}.{self.q(k)}' for k in b.keys)})"

    def key_changed(self, b: Binding) -> str:
        return "NOT (" + " AND ".join(f"OLD.{self.q(k)} <=> NEW.{self.q(k)}" for k in b.keys) + ")"

    def json_item(self, column: str, i: int) -> str:
        return f"JSON_UNQUOTE(JSON_EXTRACT({column}, '$[{i}]'))"

    def _connect(self, database: str | None, autocommit: bool) -> pymysql.Connection[Any]:
        u = self.url
        try:
            conn = pymysql.connect(host=u.host or "127.0.0.1", port=u.port or 3306, user=u.username or "root",
                                   password=u.password or "", database=database, charset="utf8mb4",
                                   local_infile=True, autocommit=autocommit, connect_timeout=10)
        except pymysql.Error as exc:
            raise DatabaseError(f"{self.label} database {self.display}: {exc}") from exc
        with conn.cursor() as cur:
            cur.execute(SESSION)
        return conn

    def connect(self, *, autocommit: bool = True) -> pymysql.Connection[Any]:
        return self._connect(self.url.database, autocommit)

    def exists(self) -> bool:
        with self._connect(None, True) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [self.url.database])
            return cur.fetchone() is not None

    def create(self) -> bool:
        if self.exists():
            return False
        with self._connect(None, True) as conn, conn.cursor() as cur:
            # Binary collation: the split must not merge keys that differ only in case or accents.
            cur.execute(f"CREATE DATABASE {self.q(self.url.database or '')} CHARACTER SET utf8mb4 "
                        "COLLATE utf8mb4_bin")
        return True

    def drop(self) -> None:
        with self._connect(None, True) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {self.q(self.url.database or '')}")

    def begin(self, conn: Any) -> None:
        conn.begin()

    def prepare_writer(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute("SET SESSION foreign_key_checks = 0")
            cur.execute("SET @strangler_writer = 'sync'")  # the ownership guard lets this session write

    def table_exists(self, conn: Any, table: str) -> bool:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND "
                        "table_name = %s", [table])
            return cur.fetchone() is not None

    # A trigger takes one event: a set is one trigger an event, named with the event's suffix.
    def drop_triggers(self, conn: Any, table: str, name: Namer) -> None:
        with conn.cursor() as cur:
            for suffix, _ in ROW_EVENTS:
                cur.execute(f"DROP TRIGGER IF EXISTS {self.q(name(suffix))}", [])

    def triggers_exist(self, conn: Any, table: str, name: Namer) -> bool:
        names = [name(suffix) for suffix, _ in ROW_EVENTS]
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND "
                        "event_object_table = %s AND trigger_name IN (%s, %s, %s)", [table, *names])
            return int(cur.fetchone()[0]) == len(names)

    def adapter(self, col: Column) -> Callable[[Any], Any] | None:
        if col.kind == "datetime":
            return lambda v: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v
        if col.kind == "bool":
            return lambda v: int(v) if isinstance(v, bool) else v
        return None

    def _counter(self, conn: Any, b: Binding) -> tuple[str, int] | None:
        """(the key's AUTO_INCREMENT column, the table's next AUTO_INCREMENT value): a table has at most one."""
        marks = ", ".join(["%s"] * len(b.keys))
        with conn.cursor() as cur:
            cur.execute("SELECT c.COLUMN_NAME, c.EXTRA, t.AUTO_INCREMENT FROM information_schema.columns c JOIN "
                        "information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = "
                        "c.table_name WHERE c.table_schema = DATABASE() AND c.table_name = %s AND c.column_name "
                        f"IN ({marks})", [b.table, *b.keys])
            rows = cur.fetchall()
        for column, extra, value in rows:
            if "auto_increment" in (extra or "").lower() and value is not None:
                return str(column), int(value)
        return None

    def counter_column(self, conn: Any, b: Binding) -> str | None:
        found = self._counter(conn, b)
        return found[0] if found else None

    def next_key(self, conn: Any, b: Binding) -> int | None:
        found = self._counter(conn, b)
        return found[1] if found else None

    def reset_sequence(self, conn: Any, b: Binding, at_least: int = 0) -> None:
        found = self._counter(conn, b)
        if found is None:
            return
        column, current = found
        with conn.cursor() as cur:
            cur.execute(f"SELECT MAX({self.q(column)}) FROM {self.q(b.table)}", [])
            top = cur.fetchone()[0]
            # ALTER ... AUTO_INCREMENT may move the counter back (down to MAX + 1): only ever move it forward.
            want = max(int(top or 0) + 1, at_least)
            if want > current:
                cur.execute(f"ALTER TABLE {self.q(b.table)} AUTO_INCREMENT = {want}", [])

    def load_copy_text(self, conn: Any, b: Binding, text: str) -> None:
        stage = self.q(f"strangler_stage_{b.table}")
        cols = self.names(b.names)
        fd, path = tempfile.mkstemp(prefix="strangler-", suffix=".tsv")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            with conn.cursor() as cur:
                cur.execute(f"DROP TEMPORARY TABLE IF EXISTS {stage}", [])
                cur.execute(f"CREATE TEMPORARY TABLE {stage} ENGINE=InnoDB AS SELECT {cols} FROM {self.q(b.table)} "
                            "LIMIT 0", [])
                cur.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {stage} CHARACTER SET utf8mb4 ({cols})", [path])
                cur.execute(self.upsert_from(b, stage), [])
                cur.execute(f"DROP TEMPORARY TABLE {stage}", [])
        finally:
            os.unlink(path)

    # -- capture -----------------------------------------------------------------------------------------
    def create_changelog(self, conn: Any, changelog: str) -> None:
        # row_key is TEXT: a composite key's JSON array outgrows a VARCHAR(255) key column, and in a strict
        # session a capture trigger's too-long value would fail the application's own write.
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.q(changelog)} (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                        "table_name VARCHAR(128) NOT NULL, row_key TEXT NOT NULL, op CHAR(1) NOT NULL, "
                        "changed_at DOUBLE NOT NULL) ENGINE=InnoDB", [])

    def install_capture(self, conn: Any, changelog: str, b: Binding) -> None:
        cl, t = self.q(changelog), self.q(b.table)
        new, old = self.key_json(b, "NEW"), self.key_json(b, "OLD")
        tname = self.literal(b.table)
        now = "UNIX_TIMESTAMP(NOW(6))"
        ins = f"INSERT INTO {cl} (table_name, row_key, op, changed_at) VALUES ({tname}, "
        self.uninstall_capture(conn, changelog, b.table)
        with conn.cursor() as cur:
            cur.execute(f"CREATE TRIGGER {self.q(self.trigger_name(changelog, b.table, '_i'))} AFTER INSERT ON {t} "
                        f"FOR EACH ROW {ins}{new}, 'I', {now})", [])
            cur.execute(f"CREATE TRIGGER {self.q(self.trigger_name(changelog, b.table, '_u'))} AFTER UPDATE ON {t} "
                        f"FOR EACH ROW BEGIN {ins}{new}, 'U', {now}); IF {self.key_changed(b)} THEN "
                        f"{ins}{old}, 'D', {now}); END IF; END", [])
            cur.execute(f"CREATE TRIGGER {self.q(self.trigger_name(changelog, b.table, '_d'))} AFTER DELETE ON {t} "
                        f"FOR EACH ROW {ins}{old}, 'D', {now})", [])

    def changelog_barrier(self, conn: Any, changelog: str) -> int:
        with conn.cursor() as cur:
            cur.execute(f"LOCK TABLES {self.q(changelog)} WRITE", [])
            try:
                cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.q(changelog)}", [])
                return int(cur.fetchone()[0])
            finally:
                cur.execute("UNLOCK TABLES", [])

    def start_changelog_after(self, conn: Any, changelog: str, last_id: int) -> None:
        if self.changelog_next_id(conn, changelog) <= last_id:
            with conn.cursor() as cur:
                cur.execute(f"ALTER TABLE {self.q(changelog)} AUTO_INCREMENT = {int(last_id) + 1}", [])

    def changelog_next_id(self, conn: Any, changelog: str) -> int:
        with conn.cursor() as cur:
            # The table's AUTO_INCREMENT or the largest id, whichever is larger. (MySQL 8 may serve a cached
            # AUTO_INCREMENT, information_schema_stats_expiry: then an empty log may look restarted, which only
            # makes the next sync read it from its start.)
            cur.execute("SELECT AUTO_INCREMENT FROM information_schema.tables WHERE table_schema = DATABASE() "
                        "AND table_name = %s", [changelog])
            row = cur.fetchone()
            cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.q(changelog)}", [])
            top = int(cur.fetchone()[0])
        return max(int(row[0]) if row and row[0] else 0, top + 1)

    def lock_sync(self, conn: Any, name: str) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 600)", [f"strangler:sync:{name}"[:64]])
            if cur.fetchone()[0] != 1:
                raise DatabaseError(f"{self.label} database {self.display}: another sync of {name} held its lock "
                                    "for 10 minutes")

    # -- ownership guard ---------------------------------------------------------------------------------
    # The sync's connection sets @strangler_writer = 'sync' (prepare_writer); everyone else is refused where
    # this database does not own the table.
    share_lock: ClassVar[str] = " LOCK IN SHARE MODE"

    def install_guard(self, conn: Any, guard: str, plan: str, table: str, side: str) -> None:
        # SIGNAL's MESSAGE_TEXT holds 128 characters.
        message = self.refusal(plan, table, side).replace("'", "").replace("%", "")[:128]
        owner = (f"(SELECT owner FROM {self.q(guard)} WHERE plan = {self.literal(plan)} AND table_name = "
                 f"{self.literal(table)})")
        self.uninstall_guard(conn, plan, table)
        with conn.cursor() as cur:
            for suffix, event in ROW_EVENTS:
                cur.execute(f"CREATE TRIGGER {self.q(self.guard_trigger_name(plan, table, suffix))} BEFORE {event} "
                            f"ON {self.q(table)} FOR EACH ROW BEGIN IF COALESCE(@strangler_writer, '') <> 'sync' "
                            f"AND {owner} <> '{side}' THEN SIGNAL SQLSTATE '25006' SET MYSQL_ERRNO = 1792, "
                            f"MESSAGE_TEXT = '{message}'; "
                            "END IF; END", [])

    # -- checksums ---------------------------------------------------------------------------------------
    def concat(self, parts: Iterable[str]) -> str:
        return "CONCAT(" + ", ".join(parts) + ")"

    md5: ClassVar[str] = "MD5"

    def chunk_digest(self, conn: Any, b: Binding, scales: Sequence[int | None], rng: KeyRange) -> tuple[int, str]:
        cond, params = self.where(b, rng)
        with conn.cursor() as cur:
            keys, order = self.key_aliases(b)
            cur.execute(f"SELECT COUNT(*), MD5(COALESCE(GROUP_CONCAT(r ORDER BY {order} SEPARATOR '{RS}'), '')) "
                        f"FROM (SELECT {keys}, {self.row_expr(b, scales)} AS r FROM {self.q(b.table)} "
                        f"WHERE {cond}) x", params)
            n, digest = cur.fetchone()
        return int(n), str(digest)
