"""The ownership guard, the pruned changelog and marks that survive their log, on every kind of service
database (the monolith is the Django test database: SQLite here, PostgreSQL in the PostgreSQL pass).

A legacy write to a table the other side owns is refused with the table and its owner in the message; the
syncs still write where they must, and never into the side that owns the data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.db import DatabaseError as DjangoDatabaseError
from django.db import connection, transaction

from strangler import datasplit as ds
from strangler.datasplit import ownership

from .conftest import write_plan

pytestmark = pytest.mark.slow


def service_exec(split: ds.Split, statement: str) -> None:
    engine = split.service
    conn = engine.connect(autocommit=True)
    try:
        cur = conn.cursor()
        if engine.kind == "mysql":
            cur.execute(statement.replace('"', "`"), [])
        else:
            cur.execute(statement)
    finally:
        conn.close()


def service_value(split: ds.Split, statement: str) -> object:
    engine = split.service
    conn = engine.connect(autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(statement.replace('"', "`") if engine.kind == "mysql" else statement)
        return cur.fetchone()[0]
    finally:
        conn.close()


def monolith_write(statement: str, params: list | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(statement, params or [])


def changelog_size(split: ds.Split) -> int:
    conn = split.source.connect(autocommit=True)
    try:
        return split.source.count(conn, split.plan.changelog_table)
    finally:
        conn.close()


@pytest.fixture
def guarded(transactional_db, target_url: str, tmp_path: Path) -> Iterator[tuple[Path, ds.Split]]:
    """The catalog copied to a service database, captured both ways, guarded on both sides (monolith owns)."""
    call_command("seed_shop", "--products", "60", "--users", "2", "--orders", "2", "-v", "0")
    plan = write_plan(tmp_path, target_url)
    split = ds.open_split(plan)
    back = ds.open_split(plan, reverse=True)
    ds.provision(split)
    ds.capture(split)
    ds.copy(split)
    for side in ownership.SIDES:
        ownership.install(split, side, "monolith")
    try:
        yield plan, split
    finally:
        for side in ownership.SIDES:
            ownership.remove(split, side)
        ds.uncapture(split, drop_changelog=True)
        ds.uncapture(back, drop_changelog=True)
        split.close()
        back.close()


def test_each_side_refuses_writes_it_does_not_own_naming_the_table_and_owner(guarded) -> None:
    plan, split = guarded
    assert ownership.read(split).state == "monolith"
    # Before cutover the service's copy refuses anyone but the forward sync...
    with pytest.raises(Exception, match=r"table products is owned by the monolith \(plan catalog\)"):
        service_exec(split, 'UPDATE "products" SET "stock" = 1 WHERE "id" = 1')
    # ...while the monolith writes as usual.
    monolith_write("UPDATE catalog_product SET stock = stock + 5 WHERE id = 1")

    ownership.set_owner(split, "monolith", "service")
    assert ownership.read(split).state == "handing-over"
    ownership.set_owner(split, "service", "service")
    assert ownership.read(split).state == "service"
    # After cutover a forgotten legacy writer fails loudly, whichever statement it uses.
    for statement in ("UPDATE catalog_product SET stock = 3 WHERE id = 2",
                      "DELETE FROM catalog_product WHERE id = 3"):
        with pytest.raises(DjangoDatabaseError, match=r"table catalog_product is owned by the service"):
            monolith_write(statement)
    from legacy_monolith.catalog.models import Product

    with pytest.raises(DjangoDatabaseError, match="owned by the service"), transaction.atomic():
        Product.objects.filter(pk=2).update(name="forgotten legacy writer")
    service_exec(split, 'UPDATE "products" SET "stock" = 777 WHERE "id" = 2')
    assert service_value(split, 'SELECT "stock" FROM "products" WHERE "id" = 2') == 777


def test_a_refused_write_is_a_read_only_503_to_clients_not_a_500(guarded, client_for) -> None:
    """The guard's refusal is recognisable on every engine (PostgreSQL SQLSTATE 25006, MariaDB errno 1792,
    SQLite "read-only:"), so the shop's API and the catalog service answer 503 read_only with Retry-After."""
    from django.contrib.auth import get_user_model
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from extracted.catalog.db import make_engine
    from extracted.catalog.db import refused_as_read_only as service_sees_read_only
    from legacy_monolith.database import refused_as_read_only as shop_sees_read_only

    plan, split = guarded
    # The service's copy refuses (the monolith owns): the service's own driver error says read-only.
    engine = make_engine(split.service.url.render_as_string(hide_password=False))
    try:
        with pytest.raises(DBAPIError) as refused, engine.begin() as conn:
            conn.execute(text("UPDATE products SET stock = 1 WHERE id = 1"))
        assert service_sees_read_only(refused.value), refused.value
        with pytest.raises(DBAPIError) as other, engine.begin() as conn:
            conn.execute(text("UPDATE no_such_table SET x = 1"))
        assert not service_sees_read_only(other.value)
    finally:
        engine.dispose()

    ownership.set_owner(split, "monolith", "service")  # the monolith refuses now
    with pytest.raises(DjangoDatabaseError) as shop_refused:
        monolith_write("UPDATE catalog_product SET stock = 3 WHERE id = 2")
    assert shop_sees_read_only(shop_refused.value)
    staff = get_user_model().objects.filter(is_staff=True).first()
    assert staff is not None
    answer = client_for(staff).patch("/api/catalog/products/2/", {"name": "refused"}, format="json")
    assert answer.status_code == 503, answer.content
    assert answer.json()["code"] == "read_only"
    assert answer["Retry-After"] == "1"


