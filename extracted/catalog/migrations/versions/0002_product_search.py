"""Product search index (SQLite): an FTS5 trigram index of name, sku and description, and the ids it lags on.

``products_search`` holds the three columns, tokenised in trigrams (case-folded), so a ``search`` of three or
more characters finds its candidate rows without reading the table; the exact match is still Django's
``icontains`` (``LIKE``) on the candidates, so results are the monolith's to the byte.

Indexing costs ~30 us a row, too much for the data split's bulk copy to pay inline, so the triggers only
record which rows changed (``products_search_stale``, ~2 us a row); the service indexes those in the
background (``extracted/catalog/search.py``) and, until it has, treats them as candidates of every search.

PostgreSQL and MariaDB: nothing (their search stays a scan). SQLite without FTS5 (or older than 3.34, no
trigram tokenizer): nothing either; the service then scans too.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _mark(row: str) -> str:
    # Not INSERT OR IGNORE: the policy of the statement that fires the trigger overrides the trigger's own (an
    # upsert's is ABORT), so a second mark of one id must not be a conflict at all.
    return (f"INSERT INTO products_search_stale (id) SELECT {row}.id "
            f"WHERE NOT EXISTS (SELECT 1 FROM products_search_stale WHERE id = {row}.id); ")


STATEMENTS = [
    "CREATE VIRTUAL TABLE products_search USING fts5(name, sku, description, tokenize='trigram')",
    "CREATE TABLE products_search_stale (id INTEGER PRIMARY KEY)",
    f"CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN {_mark('new')}END",
    "CREATE TRIGGER products_search_update AFTER UPDATE OF id, name, sku, description ON products BEGIN "
    f"{_mark('old')}{_mark('new')}END",
    f"CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN {_mark('old')}END",
    # Rows already there (a database upgraded in place) are indexed now.
    "INSERT INTO products_search (rowid, name, sku, description) SELECT id, name, sku, description FROM products",
]


def _fts5_trigram(bind: Connection) -> bool:
    if bind.dialect.name != "sqlite":
        return False
    text = str(bind.exec_driver_sql("SELECT sqlite_version()").scalar())
    version = tuple(int(part) for part in text.split("."))
    return version >= (3, 34) and bool(bind.exec_driver_sql("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
                                       .scalar())


def upgrade() -> None:
    if not _fts5_trigram(op.get_bind()):
        return
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in ("products_search_insert", "products_search_update", "products_search_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS products_search_stale")
    op.execute("DROP TABLE IF EXISTS products_search")
