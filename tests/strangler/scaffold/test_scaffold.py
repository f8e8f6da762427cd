"""``strangler scaffold`` on the demo shop: the generated schema is the catalog service's own on every
engine, the models agree with the revision, the generated code passes ruff and mypy --strict, a scaffolded
plan splits its app (provision, capture, copy, sync, verify: equal), and bad arguments name what is wrong."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from django.core.management import CommandError, call_command

from strangler import datasplit as ds
from strangler.planfile.reader import read_plan_file
from strangler.scaffold import ScaffoldError, scaffold
from strangler.scaffold.plan import Service, plan_text
from tests.strangler.datasplit.conftest import drop, fresh_url, require

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A root to scaffold into, importable, with a package name nobody else uses."""
    out = f"gen_{uuid.uuid4().hex[:8]}"
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path, out
    for name in [m for m in sys.modules if m == out or m.startswith(out + ".")]:
        del sys.modules[name]


def _upgrade(location: Path, url: str, revision: str = "head") -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", url.replace("mysql://", "mysql+pymysql://").replace("%", "%%"))
    command.upgrade(cfg, revision)


def _schema(url: str) -> dict[str, Any]:
    engine = sa.create_engine(url.replace("mysql://", "mysql+pymysql://"))
    try:
        inspector = sa.inspect(engine)
        out = {}
        for t in sorted(inspector.get_table_names()):
            if t.startswith("alembic_version"):
                continue
            out[t] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(t)],
                "pk": inspector.get_pk_constraint(t)["constrained_columns"],
                "uniques": sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(t)),
                "indexes": sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(t)
                                  if not i.get("unique")),
                "foreign_keys": sorted((f["name"], tuple(f["constrained_columns"]), f["referred_table"],
                                        (f.get("options") or {}).get("ondelete"))
                                       for f in inspector.get_foreign_keys(t)),
                "checks": sorted(c["name"] for c in inspector.get_check_constraints(t)),
            }
        return out
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mysql"])
def test_the_generated_schema_is_the_catalog_services_own(kind: str, generated: tuple[Path, str],
                                                         tmp_path: Path) -> None:
    """The catalog service could have been scaffolded: its first revision and the generated one make the same
    tables, columns, types, keys, unique constraints, indexes, foreign keys and checks. (Its second revision,
    the search index, is SQL of its own: not a model; its third, the stock reservations, is its own code.) The
    events' outbox, the template's revision 0002, is the catalog's revision 0004's."""
    require(kind)
    root, out = generated
    scaffold("catalog", out=out, root=root)
    ours, theirs = fresh_url(kind, tmp_path, "scaffolded"), fresh_url(kind, tmp_path, "reference")
    for url in (ours, theirs):
        if kind != "sqlite":
            from strangler.datasplit.engines import open_engine

            engine = open_engine(url, "test")
            engine.create()
            engine.dispose()
    try:
        _upgrade(root / out / "catalog" / "migrations", ours, "0001")
        _upgrade(ROOT / "extracted" / "catalog" / "migrations", theirs, "0001")
        assert _schema(ours) == _schema(theirs)
        _upgrade(root / out / "catalog" / "migrations", ours)
        _upgrade(ROOT / "extracted" / "catalog" / "migrations", theirs)
        assert _schema(ours)["event_outbox"] == _schema(theirs)["event_outbox"]
        assert "event_inbox" in _schema(ours)
    finally:
        if kind != "sqlite":
            drop(ours)
            drop(theirs)


def test_the_models_agree_with_the_revision_and_the_code_passes_ruff_and_mypy(generated: tuple[Path, str]) -> None:
    root, out = generated
    for app in ("catalog", "cart", "orders", "shipping", "accounts"):
        scaffold(app, out=out, root=root)
        _upgrade(root / out / app / "migrations", f"sqlite:///{root / f'{app}.sqlite3'}")
        models = __import__(f"{out}.{app}.models", fromlist=["Base"])
        engine = sa.create_engine(f"sqlite:///{root / f'{app}.sqlite3'}")
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
        engine.dispose()
        assert [d for d in differences if "alembic_version" not in str(d)] == [], app
    config = str(ROOT / "pyproject.toml")
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--config", config, out], cwd=root,  # noqa: S603
                          capture_output=True, text=True)
    assert ruff.returncode == 0, ruff.stdout
    mypy = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--config-file", config, out], cwd=root,  # noqa: S603
                          capture_output=True, text=True)
    assert mypy.returncode == 0, mypy.stdout