def test_syncs_pass_the_guard_but_never_write_into_the_owner(guarded) -> None:
    plan, split = guarded
    back = ds.open_split(plan, reverse=True)
    try:
        monolith_write("UPDATE catalog_product SET name = 'synced forward' WHERE id = 4")
        assert ds.sync(split).upserted >= 1
        assert service_value(split, 'SELECT "name" FROM "products" WHERE "id" = 4') == "synced forward"

        ds.capture(back)
        ownership.set_owner(split, "monolith", "service")
        ownership.set_owner(split, "service", "service")
        service_exec(split, "UPDATE \"products\" SET \"name\" = 'made on the service' WHERE \"id\" = 5")
        # A forward sync (a follower that missed the cutover) must not overwrite the service's writes.
        monolith_rows = changelog_size(split)
        with pytest.raises(ds.OwnershipError, match="the service owns"):
            ds.sync(split)
        assert changelog_size(split) == monolith_rows
        # The reverse sync writes into the monolith's guarded copy.
        assert ds.sync(back).upserted >= 1
        with connection.cursor() as cur:
            cur.execute("SELECT name FROM catalog_product WHERE id = 5")
            assert cur.fetchone()[0] == "made on the service"
        assert ds.verify(back).ok
        # The same protection the other way once the monolith owns again.
        ownership.set_owner(split, "service", "monolith")
        ownership.set_owner(split, "monolith", "monolith")
        with pytest.raises(ds.OwnershipError, match="the monolith owns"):
            ds.sync(back)
    finally:
        back.close()


def test_the_changelog_stays_bounded_under_sustained_writes(guarded) -> None:
    plan, split = guarded
    sizes = []
    for round_ in range(10):
        for i in range(1, 41):
            monolith_write("UPDATE catalog_product SET stock = stock + 1 WHERE id = %s", [i])
        report = ds.sync(split)
        assert report.pruned >= 40
        sizes.append(changelog_size(split))
        assert report.lag_rows == 0, round_
    # 400 writes went through; the log never holds more than what is not applied yet.
    assert max(sizes) == 0, sizes
    assert ds.verify(split).ok


def test_a_recreated_changelog_is_read_from_its_start(guarded) -> None:
    """Rollback drops the reverse changelog; capturing again must not restart its ids under the reverse
    mark (the next reverse sync would skip every change below it)."""
    plan, split = guarded
    back = ds.open_split(plan, reverse=True)
    try:
        ownership.set_owner(split, "monolith", "service")
        ownership.set_owner(split, "service", "service")
        ds.capture(back)
        service_exec(split, 'UPDATE "products" SET "stock" = "stock" + 1 WHERE "id" <= 30')
        first = ds.sync(back)
        assert first.to_id >= 30
        ds.uncapture(back, drop_changelog=True)
        ds.capture(back)
        service_exec(split, "UPDATE \"products\" SET \"name\" = 'after the log came back' WHERE \"id\" = 7")
        second = ds.sync(back)
        assert second.upserted == 1 and second.to_id > first.to_id
        with connection.cursor() as cur:
            cur.execute("SELECT name FROM catalog_product WHERE id = 7")
            assert cur.fetchone()[0] == "after the log came back"

        # A log dropped and made again behind the engine's back (ids restart at 1): the mark is reset.
        conn = back.source.connect(autocommit=True)
        try:
            back.source.drop_changelog(conn, back.plan.changelog_table)
            back.source.ensure_changelog(conn, back.plan.changelog_table)
            if back.source.kind == "mysql":
                conn.commit()
        finally:
            conn.close()
        # More entries in the new log than the mark: its ids alone would not show that it started over.
        service_exec(split, 'UPDATE "products" SET "stock" = "stock" + 1 WHERE "id" <= 50')
        service_exec(split, "UPDATE \"products\" SET \"name\" = 'log restarted behind our back' WHERE \"id\" = 8")
        third = ds.sync(back)
        assert third.log_restarted and third.upserted == 50
        with connection.cursor() as cur:
            cur.execute("SELECT name FROM catalog_product WHERE id = 8")
            assert cur.fetchone()[0] == "log restarted behind our back"
        assert ds.verify(back).ok
    finally:
        back.close()


def test_two_plans_on_the_same_table_keep_their_own_capture(transactional_db, target_url: str,
                                                           tmp_path: Path) -> None:
    call_command("seed_shop", "--products", "20", "--users", "1", "--orders", "1", "-v", "0")
    first = ds.open_split(write_plan(tmp_path, target_url, name="one.yaml"))
    doc = yaml.safe_load((tmp_path / "one.yaml").read_text())
    doc["name"] = "catalog_again"
    other = tmp_path / "two.yaml"
    other.write_text(yaml.safe_dump(doc))
    second = ds.open_split(other)
    assert first.plan.changelog_table != second.plan.changelog_table
    try:
        ds.capture(first)
        ds.capture(second)
        ds.uncapture(first, drop_changelog=True)
        monolith_write("UPDATE catalog_product SET stock = stock + 1 WHERE id = 1")
        assert ds.status(second)["capture"] is True
        assert ds.status(second)["lag_rows"] == 1
        assert ds.status(first)["capture"] is False
    finally:
        ds.uncapture(first, drop_changelog=True)
        ds.uncapture(second, drop_changelog=True)
        first.close()
        second.close()
