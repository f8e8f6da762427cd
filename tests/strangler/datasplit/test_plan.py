"""Plan files: schema errors and errors against the databases name the file, the field and the value."""

from __future__ import annotations

import copy
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import CommandError, call_command

from strangler import datasplit as ds
from strangler.datasplit.plan import load_plan

from .conftest import ROOT, write_plan


def plan_with(tmp_path: Path, change) -> Path:
    doc = yaml.safe_load((ROOT / "migration_plans" / "catalog.yaml").read_text())
    change(doc)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_the_shipped_plan_loads() -> None:
    plan = load_plan(ROOT / "migration_plans" / "catalog.yaml")
    assert [(t.source, t.target) for t in plan.tables] == [("catalog_category", "categories"),
                                                           ("catalog_product", "products")]
    assert (plan.changelog_table, plan.checkpoint_table, plan.guard_table) == (
        "strangler_changelog_catalog", "strangler_checkpoint", "strangler_ownership")
    assert (plan.batch_size, plan.chunk_size) == (20000, 20000)
    assert plan.service.migrations == ROOT / "extracted" / "catalog" / "migrations"
    back = plan.reversed()
    assert back.tables[1].source == "products" and back.tables[1].keys == ("id",)
    assert back.state_name == "catalog:reverse"
    assert back.guard_table == plan.guard_table


def datasplit_only(tmp_path: Path, **more: Any) -> Path:
    """A plan with only the data split's keys (no router, endpoints, steps nor hooks), as tests and teams write."""
    doc = yaml.safe_load((ROOT / "migration_plans" / "catalog.yaml").read_text())
    doc = {"name": doc["name"], "service": {k: v for k, v in doc["service"].items() if k not in ("start", "url")},
           "tables": doc["tables"], **more}
    path = tmp_path / "split-only.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_data_split_only_plan_loads(tmp_path: Path) -> None:
    plan = load_plan(datasplit_only(tmp_path))
    assert plan.name == "catalog" and len(plan.tables) == 2 and plan.source.database == "default"


def test_the_changelog_is_per_plan_and_the_bookkeeping_tables_can_be_named(tmp_path: Path) -> None:
    plan = load_plan(datasplit_only(tmp_path, name="catalog_again"))
    assert plan.changelog_table == "strangler_changelog_catalog_again"
    plan = load_plan(datasplit_only(tmp_path, datasplit={"changelog_table": "log", "checkpoint_table": "marks",
                                                         "guard_table": "owners", "batch_size": 10}))
    assert (plan.changelog_table, plan.checkpoint_table, plan.guard_table, plan.batch_size) == (
        "log", "marks", "owners", 10)


def test_a_key_is_one_column_or_several(tmp_path: Path) -> None:
    """``key: id`` reads as it always did; ``key: [a, b]`` is a composite key, mapped to the target's names and
    back by the reverse plan."""
    doc = yaml.safe_load(datasplit_only(tmp_path).read_text())
    doc["tables"][1]["key"] = ["sku", "id"]
    doc["tables"][1]["columns"]["sku"] = "code"
    path = tmp_path / "composite.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    plan = load_plan(path)
    assert [t.keys for t in plan.tables] == [("id",), ("sku", "id")]
    assert plan.tables[1].target_keys == ("code", "id") and plan.reversed().tables[1].keys == ("code", "id")
    assert plan.reversed().tables[1].target_keys == ("sku", "id")
    assert plan.tables[1].key_fields("tables[1]") == [("tables[1].key[0]", "sku"), ("tables[1].key[1]", "id")]
    assert load_plan(datasplit_only(tmp_path)).tables[1].key_fields("tables[1]") == [("tables[1].key", "id")]