def test_a_scaffolded_plan_splits_its_app_equal(transactional_db: None, generated: tuple[Path, str],
                                                tmp_path: Path) -> None:
    call_command("seed_shop", "--products", "40", "--users", "3", "--orders", "3", "-v", "0")
    root, out = generated
    report = scaffold("orders", out=out, root=root)
    assert report.plain_ids == ["orders.user_id -> auth.User", "order_lines.product_id -> catalog.Product"]
    plan_path = root / "migration_plans" / "orders.yaml"
    plan = yaml.safe_load(plan_path.read_text())
    plan["service"]["migrations"] = str(root / out / "orders" / "migrations")
    plan["service"]["database_url_env"] = f"STRANGLER_TEST_UNSET_{uuid.uuid4().hex[:8].upper()}"
    plan["service"]["default_database_url"] = f"sqlite:///{tmp_path / 'orders-service.sqlite3'}"
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
    split = ds.open_split(plan_path)
    try:
        ds.provision(split)
        ds.capture(split)
        copied = ds.copy(split)
        assert {t.target: t.rows for t in copied.tables} == {"orders": 3, "order_lines": copied.tables[1].rows}
        assert copied.tables[1].rows > 0
        ds.sync(split)
        assert ds.verify(split).ok
    finally:
        ds.uncapture(split, drop_changelog=True)
        split.close()


def test_the_plan_moves_every_route_it_generates(generated: tuple[Path, str]) -> None:
    """An app under several URL prefixes gets a reads and a writes route per prefix, and its plan moves them all
    (one name where there is one); the plan passes the schema as it is written."""
    root, out = generated
    for app, reads, writes in (
            ("orders", ["api-orders-reads", "checkout-reads", "orders-reads"],
             ["api-orders-writes", "checkout-writes", "orders-writes"]),
            ("shipping", "api-shipping-reads", "api-shipping-writes")):
        report = scaffold(app, out=out, root=root)
        text = (root / "migration_plans" / f"{app}.yaml").read_text()
        plan = yaml.safe_load(text)
        assert plan["endpoints"] == {"reads": reads, "writes": writes}
        assert "moved by a plan of their own or by hand" not in text
        routes = yaml.safe_load((root / "migration_plans" / f"{app}.routes.yaml").read_text())["routes"]
        assert sorted(routes) == sorted(report.routes) == sorted(
            [reads, writes] if isinstance(reads, str) else [*reads, *writes])
        endpoints = read_plan_file(root / "migration_plans" / f"{app}.yaml", executor=True).endpoints
        assert endpoints is not None and set(endpoints.routes) == set(routes)
        routes_text = (root / "migration_plans" / f"{app}.routes.yaml").read_text()
        assert "&id" not in routes_text and "*id" not in routes_text   # each list written out, no YAML aliases


def test_an_app_no_url_of_which_writes_gets_a_plan_without_a_cutover(tmp_path: Path) -> None:
    """A cutover switches the writes; with no writes route there is none to switch, so the plan stops at the
    canary (and says why) instead of writing a step the plan check refuses."""
    service = Service(name="reports", app="reports", package="extracted.reports", directory="extracted/reports",
                      port=8190)
    path = tmp_path / "reports.yaml"
    path.write_text(plan_text(service, [], ["api-reports-reads"]))
    text = path.read_text()
    assert "no cutover step" in text
    steps = [s if isinstance(s, str) else next(iter(s)) for s in yaml.safe_load(text)["steps"]]
    assert steps[-1] == "canary" and "cutover" not in steps and "decommission" not in steps
    assert yaml.safe_load(text)["endpoints"] == {"reads": "api-reports-reads", "writes": None}


