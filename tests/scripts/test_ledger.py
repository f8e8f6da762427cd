"""The write ledger's checker (scripts/ledger.py), without HTTP: a record of what clients were told, a fake
read function standing for the data, and what the checker makes of the two. The ledger through real
processes is tests/e2e/test_ledger.py."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from scripts.ledger import (
    ACKNOWLEDGED,
    AMBIGUOUS,
    REFUSED,
    LedgerError,
    LedgerRecord,
    Tracked,
    Write,
    check_record,
    classify,
)

STEM = "t-abc123"


class Data:
    """What a backend holds, by SKU; ``read`` is the checker's read function over it."""

    def __init__(self, record: LedgerRecord) -> None:
        self.rows: dict[str, dict[str, Any]] = {
            t.sku: {"id": t.id, "sku": t.sku, "name": t.name, "price": t.price, "stock": t.stock,
                    "category": t.category} for t in record.tracked}
        self.asked: Mapping[str, int | None] = {}

    def read(self, wanted: Mapping[str, int | None]) -> dict[str, dict[str, Any] | None]:
        self.asked = dict(wanted)
        return {sku: copy.deepcopy(self.rows.get(sku)) for sku in wanted}


class Writes:
    """Builds a record's writes in order, and applies the ones that happened to ``Data``."""

    def __init__(self) -> None:
        self.record = LedgerRecord(prefix="t", stem=STEM, tracked=[
            Tracked(id=1, sku=f"{STEM}-p0", name="t p0", price="100.00", stock=10_000, category=3),
            Tracked(id=2, sku=f"{STEM}-p1", name="t p1", price="101.00", stock=10_000, category=3),
        ])
        self.data = Data(self.record)
        self.seq = 0

    def add(self, kind: str, sku: str, product: int | None, outcome: str, *, happened: bool | None = None,
            status: int | None = None, **extra: Any) -> Write:
        self.seq += 1
        status = status if status is not None else {ACKNOWLEDGED: 200, REFUSED: 503, AMBIGUOUS: None}[outcome]
        write = Write(kind, sku, product, outcome, self.seq, 0, status, "write_freeze" if status == 503 else "",
                      **extra)
        self.record.writes.append(write)
        if happened if happened is not None else outcome == ACKNOWLEDGED:
            rows = self.data.rows
            if kind == "stock":
                rows[sku]["stock"] += write.delta
            elif kind == "edit":
                rows[sku].update(write.values)
            elif kind == "create":
                rows[sku] = {"id": product, **write.values}
            else:
                rows.pop(sku)
        return write

    def stock(self, index: int, delta: int, outcome: str = ACKNOWLEDGED, **kw: Any) -> Write:
        t = self.record.tracked[index]
        return self.add("stock", t.sku, t.id, outcome, delta=delta, **kw)

    def edit(self, index: int, n: int, outcome: str = ACKNOWLEDGED, **kw: Any) -> Write:
        t = self.record.tracked[index]
        return self.add("edit", t.sku, t.id, outcome, values={"name": f"{t.name} edit {n}", "price": f"{100 + n}.50"},
                        **kw)

    def create(self, n: int, outcome: str = ACKNOWLEDGED, **kw: Any) -> Write:
        sku = f"{STEM}-w0-{n}"
        return self.add("create", sku, 100 + n if outcome == ACKNOWLEDGED else None, outcome, values={
            "sku": sku, "name": f"t new {n}", "price": "12.30", "stock": n, "category": 3}, **kw)

    def delete(self, create: Write, outcome: str = ACKNOWLEDGED, **kw: Any) -> Write:
        return self.add("delete", create.sku, create.product, outcome, **kw)

    def check(self):
        return check_record(self.record, self.data.read)


@pytest.fixture
def w() -> Writes:
    writes = Writes()
    writes.stock(0, +1)
    writes.stock(0, -1)
    writes.stock(0, +1)
    writes.edit(0, 1)
    writes.stock(1, -1)
    writes.edit(0, 2)
    made = writes.create(1)
    writes.create(2)
    writes.delete(made)
    return writes


def test_what_happened_as_told_is_ok_and_every_acknowledged_write_is_checked(w):
    report = w.check()
    assert report.ok, report.problems
    assert report.checked == 9
    assert report.counts == {"acknowledged": 9, "refused": 0, "ambiguous": 0}
    assert report.by_kind["stock"] == {"acknowledged": 4}
    # Every tracked and created product is asked for, with the id it is known by.
    assert w.data.asked == {f"{STEM}-p0": 1, f"{STEM}-p1": 2, f"{STEM}-w0-1": 101, f"{STEM}-w0-2": 102}
    assert report.to_dict()["counts"]["acknowledged"] == 9


def test_a_lost_acknowledged_stock_change_is_named(w):
    w.stock(1, +1, happened=False)  # acknowledged, but not in the data: a lost update
    report = w.check()
    assert not report.ok
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert problem.startswith(f"product 2 ({STEM}-p1): stock 9999 (-1), expected 10000")
    assert "an acknowledged stock change was lost" in problem


def test_a_refused_stock_change_that_happened_is_named(w):
    w.stock(0, +1, REFUSED, happened=True)
    report = w.check()
    assert not report.ok
    assert "product 1" in report.problems[0] and "(+1)" in report.problems[0]
    assert "a refused or unknown stock change was applied" in report.problems[0]


def test_a_refused_edit_present_is_named(w):
    w.edit(0, 3, REFUSED, happened=True)
    report = w.check()
    assert not report.ok
    assert report.problems == [
        f"product 1 ({STEM}-p0): name 't p0 edit 3', price 103.50 is edit #10 (name 't p0 edit 3', price 103.50) "
        f"refused (503 write_freeze): a write the client was told failed happened (expected edit #6 "
        f"(name 't p0 edit 2', price 102.50) acknowledged (200))"]