def test_the_executors_part_is_checked_too(tmp_path: Path) -> None:
    """One schema for the whole file: a typo among the steps is refused by the data split's loader as well."""
    path = datasplit_only(tmp_path, steps=["provision", {"shadow": {"min_request": 5}}],
                          router={"service_backend": "catalog"}, endpoints={"reads": "catalog-reads"})
    with pytest.raises(ds.PlanError) as err:
        load_plan(path)
    assert str(err.value) == f"{path}: steps[1].shadow.min_request: unknown key (did you mean 'min_requests'?)"
    path = datasplit_only(tmp_path, steps=["provision", "capture", "copy"])
    with pytest.raises(ds.PlanError) as err:
        load_plan(path)
    assert str(err.value) == (f"{path}: router.service_backend: required\n"
                              f"{path}: endpoints.reads: required")


def test_every_problem_is_in_the_message_the_first_in_the_field(tmp_path: Path) -> None:
    path = datasplit_only(tmp_path, datasplit={"batch_size": True, "chunk_sise": 5}, hook={})
    with pytest.raises(ds.PlanError) as err:
        load_plan(path)
    assert (err.value.file, err.value.field) == (str(path), "datasplit.batch_size")
    assert str(err.value).splitlines() == [
        f"{path}: datasplit.batch_size: expected an integer, got True",
        f"{path}: datasplit.chunk_sise: unknown key (did you mean 'chunk_size'?)",
        f"{path}: hook: unknown key (did you mean 'hooks'?)",
    ]


def _second_table_again(d: dict) -> None:
    d["tables"].append(copy.deepcopy(d["tables"][0]))


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda d: d.pop("tables"), "tables", "required (a non-empty list of the tables to move)"),
    (lambda d: d.update(tables=[]), "tables", "expected a non-empty list of tables, got []"),
    (lambda d: d["tables"][1].update(keys="id"), "tables[1].keys", "unknown key (did you mean 'key'?)"),
    (lambda d: d["tables"][1]["columns"].pop("id"), "tables[1].key", "the key 'id' is not among the mapped columns"),
    # Composite keys: a list of distinct mapped columns; each problem names the item.
    (lambda d: d["tables"][0].update(key=[]), "tables[0].key",
     "expected a column name or a non-empty list of column names, got []"),
    (lambda d: d["tables"][0].update(key=7), "tables[0].key",
     "expected a column name or a non-empty list of column names, got 7"),
    (lambda d: d["tables"][0].update(key={"id": 1}), "tables[0].key", "expected a column name or a non-empty list"),
    (lambda d: d["tables"][1].update(key=["id", "sku", "id"]), "tables[1].key[2]",
     "'id' is already tables[1].key[0] (a key names each column once)"),
    (lambda d: d["tables"][0].update(key=["id", "a slug"]), "tables[0].key[1]", "'a slug' is not a plain identifier"),
    (lambda d: d["tables"][0].update(key=["id", 7]), "tables[0].key[1]", "expected a string, got 7"),
    (lambda d: d["tables"][1].update(key=["id", "slug"]), "tables[1].key[1]",
     "the key column 'slug' is not among the mapped columns (id, sku, "),
    (lambda d: d["tables"][1].update(source="catalog product"), "tables[1].source", "plain identifier"),
    (lambda d: d["tables"][1].update(source=7), "tables[1].source", "expected a string, got 7"),
    (lambda d: d["tables"][1]["columns"].update(price="sku"), "tables[1].columns.price",
     "target column 'sku' is already mapped from 'sku'"),
    (lambda d: d["tables"][1].update(plain_ids=["owner_id"]), "tables[1].plain_ids[0]", "not among the mapped"),
    (lambda d: d["tables"][1].update(decimal_places={"price": 31}), "tables[1].decimal_places.price",
     "expected an integer <= 30, got 31"),
    (lambda d: d["tables"][1].update(columns={}), "tables[1].columns", "empty; omit it"),
    (_second_table_again, "tables[2].source", "already mapped by tables[0]"),
    (lambda d: d.update(datasplit={"batch_size": 0}), "datasplit.batch_size", "expected an integer >= 1, got 0"),
    (lambda d: d.update(datasplit={"changelog_table": "catalog_product"}), "datasplit.changelog_table",
     "'catalog_product' is a table the plan moves"),
    (lambda d: d.update(datasplit={"guard_table": "strangler_checkpoint"}), "datasplit.guard_table",
     "'strangler_checkpoint' is also the checkpoint_table"),
    (lambda d: d["service"].pop("name"), "service.name", "required"),
    (lambda d: d["service"].update(database_url_env=None, default_database_url=None), "service",
     "needs database_url_env or default_database_url"),
    (lambda d: d["service"].update(default_database_url="var/catalog.sqlite3"), "service.default_database_url",
     "expected a database URL"),
    (lambda d: d.update(source={"database": "default", "url_env": "X"}), "source", "exactly one of"),
    (lambda d: d.update(name="catalog-two"), "name", "not a plain identifier"),
])
def test_schema_errors_name_file_and_field(tmp_path: Path, change, field: str, words: str) -> None:
    path = plan_with(tmp_path, change)
    with pytest.raises(ds.PlanError) as err:
        load_plan(path)
    assert err.value.file == str(path) and err.value.field == field and words in str(err.value)


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ds.PlanError, match=r"broken.yaml: line 2, column 1: not valid YAML"):
        load_plan(path)


