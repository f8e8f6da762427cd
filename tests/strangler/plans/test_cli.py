"""``python manage.py strangler plan check`` (in-process, through Django's command line): exit status 2 with every
problem on stderr (and as JSON with --json) for a bad plan; 0 with the step list for a good one. Without
--offline the plan is also checked against a real router process's table, the monolith's database, the
service's database once it exists, and the commands its hooks run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import execute_from_command_line

from strangler import datasplit as ds
from strangler.processes import free_port
from tests.router.e2e.helpers import dead_url
from tests.support.servers import ROOT, running_router

from .conftest import CATALOG_PLAN, CATALOG_STEPS

TOKEN_ENV = "STRANGLER_PLAN_CHECK_TEST_TOKEN"
TOKEN = uuid.uuid4().hex
ROUTES = f"""\
version: 1
listen: "{{listen}}"
default: monolith
backends:
  monolith: {{targets: ["http://127.0.0.1:9"], health: {{interval: 0}}}}
  catalog: {{targets: ["http://127.0.0.1:9"], health: {{interval: 0}}}}
routes:
  catalog-reads: {{path: /api/catalog/, methods: [GET, HEAD, OPTIONS], backend: monolith}}
  catalog-writes: {{path: /api/catalog/, methods: [POST, PUT, PATCH, DELETE], backend: monolith}}
  orders-writes: {{path: /api/orders/, methods: [POST, PUT, PATCH, DELETE], backend: monolith}}
  checkout-page: {{path: /checkout/, methods: [POST], backend: monolith}}
admin: {{listen: "{{admin_listen}}", token_env: {TOKEN_ENV}}}
"""
KNOWN_ROUTES = "catalog-reads, catalog-writes, checkout-page, orders-writes"


def manage(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        execute_from_command_line(["manage.py", "strangler", *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def router_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real router process (``python -m router serve``) with the catalog's routes; yields its admin URL."""
    with running_router(tmp_path_factory.mktemp("router"), ROUTES, env={TOKEN_ENV: TOKEN}) as (_url, process, _):
        yield str(process.admin_url)  # type: ignore[attr-defined]