def test_a_lost_acknowledged_edit_is_named(w):
    w.edit(0, 3, happened=False)
    report = w.check()
    assert not report.ok
    assert "is the earlier edit #6" in report.problems[0]
    assert "a later acknowledged edit was lost" in report.problems[0]


def test_every_edit_lost_is_named(w):
    w.data.rows[f"{STEM}-p0"].update(name="t p0", price="100.00")
    report = w.check()
    assert "is as created: every acknowledged edit was lost" in report.problems[0]


@pytest.mark.parametrize("happened", [True, False])
def test_ambiguous_writes_may_or_may_not_have_happened(w, happened):
    w.stock(0, +1, AMBIGUOUS, happened=happened)
    w.stock(0, -1, AMBIGUOUS, happened=happened)
    w.stock(1, -1, AMBIGUOUS, happened=happened)
    w.edit(1, 1, AMBIGUOUS, happened=happened)  # after the last acknowledged edit (none): either value
    w.create(3, AMBIGUOUS, happened=happened)
    report = w.check()
    assert report.ok, report.problems
    assert report.counts == {"acknowledged": 9, "refused": 0, "ambiguous": 5}


def test_ambiguous_stock_changes_bound_the_range(w):
    w.stock(0, +1, AMBIGUOUS, happened=True)
    w.data.rows[f"{STEM}-p0"]["stock"] += 1  # one more than even the ambiguous change allows
    report = w.check()
    assert not report.ok
    assert report.problems == [f"product 1 ({STEM}-p0): stock 10003 (+2), expected 10001 (= 10000 initial +1 from "
                               "3 acknowledged stock changes), or 10001..10002 with some of the 1 ambiguous ones: "
                               "a refused or unknown stock change was applied"]


def test_an_ambiguous_edit_before_the_last_acknowledged_one_is_not_allowed(w):
    t = w.record.tracked[0]
    w.edit(0, 3, AMBIGUOUS, happened=False)
    w.edit(0, 4)
    w.data.rows[t.sku].update(name="t p0 edit 3", price="103.50")  # the ambiguous edit landed last
    report = w.check()
    assert not report.ok
    assert "is the earlier edit #10" in report.problems[0]


def test_creates_and_deletes(w):
    kept = w.create(5)
    w.delete(kept, REFUSED)             # refused: it must still be there
    w.create(6, REFUSED)               # refused: it must not exist
    assert w.check().ok

    w.data.rows.pop(kept.sku)           # the refused delete happened, or the acknowledged create was lost
    w.data.rows[f"{STEM}-w0-6"] = {"id": 999, "sku": f"{STEM}-w0-6", "name": "t new 6", "price": "12.30",
                                   "stock": 6, "category": 3}
    w.data.rows[f"{STEM}-w0-1"] = {"id": 101, "sku": f"{STEM}-w0-1", "name": "t new 1", "price": "12.30",
                                   "stock": 1, "category": 3}  # an acknowledged delete undone
    w.data.rows[f"{STEM}-w0-2"]["price"] = "12.31"  # an acknowledged create with other values
    problems = w.check().problems
    assert len(problems) == 4, problems
    assert problems[0].startswith(f"product 101 ({STEM}-w0-1): delete acknowledged (200), but the product is "
                                  "still there")
    assert problems[1] == (f"product 102 ({STEM}-w0-2): price is Decimal('12.31'), but it was created "
                           "(acknowledged) with Decimal('12.30')")
    assert problems[2].startswith(f"product 105 ({STEM}-w0-5): delete refused (503 write_freeze) and create "
                                  "acknowledged (200), but the product is gone (404)")
    assert problems[3].startswith(f"product 999 ({STEM}-w0-6): create refused (503 write_freeze), but the "
                                  "product exists")


def test_an_id_handed_out_again_is_named_not_taken_for_the_deleted_product(w):
    # The checker looks a deleted product up by id: another product under that id is not "still there".
    w.data.rows[f"{STEM}-w0-1"] = {"id": 101, "sku": f"{STEM}-other", "name": "someone else's", "price": "1.00",
                                   "stock": 1, "category": 3}
    assert w.check().problems == [f"product 101 ({STEM}-w0-1): the id now belongs to another product "
                                  f"({STEM}-other): an id given to a client was handed out again"]


def test_a_tracked_product_gone_is_named(w):
    w.data.rows.pop(f"{STEM}-p1")
    assert w.check().problems == [f"product 2 ({STEM}-p1): gone (404), with 1 acknowledged writes on it and no "
                                  "delete"]


def test_a_read_that_fails_is_not_ok(w):
    def read(wanted):
        raise LedgerError("GET /api/catalog/products/: 502 connect_failed (for 30 s)")

    report = check_record(w.record, read)
    assert not report.ok
    assert report.problems == ["could not read the ledger's products: GET /api/catalog/products/: 502 "
                               "connect_failed (for 30 s)"]


@pytest.mark.parametrize(("status", "code", "outcome"), [
    (200, None, ACKNOWLEDGED), (201, None, ACKNOWLEDGED), (204, None, ACKNOWLEDGED),
    (400, None, REFUSED), (404, None, REFUSED), (409, "out_of_stock", REFUSED),
    (503, "write_freeze", REFUSED), (503, "circuit_open", REFUSED), (502, "connect_failed", REFUSED),
    (500, "server_error", REFUSED),
    # The router waited for an answer that never came, or lost the connection after sending: the backend may
    # have done it.
    (504, "timeout", AMBIGUOUS), (502, "bad_response", AMBIGUOUS), (502, "upstream_error", AMBIGUOUS),
])
def test_answers_are_classified(status, code, outcome):
    assert classify(status, code) == outcome
