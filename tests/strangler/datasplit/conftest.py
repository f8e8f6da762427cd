"""Databases for the data-split tests: a target of each kind (unique per test, dropped afterwards; PostgreSQL and
MariaDB skip with the reason when no server answers) and plan files pointing at them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
PG_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432")
MYSQL_URL = os.environ.get("TEST_MARIADB_ADMIN_URL", "mysql://root@127.0.0.1:3306")
KINDS = ["sqlite", "postgresql", "mysql"]


def _server_answers(kind: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        if kind == "postgresql":
            import psycopg

            psycopg.connect(f"{PG_URL}/postgres", connect_timeout=3).close()
        elif kind == "mysql":
            import pymysql

            pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        return f"no {kind} server answers ({exc})"
    return None


_answers: dict[str, str | None] = {}


def require(kind: str) -> None:
    if kind not in _answers:
        _answers[kind] = _server_answers(kind)
    if _answers[kind]:
        pytest.skip(_answers[kind])


def fresh_url(kind: str, tmp_path: Path, name: str = "catalog") -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
    db = f"strangler_test_{name}_{uuid.uuid4().hex[:10]}"
    return f"{PG_URL}/{db}" if kind == "postgresql" else f"{MYSQL_URL}/{db}"


def drop(url: str) -> None:
    from strangler.datasplit.engines import open_engine

    engine = open_engine(url, "test")
    try:
        engine.drop()
    finally:
        engine.dispose()


@pytest.fixture(params=KINDS)
def target_kind(request: pytest.FixtureRequest) -> str:
    require(request.param)
    return str(request.param)


@pytest.fixture
def target_url(target_kind: str, tmp_path: Path) -> Iterator[str]:
    url = fresh_url(target_kind, tmp_path)
    try:
        yield url
    finally:
        drop(url)


def write_plan(tmp_path: Path, service_url: str, *, source: dict | None = None, name: str = "plan.yaml",
               tables: list | None = None, migrations: str | Path | None = None) -> Path:
    """The catalog plan with the service database at ``service_url`` (and optionally another source)."""
    doc = yaml.safe_load((ROOT / "migration_plans" / "catalog.yaml").read_text())
    doc["service"]["database_url_env"] = f"STRANGLER_TEST_UNSET_{uuid.uuid4().hex[:8].upper()}"
    doc["service"]["default_database_url"] = service_url
    doc["service"]["migrations"] = str(migrations or ROOT / "extracted" / "catalog" / "migrations")
    if source is not None:
        doc["source"] = source
    if tables is not None:
        doc["tables"] = tables
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