@pytest.fixture
def world_plan(write_plan: Callable[..., Path], router_admin: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``world_plan(edit)``: the catalog plan aimed at the test router, the test database and a service
    database under tmp_path (not provisioned), then changed by ``edit(doc)``."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)

    def write(edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
        def aim(doc: dict[str, Any]) -> None:
            doc["router"].update(admin_url=router_admin, token_env=TOKEN_ENV)
            doc["service"].update(database_url_env=f"STRANGLER_TEST_UNSET_{uuid.uuid4().hex[:8].upper()}",
                                  default_database_url=f"sqlite:///{tmp_path / 'catalog.sqlite3'}",
                                  migrations=str(ROOT / "extracted" / "catalog" / "migrations"))
            if edit is not None:
                edit(doc)
        return write_plan(aim)

    return write


def test_the_catalog_plan_passes_offline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = manage(capsys, "plan", "check", str(CATALOG_PLAN), "--offline")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:3] == [
        f"{CATALOG_PLAN}: valid plan 'catalog' for service 'catalog'",
        "  routes: reads 'catalog-reads', writes 'catalog-writes'; router admin http://127.0.0.1:8081",
        "  1. provision",
    ]
    assert lines[7].startswith("  6. contract  (examples=300, max_differences=0, seed=None, ")
    assert lines[9] == ("  8. canary-10  (percent=10.0, min_requests=20, max_error_rate=0.01, max_p99_ratio=3.0, "
                        "timeout=180.0, poll=1.0)")
    assert lines[12] == "  11. decommission"
    assert lines[13:] == ["  hook catalog-gateway at cutover: do {python} manage.py catalog_gateway remote; "
                          "undo {python} manage.py catalog_gateway local",
                          "  checked: the schema only (--offline)"]


def test_a_plan_of_many_routes_lists_them(write_plan: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["endpoints"] = {"reads": ["catalog-reads", "categories-reads"],
                            "writes": ["catalog-writes", "categories-writes"]}

    code, out, err = manage(capsys, "plan", "check", str(write_plan(edit)), "--offline")
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == ("  routes: reads 'catalog-reads', 'categories-reads', writes 'catalog-writes', "
                                   "'categories-writes'; router admin http://127.0.0.1:8081")


def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = manage(capsys, "plan", "check", str(CATALOG_PLAN), "--json", "--offline")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["plan"] == "catalog" and report["ok"] is True and report["checked"] == ["schema"]
    assert [s["step"] for s in report["steps"]] == CATALOG_STEPS
    assert report["steps"][0] == {"step": "provision"}
    assert report["steps"][9] == {"step": "cutover", "freeze_seconds": 5.0, "lease_seconds": 3.0,
                                  "max_sync_rounds": 20, "also_freeze": ["orders-writes", "checkout-page"]}


def test_check_shows_the_snapshot_tables_as_such(write_plan: Callable[..., Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["tables"][0]["snapshot"] = True

    path = write_plan(edit)
    code, out, err = manage(capsys, "plan", "check", str(path), "--offline")
    assert (code, err) == (0, "")
    assert out.splitlines()[2] == ("  snapshots: catalog_category -> categories (the monolith keeps owning them: "
                                   "synced forward only, never guarded on its side nor handed over)")
    code, out, err = manage(capsys, "plan", "check", str(path), "--offline", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["tables"] == [{"source": "catalog_category", "target": "categories", "snapshot": True},
                                         {"source": "catalog_product", "target": "products", "snapshot": False}]
    code, out, err = manage(capsys, "plan", "check", str(CATALOG_PLAN), "--offline")
    assert code == 0 and "snapshots" not in out


def test_check_refuses_a_cutover_of_snapshots_only(write_plan: Callable[..., Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        for table in doc["tables"]:
            table["snapshot"] = True

    path = write_plan(edit)
    code, out, err = manage(capsys, "plan", "check", str(path), "--offline")
    assert (code, out) == (2, "")
    assert err == (f"CommandError: {path}: steps[9]: nothing to cut over: every table is a snapshot "
                   "(tables[0].snapshot, tables[1].snapshot: true), which the monolith keeps owning; a cutover "
                   "needs a table the service takes over\n")


def test_check_refuses_a_bad_plan_with_status_2(write_plan: Callable[..., Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["steps"][6] = {"canary": {"percent": True}}
        doc["endpoints"]["raeds"] = doc["endpoints"].pop("reads")

    path = write_plan(edit)
    expected = [f"{path}: endpoints.reads: required",
                f"{path}: endpoints.raeds: unknown key (did you mean 'reads'?)",
                f"{path}: steps[6].canary.percent: expected a number, got True"]
    code, out, err = manage(capsys, "plan", "check", str(path))
    assert (code, out, err) == (2, "", "CommandError: " + "\n".join(expected) + "\n")
    code, out, err = manage(capsys, "plan", "check", str(path), "--json")
    assert code == 2 and json.loads(out) == {"plan": None, "ok": False, "problems": expected}


def test_check_refuses_a_missing_file_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "missing.yaml"
    code, out, err = manage(capsys, "plan", "check", str(path), "--offline")
    assert (code, out, err) == (2, "", f"CommandError: {path}: cannot read: No such file or directory\n")


def test_check_also_checks_the_data_split_part(write_plan: Callable[..., Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        del doc["tables"]
        doc["datasplit"] = {"batch_size": "20000"}

    path = write_plan(edit)
    code, out, err = manage(capsys, "plan", "check", str(path), "--offline")
    assert (code, out) == (2, "")
    assert err == (f"CommandError: {path}: datasplit.batch_size: expected an integer, got '20000'\n"
                   f"{path}: tables: required (a non-empty list of the tables to move)\n")


@pytest.mark.django_db
def test_a_good_plan_passes_against_the_router_and_the_databases(world_plan: Callable[..., Path],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = world_plan()
    code, out, err = manage(capsys, "plan", "check", str(path), "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["checked"] == ["schema", "router", "databases", "commands"]


@pytest.mark.django_db
def test_check_lists_every_name_the_world_lacks(world_plan: Callable[..., Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["endpoints"]["writes"] = "catalog-writez"
        doc["steps"][9]["cutover"]["also_freeze"] = ["orders-writes", "checkout"]
        doc["router"]["service_backend"] = "catalgo"
        doc["tables"][1]["columns"]["pricee"] = doc["tables"][1]["columns"].pop("price")
        doc["tables"][0]["source"] = "catalog_categories"
        doc["hooks"][0]["do"][2] = "catalog_gatewayy"
        doc["hooks"][0]["undo"] = ["no-such-program-anywhere", "local"]
        doc["service"]["start"] = ["{python}", "-m", "extracted.catalogue"]

    path = world_plan(edit)
    code, out, err = manage(capsys, "plan", "check", str(path), "--json")
    assert code == 2
    report = json.loads(out)
    assert report["ok"] is False
    product_columns = "id, sku, name, description, price, stock, is_active, created_at, updated_at, category_id"
    assert report["problems"] == [f"{path}: {p}" for p in [
        f"endpoints.writes: the router has no route 'catalog-writez' (known: {KNOWN_ROUTES})",
        f"steps[9].cutover.also_freeze[1]: the router has no route 'checkout' (known: {KNOWN_ROUTES})",
        "router.service_backend: the router has no backend 'catalgo' (known: catalog, monolith)",
        "tables[0].source: no table 'catalog_categories' in the monolith database "
        f"({ds.open_split(CATALOG_PLAN).monolith.display})",
        f"tables[1].columns.pricee: no column 'pricee' in catalog_product (columns: {product_columns})",
        "service.start: no Python module 'extracted.catalogue' to run with -m",
        "hooks[0].do: 'catalog_gatewayy' is not a management command of this project (did you mean "
        "'catalog_gateway'?)",
        f"hooks[0].undo: no program 'no-such-program-anywhere' (not on PATH, not a file under {ROOT})",
    ]]
    assert err.startswith(f"CommandError: {path}: endpoints.writes: the router has no route 'catalog-writez'")


@pytest.mark.django_db
def test_check_names_each_missing_route_of_a_list_by_its_index(world_plan: Callable[..., Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["endpoints"] = {"reads": ["catalog-reads", "categories-reads"],
                            "writes": ["catalog-writes", "orders-writes", "categories-writes"]}

    path = world_plan(edit)
    code, out, err = manage(capsys, "plan", "check", str(path), "--json")
    assert code == 2
    assert json.loads(out)["problems"] == [
        f"{path}: endpoints.reads[1]: the router has no route 'categories-reads' (known: {KNOWN_ROUTES})",
        f"{path}: endpoints.writes[2]: the router has no route 'categories-writes' (known: {KNOWN_ROUTES})"]


@pytest.mark.django_db
def test_offline_skips_the_world(world_plan: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["endpoints"]["writes"] = "catalog-writez"
        doc["router"]["admin_url"] = dead_url()

    code, out, err = manage(capsys, "plan", "check", str(world_plan(edit)), "--offline")
    assert (code, err) == (0, "")


@pytest.mark.django_db
def test_an_unreachable_router_is_named(world_plan: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    url = dead_url()
    path = world_plan(lambda doc: doc["router"].update(admin_url=url))
    code, out, err = manage(capsys, "plan", "check", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"CommandError: {path}: router.admin_url: cannot read the router's routes "
                          f"(router admin API at {url}: ")
    assert err.count("\n") == 1


@pytest.mark.django_db
def test_a_missing_admin_token_is_named(world_plan: Callable[..., Path], capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = world_plan()
    monkeypatch.delenv(TOKEN_ENV)
    code, out, err = manage(capsys, "plan", "check", str(path))
    assert (code, out) == (2, "")
    assert err == (f"CommandError: {path}: router.token_env: {TOKEN_ENV} is not set; it must hold the router's "
                   "admin token (to read its routes)\n")


@pytest.mark.django_db
def test_an_unreachable_service_database_is_named(world_plan: Callable[..., Path],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/catalog"
    path = world_plan(lambda doc: doc["service"].update(default_database_url=url))
    code, out, err = manage(capsys, "plan", "check", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"CommandError: {path}: service.default_database_url: cannot reach the service database "
                          f"(service server of postgresql+psycopg://postgres@127.0.0.1:{url.split(':')[-1]}: ")
    assert err.count("\n") == 1


@pytest.mark.django_db(transaction=True)
def test_once_provisioned_the_service_database_is_checked_too(world_plan: Callable[..., Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    good = world_plan()
    split = ds.open_split(good)
    try:
        ds.provision(split)
    finally:
        split.close()
    assert manage(capsys, "plan", "check", str(good))[0] == 0

    def edit(doc: dict[str, Any]) -> None:
        doc["tables"][1]["columns"]["price"] = "pricey"

    path = world_plan(edit)
    code, out, err = manage(capsys, "plan", "check", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"CommandError: {path}: tables[1].columns.price: target column 'pricey' does not exist "
                          "in products (columns: ")
    assert err.count("\n") == 1
