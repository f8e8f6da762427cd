"""The orders service's Alembic environment, run from code: ``upgrade_head`` to the head, and the startup check
(the service refuses to serve a database that is not at the head, and says which command fixes it). Alembic
is handed the engine's connection, never the URL (whose password would land in its configuration)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from .db import ENV_VAR, make_engine
from .exceptions import NotAtHead

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_orders"
FIX_COMMAND = "python -m extracted.orders migrate"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the orders service has no migrations"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade_head(engine: Engine | None = None) -> tuple[str | None, str]:
    """Brings the database to head; returns (revision before, head)."""
    owned = engine is None
    engine = engine or make_engine()
    try:
        before = current_revision(engine)
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        return before, head_revision()
    finally:
        if owned:
            engine.dispose()


def check_at_head(engine: Engine) -> str:
    """The head revision, or :class:`NotAtHead` saying what is there, what should be, and how to fix it."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        raise NotAtHead(
            f"the orders database ({where}) is at revision {current or '<none: empty database>'}, "
            f"not at the migrations' head {head}; run `{FIX_COMMAND}` (with the same {ENV_VAR}) first"
        )
    return head
