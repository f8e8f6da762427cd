"""``contract_env``: what the cases printed by ``strangler contract`` run against (test_corpus.py).

A seeded shop's database, copied like the check copies it, the monolith and the catalog service started on the
copies behind their routers (``strangler.contract.testing.ContractEnv``, the plan's own settings and rules),
once per module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from strangler.contract.testing import ContractEnv
from tests.support.servers import ROOT, running_shop

PLAN = ROOT / "migration_plans" / "catalog.yaml"


def django_settings(database_url: str) -> dict[str, Any]:
    """The Django DATABASES entry of a database URL (what the check copies)."""
    import dj_database_url

    parsed: dict[str, Any] = dict(dj_database_url.parse(database_url))
    return {k: v for k, v in parsed.items() if k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")}


def service_database_kind(shop_database_url: str) -> str:
    """A URL of the kind (and server) the service's scratch database is made like: the shop's kind, so the
    PostgreSQL pass runs both sides on PostgreSQL (the check makes a database of its own there)."""
    if shop_database_url.startswith(("postgres://", "postgresql://")):
        return shop_database_url.rsplit("/", 1)[0] + "/catalog"
    return "sqlite:///catalog.sqlite3"


@pytest.fixture(scope="module")
def contract_env(tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any) -> Iterator[ContractEnv]:
    base = tmp_path_factory.mktemp("contract-corpus")
    with running_shop(base, seed_args=("--products", "120", "--users", "3", "--orders", "5")) as shop:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CATALOG_DATABASE_URL", service_database_kind(shop.database_url))
            with django_db_blocker.unblock(), ContractEnv(PLAN, source_settings=django_settings(shop.database_url)
                                                          ) as env:
                yield env
