"""The checker: pure, a record and a read function in, a report out. It holds what the data holds to what
the clients were told (see ``WriteLedger.check``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from scripts.ledger.record import (
    ACKNOWLEDGED,
    AMBIGUOUS,
    REFUSED,
    LedgerError,
    LedgerRecord,
    LedgerReport,
    ReadFn,
    Tracked,
    Write,
)


def _price(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None



def check_record(record: LedgerRecord, read: ReadFn) -> LedgerReport:
    """Holds what ``read`` finds to ``record``: see :meth:`WriteLedger.check`."""
    writes = sorted(record.writes, key=lambda w: w.seq)
    counts = Counter(w.outcome for w in writes)
    by_kind: dict[str, Counter[str]] = {}
    answers: Counter[str] = Counter()
    for w in writes:
        by_kind.setdefault(w.kind, Counter())[w.outcome] += 1
        if w.outcome != ACKNOWLEDGED:
            answers[f"{w.kind} {w.status if w.status is not None else '-'} {w.answer}".strip()] += 1
    wanted: dict[str, int | None] = {t.sku: t.id for t in record.tracked}
    for w in writes:
        if w.kind == "create":
            wanted[w.sku] = w.product
    report = LedgerReport(ok=False, checked=counts[ACKNOWLEDGED], problems=[],
                          counts={k: counts[k] for k in (ACKNOWLEDGED, REFUSED, AMBIGUOUS)}, products=len(wanted),
                          by_kind={k: dict(v) for k, v in by_kind.items()}, answers=dict(answers))
    try:
        found = read(wanted)
    except LedgerError as exc:
        report.problems.append(f"could not read the ledger's products: {exc}")
        return report
    problems = report.problems
    for tracked in record.tracked:
        mine = [w for w in writes if w.sku == tracked.sku]
        _check_tracked(tracked, mine, found.get(tracked.sku), problems)
    creates = [w for w in writes if w.kind == "create"]
    for create in creates:
        deletes = [w for w in writes if w.kind == "delete" and w.sku == create.sku]
        _check_created(create, deletes, found.get(create.sku), problems)
    report.ok = not problems
    return report


def _where(sku: str, product: int | None) -> str:
    return f"product {product if product is not None else '?'} ({sku})"


def _reused(where: str, sku: str, now: Mapping[str, Any] | None, problems: list[str]) -> bool:
    """A look-up by id found another product: the id was handed out again after this one was deleted."""
    if now is None or now.get("sku") in (None, sku):
        return False
    problems.append(f"{where}: the id now belongs to another product ({now.get('sku')}): an id given to a client "
                    f"was handed out again")
    return True


def _check_tracked(tracked: Tracked, writes: list[Write], now: Mapping[str, Any] | None, problems: list[str]) -> None:
    where = _where(tracked.sku, tracked.id)
    if _reused(where, tracked.sku, now, problems):
        return
    acked = [w for w in writes if w.outcome == ACKNOWLEDGED]
    if now is None:
        problems.append(f"{where}: gone (404), with {len(acked)} acknowledged writes on it and no delete")
        return
    # Stock: every acknowledged delta, plus any subset of the ambiguous ones, and nothing refused.
    changes = [w for w in writes if w.kind == "stock"]
    expected = tracked.stock + sum(w.delta for w in changes if w.outcome == ACKNOWLEDGED)
    unsure = [w.delta for w in changes if w.outcome == AMBIGUOUS]
    low, high = expected + sum(d for d in unsure if d < 0), expected + sum(d for d in unsure if d > 0)
    stock = now.get("stock")
    if not isinstance(stock, int) or not low <= stock <= high:
        count = sum(1 for w in changes if w.outcome == ACKNOWLEDGED)
        off = f" ({stock - expected:+d})" if isinstance(stock, int) else ""
        also = f", or {low}..{high} with some of the {len(unsure)} ambiguous ones" if unsure else ""
        verdict = ("an acknowledged stock change was lost" if isinstance(stock, int) and stock < low else
                   "a refused or unknown stock change was applied" if isinstance(stock, int) else
                   "the answer has no stock")
        problems.append(f"{where}: stock {stock}{off}, expected {expected} (= {tracked.stock} initial "
                        f"{expected - tracked.stock:+d} from {count} acknowledged stock changes){also}: {verdict}")
    # Edits, in the order their one worker sent them: the last acknowledged one, or an ambiguous one after it.
    edits = [w for w in writes if w.kind == "edit"]
    last = max((i for i, w in enumerate(edits) if w.outcome == ACKNOWLEDGED), default=-1)
    initial = (tracked.name, _price(tracked.price))
    pairs = [(w.values.get("name"), _price(w.values.get("price"))) for w in edits]
    allowed_pairs = [pairs[last] if last >= 0 else initial] + [
        pairs[i] for i in range(last + 1, len(edits)) if edits[i].outcome == AMBIGUOUS]
    current = (now.get("name"), _price(now.get("price")))
    if current in allowed_pairs:
        return
    expected_edit = edits[last].describe() if last >= 0 else "no edit (none was acknowledged)"
    shown = f"name {current[0]!r}, price {current[1]}"
    matches = [i for i, pair in enumerate(pairs) if pair == current]
    if matches:
        hit = edits[matches[-1]]
        if hit.outcome == REFUSED:
            problems.append(f"{where}: {shown} is {hit.describe()}: a write the client was told failed happened "
                            f"(expected {expected_edit})")
        else:
            problems.append(f"{where}: {shown} is the earlier {hit.describe()}: a later acknowledged edit was "
                            f"lost (expected {expected_edit})")
    elif current == initial:
        problems.append(f"{where}: {shown} is as created: every acknowledged edit was lost (expected "
                        f"{expected_edit})")
    else:
        problems.append(f"{where}: {shown} was never written by the ledger (expected {expected_edit})")


CREATED_FIELDS = ("sku", "name", "price", "stock", "category", "is_active")


def _check_created(create: Write, deletes: list[Write], now: Mapping[str, Any] | None, problems: list[str]) -> None:
    where = _where(create.sku, create.product if create.product is not None else (now or {}).get("id"))
    deleted = [d for d in deletes if d.outcome == ACKNOWLEDGED]
    kept = [d for d in deletes if d.outcome == REFUSED]
    if _reused(where, create.sku, now, problems):
        return
    if create.outcome == REFUSED:
        if now is not None:
            problems.append(f"{where}: {create.describe()}, but the product exists: a write the client was told "
                            f"failed happened")
        return
    if deleted:
        if now is not None:
            problems.append(f"{where}: {deleted[0].describe()}, but the product is still there")
        return
    if now is None:
        if create.outcome == ACKNOWLEDGED and not any(d.outcome == AMBIGUOUS for d in deletes):
            lost = f"{kept[0].describe()} and " if kept else ""
            problems.append(f"{where}: {lost}{create.describe()}, but the product is gone (404): an "
                            f"acknowledged create was lost")
        return
    for name in CREATED_FIELDS:
        want, got = create.values.get(name), now.get(name)
        if name == "price":
            want, got = _price(want), _price(got)
        if want != got:
            problems.append(f"{where}: {name} is {got!r}, but it was created ({create.outcome}) with {want!r}")