def test_bad_arguments_and_existing_files_are_refused_with_what_is_wrong(generated: tuple[Path, str]) -> None:
    root, out = generated
    with pytest.raises(ScaffoldError, match="no installed app labelled 'nope'"):
        scaffold("nope", root=root)
    with pytest.raises(ScaffoldError, match="--name: 'Bad-Name' is not a lower-case Python identifier"):
        scaffold("cart", name="Bad-Name", root=root)
    with pytest.raises(ScaffoldError, match="--out: '../x' must be a relative package path"):
        scaffold("cart", out="../x", root=root)
    scaffold("cart", out=out, root=root)
    with pytest.raises(ScaffoldError, match=r"file\(s\) exist already .*pass --force"):
        scaffold("cart", out=out, root=root)
    assert scaffold("cart", out=out, root=root, force=True).tables == ["carts", "cart_items"]
    with pytest.raises(CommandError) as err:
        call_command("strangler", "scaffold", "nope", stdout=StringIO())
    assert err.value.returncode == 2


def test_a_scaffolded_service_answers_as_the_monolith(
        generated: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """What the template gives a new service: its database under the project's ``var/`` by default (the plan's
    ``sqlite:///var/NAME.sqlite3``), ``check`` naming the fix, ``migrate`` passing the connection, ``/healthz``,
    Django's 301 to the slashed URL of a route and its JSON 404 for the rest, the request id and the body gate;
    an endpoint added as a Resource answers as a DRF view (permission, 401 with its headers, 405, format, 406,
    OPTIONS)."""
    from starlette.routing import Route
    from starlette.testclient import TestClient

    root, out = generated
    scaffold("orders", out=out, root=root)
    monkeypatch.delenv("ORDERS_DATABASE_URL", raising=False)
    monkeypatch.delenv("ORDERS_VAR_DIR", raising=False)
    db = __import__(f"{out}.orders.db", fromlist=["database_url"])
    assert db.database_url() == f"sqlite:///{root.resolve() / 'var' / 'orders.sqlite3'}"
    url = f"sqlite:///{root / 'service.sqlite3'}"
    monkeypatch.setenv("ORDERS_DATABASE_URL", url)
    with pytest.raises(db.ConfigurationError, match="ORDERS_DATABASE_URL: 'sqlite:///:memory:' names no SQLite"):
        db.make_engine("sqlite:///:memory:")
    main = __import__(f"{out}.orders.__main__", fromlist=["main"]).main
    assert main(["check"]) == 1
    assert f"run `python -m {out}.orders migrate` (with the same ORDERS_DATABASE_URL) first" in capsys.readouterr().err
    assert main(["migrate"]) == 0
    assert main(["check"]) == 0
    app = __import__(f"{out}.orders.app", fromlist=["create_app"]).create_app()
    with TestClient(app, base_url="http://localhost") as client:
        health = client.get("/healthz", headers={"X-Request-ID": "abc-1"})
        assert (health.status_code, health.json()) == (200, {"status": "ok", "database": "sqlite"})
        assert health.headers["x-request-id"] == "abc-1"
        missing = client.get("/api/nothing/?q=1")
        assert (missing.status_code, missing.content) == (404, b'{"detail": "Not found."}')
        slash = client.get("/healthz/", follow_redirects=False)
        assert slash.status_code == 404
        too_big = client.post("/api/nothing/", content=b"x" * (11 * 1024 * 1024))
        assert too_big.status_code == 413
        assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
        # An endpoint: a route to a Resource, answered as a DRF view of the monolith answers.
        resources = __import__(f"{out}.orders.resources", fromlist=["Resource"])
        responses = __import__(f"{out}.orders.responses", fromlist=["json_response"])

        async def hello(request: Any, caller: Any, state: Any) -> Any:
            return responses.json_response({"user": caller and caller.user_id})

        app.router.routes.insert(0, Route("/api/orders/", resources.Resource(
            "Order List", {"GET": hello}, permission=resources.AUTHENTICATED)))
        app.router.routes.insert(0, Route("/api/hello/", resources.Resource("Hello", {"GET": hello})))
        assert (client.get("/api/hello/").status_code, client.get("/api/hello/").json()) == (200, {"user": None})
        refused = client.get("/api/orders/")
        assert refused.status_code == 401
        assert refused.json() == {"detail": "Authentication credentials were not provided."}
        assert (refused.headers["www-authenticate"], refused.headers["allow"], refused.headers["vary"]) == (
            "Token", "GET, HEAD, OPTIONS", "Cookie")
        post = client.post("/api/hello/", json={})
        assert (post.status_code, post.json()) == (405, {"detail": 'Method "POST" not allowed.'})
        assert client.get("/api/hello/?format=xml").status_code == 404
        assert client.get("/api/hello/", headers={"Accept": "text/html"}).status_code == 406
        options = client.options("/api/hello/").json()
        assert (options["name"], options["parses"][0]) == ("Hello", "application/json")
        moved = client.get("/api/hello?x=1", follow_redirects=False)
        assert (moved.status_code, moved.headers["location"]) == (301, "/api/hello/?x=1")
    app.state.orders.engine.dispose()


def test_models_of_other_apps_move_with_the_app_when_named(transactional_db: None, generated: tuple[Path, str],
                                                           tmp_path: Path) -> None:
    """``--with auth.User --with authtoken.Token``: an accounts app takes Django's users and DRF's tokens along.
    Their tables are the service's, the keys between the moved models stay foreign keys (no plain ids left), the
    users' many-to-many tables are named as staying behind, the models pass ruff and mypy and match their revision,
    and the plan splits all three tables equal."""
    call_command("seed_shop", "--products", "5", "--users", "3", "--orders", "0", "-v", "0")
    root, out = generated
    report = scaffold("accounts", out=out, root=root, with_models=["auth.User", "authtoken.Token"])
    assert report.tables == ["users", "addresses", "login_failures", "tokens"] and report.plain_ids == []
    assert any("groups: many-to-many to auth.Group (auth_user_groups) stays in the monolith" in n
               for n in report.notes)
    models = (root / out / "accounts" / "models.py").read_text()
    assert 'sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True' in models   # a token's user
    _upgrade(root / out / "accounts" / "migrations", f"sqlite:///{root / 'accounts.sqlite3'}")
    plan_path = root / "migration_plans" / "accounts.yaml"
    plan = yaml.safe_load(plan_path.read_text())
    assert [t["source"] for t in plan["tables"]] == ["auth_user", "accounts_address", "accounts_loginfailure",
                                                     "authtoken_token"]
    plan["service"]["migrations"] = str(root / out / "accounts" / "migrations")
    plan["service"]["database_url_env"] = f"STRANGLER_TEST_UNSET_{uuid.uuid4().hex[:8].upper()}"
    plan["service"]["default_database_url"] = f"sqlite:///{tmp_path / 'accounts-service.sqlite3'}"
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False))
    split = ds.open_split(plan_path)
    try:
        ds.provision(split)
        ds.capture(split)
        copied = ds.copy(split)
        assert {t.target: t.rows for t in copied.tables}["users"] == 4   # three customers and staff
        assert ds.verify(split).ok
    finally:
        ds.uncapture(split, drop_changelog=True)
        split.close()


@pytest.mark.parametrize(("spec", "message"), [
    ("auth", "is not app_label.ModelName"),
    ("auth.Nope", "auth.Nope: App 'auth' doesn't have a 'Nope' model"),
    ("nope.User", "No installed app with label 'nope'"),
    ("accounts.Address", "is the accounts app's own model"),
])
def test_a_bad_with_is_refused_with_what_is_wrong(generated: tuple[Path, str], spec: str, message: str) -> None:
    root, out = generated
    with pytest.raises(ScaffoldError, match=re.escape(message)):
        scaffold("accounts", out=out, root=root, with_models=[spec])
    assert not (root / out).exists()
