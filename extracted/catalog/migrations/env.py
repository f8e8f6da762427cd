"""Alembic environment of the catalog service (its own version table: ``alembic_version_catalog``).

The database comes from, in order: a connection passed in ``config.attributes["connection"]`` (the
data-split engine and the tests), the ``sqlalchemy.url`` option, then ``CATALOG_DATABASE_URL`` / the default
SQLite file. SQLite runs in batch mode, so later ALTERs work there too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from extracted.catalog.db import make_engine
from extracted.catalog.models import Base

VERSION_TABLE = "alembic_version_catalog"
config = context.config
target_metadata = Base.metadata
# The search index (0002, SQLite's FTS5 and its shadow tables) is SQL of its own, not part of the models.
NOT_MODELLED = "products_search"


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and (name or "").startswith(NOT_MODELLED))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or "sqlite:///catalog.sqlite3"
    context.configure(url=url, target_metadata=target_metadata, version_table=VERSION_TABLE,
                      literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    try:
        with engine.connect() as conn:
            _configure(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
