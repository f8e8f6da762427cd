"""A world for the snapshot tables' tests: a monolith database of the test's own and a service database, both of
one kind (SQLite files, or fresh PostgreSQL or MariaDB databases), and a plan with one table the service takes
over (``billing_invoice`` -> ``invoices``) and one it only reads (``shipping_parcel`` -> ``parcels``,
``snapshot: true``: shipping, which stays in the monolith, keeps writing it).

Nothing here knows a shop: the tables are the test's, made by its own DDL and its own Alembic revision."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from strangler.datasplit.engines import Engine, open_engine

from .conftest import drop, fresh_url

PLAN_NAME = "billing"
INVOICES = ("billing_invoice", "invoices")  # (the monolith's name, the service's)
PARCELS = ("shipping_parcel", "parcels")
ROWS = 8

SERVICE_ENV = '''from alembic import context

config = context.config
context.configure(connection=config.attributes["connection"], version_table=config.get_main_option("version_table"))
with context.begin_transaction():
    context.run_migrations()
'''
SERVICE_REVISION = '''"""The billing service's tables: its invoices, and a snapshot of the monolith's parcels."""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("invoices", sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
                    sa.Column("customer", sa.String(40), nullable=False),
                    sa.Column("amount", sa.Integer(), nullable=False),
                    sa.Column("status", sa.String(40), nullable=False))
    op.create_table("parcels", sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
                    sa.Column("invoice_id", sa.Integer(), nullable=False),
                    sa.Column("carrier", sa.String(20), nullable=False),
                    sa.Column("status", sa.String(40), nullable=False))


def downgrade():
    op.drop_table("parcels")
    op.drop_table("invoices")
'''
MONOLITH_DDL = (
    "CREATE TABLE billing_invoice (id integer NOT NULL PRIMARY KEY, customer varchar(40) NOT NULL, "
    "amount integer NOT NULL, status varchar(40) NOT NULL)",
    "CREATE TABLE shipping_parcel (id integer NOT NULL PRIMARY KEY, invoice_id integer NOT NULL, "
    "carrier varchar(20) NOT NULL, status varchar(40) NOT NULL)",
)


def run(engine: Engine, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """``statement`` as an application runs it (not the sync): "quoted" names and ? marks, whatever the kind."""
    if engine.kind == "mysql":
        statement = statement.replace('"', "`")
    conn = engine.connect(autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(statement.replace("?", engine.param), params or [])
        return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


@dataclass
class World:
    kind: str
    tmp: Path
    monolith_url: str
    service_url: str
    migrations: Path
    monolith: Engine
    service: Engine

    def mono(self, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return run(self.monolith, statement, params)

    def svc(self, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return run(self.service, statement, params)

    def parcels(self, side: str) -> list[tuple[Any, ...]]:
        """Every parcel row on one side, in key order."""
        if side == "monolith":
            return [tuple(r) for r in self.mono('SELECT "id", "invoice_id", "carrier", "status" FROM '
                                                '"shipping_parcel" ORDER BY "id"')]
        return [tuple(r) for r in self.svc('SELECT "id", "invoice_id", "carrier", "status" FROM "parcels" '
                                           'ORDER BY "id"')]

    def invoices(self, side: str) -> list[tuple[Any, ...]]:
        """Every invoice row on one side, in key order."""
        if side == "monolith":
            return [tuple(r) for r in self.mono('SELECT "id", "customer", "amount", "status" FROM '
                                                '"billing_invoice" ORDER BY "id"')]
        return [tuple(r) for r in self.svc('SELECT "id", "customer", "amount", "status" FROM "invoices" '
                                           'ORDER BY "id"')]

    def plan_doc(self, *, snapshot: bool = True, steps: list[Any] | None = None, router: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": PLAN_NAME,
            "service": {"name": "billing", "database_url_env": f"STRANGLER_TEST_UNSET_{uuid.uuid4().hex[:8].upper()}",
                        "default_database_url": self.service_url, "migrations": str(self.migrations),
                        "version_table": "alembic_version_billing", "url": "http://127.0.0.1:9"},
            "source": {"url": self.monolith_url},
            "tables": [{"source": INVOICES[0], "target": INVOICES[1], "key": "id"},
                       {"source": PARCELS[0], "target": PARCELS[1], "key": "id", "snapshot": snapshot}],
        }
        if steps is not None:
            doc["router"] = router or {"service_backend": "billing"}
            doc["endpoints"] = {"reads": "billing-reads", "writes": "billing-writes"}
            doc["steps"] = steps
        return doc

    def write_plan(self, name: str = "plan.yaml", **changes: Any) -> Path:
        path = self.tmp / name
        path.write_text(yaml.safe_dump(self.plan_doc(**changes), sort_keys=False), encoding="utf-8")
        return path


def _migrations(tmp: Path) -> Path:
    where = tmp / "migrations"
    (where / "versions").mkdir(parents=True, exist_ok=True)
    (where / "env.py").write_text(SERVICE_ENV)
    (where / "versions" / "0001_billing.py").write_text(SERVICE_REVISION)
    return where


@contextmanager
def make_world(kind: str, tmp: Path) -> Iterator[World]:
    """Both databases made (the monolith seeded with :data:`ROWS` invoices and a parcel each), dropped after."""
    monolith_url, service_url = fresh_url(kind, tmp, "monolith"), fresh_url(kind, tmp, "service")
    monolith = open_engine(monolith_url, "monolith")
    service = open_engine(service_url, "service")
    try:
        monolith.create()
        suffix = " ENGINE=InnoDB" if kind == "mysql" else ""
        for ddl in MONOLITH_DDL:
            run(monolith, ddl + suffix)
        for i in range(1, ROWS + 1):
            run(monolith, "INSERT INTO billing_invoice VALUES (?, ?, ?, ?)", [i, f"customer {i}", i * 100, "open"])
            run(monolith, "INSERT INTO shipping_parcel VALUES (?, ?, ?, ?)", [i, i, "post", "pending"])
        yield World(kind, tmp, monolith_url, service_url, _migrations(tmp), monolith, service)
    finally:
        monolith.dispose()
        service.dispose()
        for url in (monolith_url, service_url):
            drop(url)
