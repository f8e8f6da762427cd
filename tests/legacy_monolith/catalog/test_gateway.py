"""The catalog gateway: its switch (``manage.py catalog_gateway``), LocalStock, and RemoteStock against the real
catalog service process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from legacy_monolith import switches
from legacy_monolith.catalog import gateway
from legacy_monolith.catalog.gateway import LocalStock, RemoteStock
from legacy_monolith.catalog.models import Product
from legacy_monolith.exceptions import CatalogUnavailable, OutOfStock
from legacy_monolith.models import FeatureSwitch
from strangler.processes import free_port
from tests.legacy_monolith.conftest import SERVICE_TOKEN

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> str:
    out = StringIO()
    call_command("catalog_gateway", *args, stdout=out)
    return out.getvalue()


def local_stock(product: Product) -> int:
    return Product.objects.get(pk=product.pk).stock


# --- the switch ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_status_is_local_by_default(settings):
    settings.CATALOG_SERVICE_TOKEN = ""
    text = run("status")
    assert text.startswith("catalog gateway: local\n")
    assert "never set" in text
    assert "remote not possible: CATALOG_SERVICE_TOKEN is not set" in text
    data = json.loads(run("status", "--json"))
    assert data["mode"] == "local" and data["remote_ready"] is False
    assert data["switch"] == "catalog_gateway.remote"
    assert isinstance(gateway.stock_gateway(), LocalStock)


@pytest.mark.django_db
def test_remote_then_local(catalog_service):
    assert "catalog gateway: remote (switched)" in run("remote", "--no-wait")
    assert FeatureSwitch.objects.get(name=gateway.SWITCH).enabled
    assert isinstance(gateway.stock_gateway(), RemoteStock)
    data = json.loads(run("status", "--json"))
    assert data == {**data, "mode": "remote", "service_url": catalog_service.url, "token_configured": True,
                    "remote_ready": True, "problems": []}
    assert data["changed_at"] is not None
    assert "(unchanged)" in run("remote", "--no-wait")
    assert "catalog gateway: local (switched)" in run("local", "--no-wait")
    assert not FeatureSwitch.objects.get(name=gateway.SWITCH).enabled
    assert isinstance(gateway.stock_gateway(), LocalStock)
    assert run("status").startswith("catalog gateway: local\n")


@pytest.mark.django_db
def test_remote_waits_out_the_cache_by_default(catalog_service):
    started = time.monotonic()
    run("remote")
    assert time.monotonic() - started >= switches.CACHE_SECONDS


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "token", "problem"), [
    ("http://127.0.0.1:8101", "", "CATALOG_SERVICE_TOKEN is not set"),
    ("", "t", "CATALOG_SERVICE_URL is not set"),
    ("", "", "CATALOG_SERVICE_URL is not set; CATALOG_SERVICE_TOKEN is not set"),
    ("127.0.0.1:8101", "t", "CATALOG_SERVICE_URL '127.0.0.1:8101' is not an http(s) URL"),
])
def test_remote_refused_when_not_configured(settings, url, token, problem):
    settings.CATALOG_SERVICE_URL, settings.CATALOG_SERVICE_TOKEN = url, token
    with pytest.raises(CommandError, match="refusing to switch the catalog gateway to remote: ") as refused:
        run("remote", "--no-wait")
    assert problem in str(refused.value)
    assert not FeatureSwitch.objects.filter(enabled=True).exists()
    # Even without the probe: configuration is not optional.
    with pytest.raises(CommandError):
        run("remote", "--no-wait", "--no-probe")


@pytest.mark.django_db
def test_remote_refused_when_the_service_does_not_answer(settings):
    settings.CATALOG_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    settings.CATALOG_SERVICE_TOKEN = "t"
    with pytest.raises(CommandError, match="does not answer .*--no-probe to switch anyway"):
        run("remote", "--no-wait")
    assert not FeatureSwitch.objects.filter(enabled=True).exists()
    run("remote", "--no-wait", "--no-probe")
    assert FeatureSwitch.objects.get(name=gateway.SWITCH).enabled


@pytest.mark.django_db
def test_remote_refused_when_the_service_refuses_the_token(catalog_service, settings):
    settings.CATALOG_SERVICE_TOKEN = "not-the-token"
    with pytest.raises(CommandError, match="answered HTTP 401 to an authorised probe: Invalid service token"):
        run("remote", "--no-wait")


def test_unknown_mode_is_refused():
    with pytest.raises(CommandError, match="invalid choice"):
        run("sideways")


@pytest.mark.django_db
def test_flip_made_elsewhere_is_seen_within_a_second():
    assert not gateway.remote_enabled()
    FeatureSwitch.objects.create(name=gateway.SWITCH, enabled=True)  # another process, say
    assert not gateway.remote_enabled()  # cached
    time.sleep(switches.CACHE_SECONDS + 0.05)
    assert gateway.remote_enabled()


def database_url(settings: dict) -> str:
    """The URL of the test database itself, for a subprocess that must see what this test sees."""
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user, host = settings.get("USER") or "postgres", settings.get("HOST") or "127.0.0.1"
    return f"postgresql://{user}@{host}:{settings.get('PORT') or 5432}/{settings['NAME']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_plans_hooks_flip_the_switch(catalog_service):
    """What the plan executor runs as the cutover's hook and as its undo (migration_plans/catalog.yaml)."""
    hook = next(h for h in yaml.safe_load((REPO / "migration_plans" / "catalog.yaml").read_text())["hooks"]
                if h["name"] == "catalog-gateway")
    env = {**os.environ, "MONOLITH_DATABASE_URL": database_url(connection.settings_dict),
           "CATALOG_SERVICE_URL": catalog_service.url, "CATALOG_SERVICE_TOKEN": SERVICE_TOKEN}
    for which, remote in (("do", True), ("undo", False), ("do", True), ("do", True), ("undo", False)):
        # Run twice in a row as well: a hook is run again after a crash, so it must be idempotent.
        argv = [sys.executable if part == "{python}" else part for part in hook[which]]
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
        assert done.returncode == 0, done.stderr
        assert FeatureSwitch.objects.get(name=gateway.SWITCH).enabled is remote
    # Without the token the hook fails, so the executor stops instead of cutting over blind.
    del env["CATALOG_SERVICE_TOKEN"]
    argv = [sys.executable if part == "{python}" else part for part in hook["do"]]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert done.returncode != 0
    assert "CATALOG_SERVICE_TOKEN is not set" in done.stderr


