"""Plan files: schema errors and errors against the databases name the file, the field and the value."""

from __future__ import annotations

from pathlib import Path

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
    back = plan.reversed()
    assert back.tables[1].source == "products" and back.tables[1].key == "id" and back.state_name == "catalog:reverse"


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda d: d.pop("tables"), "tables", "non-empty list"),
    (lambda d: d["tables"][1].update(keys="id"), "tables[1].keys", "unknown field"),
    (lambda d: d["tables"][0].update(key=["id", "slug"]), "tables[0].key", "composite keys"),
    (lambda d: d["tables"][1]["columns"].pop("id"), "tables[1].key", "not among the mapped columns"),
    (lambda d: d["tables"][1].update(source="catalog product"), "tables[1].source", "plain identifier"),
    (lambda d: d["tables"].append(dict(d["tables"][0])), "tables[2].source", "already mapped by tables[0]"),
    (lambda d: d["datasplit"].update(batch_size=0) if "datasplit" in d else d.update(datasplit={"batch_size": 0}),
     "datasplit.batch_size", "positive integer"),
    (lambda d: d["service"].pop("name"), "service.name", "missing"),
])
def test_schema_errors_name_file_and_field(tmp_path: Path, change, field: str, words: str) -> None:
    path = plan_with(tmp_path, change)
    with pytest.raises(ds.PlanError) as err:
        load_plan(path)
    assert err.value.file == str(path) and err.value.field == field and words in str(err.value)


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ds.PlanError, match=r"broken.yaml: line \d+, column \d+: not valid YAML"):
        load_plan(path)


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
