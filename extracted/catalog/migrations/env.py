"""Alembic environment of the catalog service (its own version table: ``alembic_version_catalog``).

The database comes from, in order: a connection passed in ``config.attributes["connection"]`` (the data
split), the ``sqlalchemy.url`` option, then ``CATALOG_DATABASE_URL``. SQLite runs in batch mode, so later ALTERs work there too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from extracted.catalog.db import make_engine
from extracted.catalog.models import Base

VERSION_TABLE = "alembic_version_catalog"
config = context.config


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """What autogenerate compares: every table but those the models leave to SQL of their own (the name prefixes in
    ``Base.metadata.info["not_modelled"]``: a search index's tables, say)."""
    return not (type_ == "table" and (name or "").startswith(tuple(Base.metadata.info.get("not_modelled", ()))))


def _configure(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                      include_object=include_object)
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
    url = config.get_main_option("sqlalchemy.url") or "sqlite:///catalog.sqlite3"
    context.configure(url=url, target_metadata=Base.metadata, version_table=VERSION_TABLE, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