# --- LocalStock ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_local_stock_reserves_and_releases_in_the_callers_transaction(make_product):
    a = make_product(stock=3, price=Decimal("4.20"), sku="A-1", name="Apron")
    with transaction.atomic():
        snapshots = LocalStock().reserve({a.pk: 2})
    assert snapshots == {a.pk: {"sku": "A-1", "name": "Apron", "price": Decimal("4.20")}}
    assert local_stock(a) == 1
    with pytest.raises(OutOfStock) as short, transaction.atomic():
        LocalStock().reserve({a.pk: 2})
    assert short.value.body() == {"detail": "Not enough stock for: A-1 (requested 2, available 1).",
                                  "code": "out_of_stock",
                                  "items": [{"product": a.pk, "sku": "A-1", "requested": 2, "available": 1}]}
    with transaction.atomic():
        LocalStock().release({a.pk: 2})
    assert local_stock(a) == 3


def test_local_stock_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        LocalStock().reserve({1: 1})


# --- RemoteStock against the real service --------------------------------------------------------------------


@pytest.mark.django_db
def test_remote_reserve_takes_stock_at_the_service_only(catalog_service, make_product):
    a = make_product(stock=5, sku="R-1", name="Rolling pin", price=Decimal("7.00"))
    b = make_product(stock=2, sku="R-2", price=Decimal("1.10"))
    catalog_service.mirror(a, b)
    catalog_service.set(a, price=Decimal("7.50"), name="Rolling pin (beech)")  # the owner's current data

    snapshots = RemoteStock().reserve({b.pk: 2, a.pk: 1})

    assert snapshots == {a.pk: {"sku": "R-1", "name": "Rolling pin (beech)", "price": Decimal("7.50")},
                         b.pk: {"sku": "R-2", "name": b.name, "price": Decimal("1.10")}}
    assert (catalog_service.stock(a), catalog_service.stock(b)) == (4, 0)
    assert (local_stock(a), local_stock(b)) == (5, 2)
    RemoteStock().release({a.pk: 1, b.pk: 2})
    assert (catalog_service.stock(a), catalog_service.stock(b)) == (5, 2)


@pytest.mark.django_db
def test_remote_shortage_is_the_monoliths_out_of_stock(catalog_service, make_product):
    a = make_product(stock=9, sku="S-1")
    b = make_product(stock=9, sku="S-2")
    catalog_service.mirror(a, b)
    catalog_service.set(b, stock=1)
    with pytest.raises(OutOfStock) as short:
        RemoteStock().reserve({a.pk: 1, b.pk: 3})
    assert short.value.status_code == 409
    assert short.value.body() == {"detail": "Not enough stock for: S-2 (requested 3, available 1).",
                                  "code": "out_of_stock",
                                  "items": [{"product": b.pk, "sku": "S-2", "requested": 3, "available": 1}]}
    assert (catalog_service.stock(a), catalog_service.stock(b)) == (9, 1)


@pytest.mark.django_db
def test_remote_with_a_wrong_token_is_unavailable(catalog_service, make_product, settings):
    a = make_product()
    catalog_service.mirror(a)
    settings.CATALOG_SERVICE_TOKEN = "wrong"
    with pytest.raises(CatalogUnavailable, match="refused the shop's service token") as refused:
        RemoteStock().reserve({a.pk: 1})
    assert refused.value.status_code == 503
    assert refused.value.body()["code"] == "catalog_unavailable"


@pytest.mark.django_db
def test_remote_without_a_token_is_unavailable(settings):
    settings.CATALOG_SERVICE_TOKEN = ""
    with pytest.raises(CatalogUnavailable, match="CATALOG_SERVICE_TOKEN is not configured"):
        RemoteStock().reserve({1: 1})


def test_remote_service_down_is_unavailable(settings):
    settings.CATALOG_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    settings.CATALOG_SERVICE_TOKEN = "t"
    for call in (RemoteStock().reserve, RemoteStock().release):
        with pytest.raises(CatalogUnavailable) as down:
            call({1: 1})
        assert down.value.status_code == 503
        assert down.value.body() == {"detail": "The catalog service is unavailable; please try again in a moment.",
                                     "code": "catalog_unavailable"}


def test_remote_reserve_of_too_many_products_is_refused_before_calling(settings):
    settings.CATALOG_SERVICE_TOKEN = "t"
    with pytest.raises(CatalogUnavailable, match="at most 100 different products"):
        RemoteStock().reserve({pk: 1 for pk in range(1, 102)})