def test_a_duplicate_key_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = datasplit_only(tmp_path)
    path.write_text(path.read_text() + "name: catalog_two\n")
    with pytest.raises(ds.PlanError) as err:
        load_plan(path)
    line = len(path.read_text().splitlines())
    assert str(err.value) == f"{path}: line {line}, column 1: duplicate key 'name' (first at line 1)"


@pytest.mark.django_db(transaction=True)
def test_unknown_column_is_named_with_the_columns_there_are(tmp_path: Path) -> None:
    def typo(d: dict) -> None:
        d["tables"][1]["columns"]["pricee"] = d["tables"][1]["columns"].pop("price")

    path = plan_with(tmp_path, typo)
    service = f"sqlite:///{tmp_path / 'svc.sqlite3'}"
    good = write_plan(tmp_path, service)
    split = ds.open_split(good)
    ds.provision(split)
    doc = yaml.safe_load(path.read_text())
    doc["service"] = yaml.safe_load(good.read_text())["service"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ds.PlanError) as err:
        ds.check(ds.open_split(path))
    assert str(err.value).startswith(f"{path}: tables[1].columns.pricee: no such column in catalog_product (columns: "
                                     "id, sku, name, description, price, ")
    with pytest.raises(CommandError, match="tables\\[1\\].columns.pricee") as cli:
        call_command("strangler", "split", "check", str(path))
    assert cli.value.returncode == 2


@pytest.mark.django_db(transaction=True)
def test_check_before_provision_says_what_to_do(tmp_path: Path) -> None:
    path = write_plan(tmp_path, f"sqlite:///{tmp_path / 'none.sqlite3'}")
    with pytest.raises(ds.PlanError, match=r"tables\[0\].target: no table 'categories' in the service database .*"
                                           "provision"):
        ds.check(ds.open_split(path))
    with pytest.raises(CommandError, match="provision"):
        call_command("strangler", "split", "check", str(path))
    call_command("strangler", "split", "status", str(path), stdout=StringIO())
    assert not (tmp_path / "none.sqlite3").exists()   # a check or a status leaves nothing behind


@pytest.mark.django_db(transaction=True)
def test_incompatible_kinds_are_refused(tmp_path: Path) -> None:
    service = f"sqlite:///{tmp_path / 'svc.sqlite3'}"
    good = write_plan(tmp_path, service)
    ds.provision(ds.open_split(good))
    doc = yaml.safe_load(good.read_text())
    doc["tables"][1]["columns"]["name"] = "created_at"
    doc["tables"][1]["columns"].pop("created_at")
    good.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ds.PlanError, match=r"tables\[1\].columns.name: catalog_product.name is text .* but "
                                           r"products.created_at is datetime"):
        ds.check(ds.open_split(good))
