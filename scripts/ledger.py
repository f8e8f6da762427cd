"""A write ledger: clients that write to the catalog through the router while a plan moves it, recording what
each was told, and a checker that holds the final state to that record.

"An acknowledged write is never lost" is checked from the client's side, the only side that matters: every
write answered 2xx must be in the data, every write refused must not be, and a write whose answer never came
may be either. The workload is made to hit the races that lose writes:

- stock changes (+1/-1, so any subset of the ambiguous ones gives a distinct total) on every ledger product,
  from every worker;
- edits (PATCH of name and price) of each product by one worker only, so their order is known, while the
  other workers change the same product's stock (a whole-row save in an edit undoes a stock change);
- creates of new products, and deletes of some of them by the worker that created them.

Its products are its own (SKUs ``<prefix>-<run>-...``, created by the ledger with 10,000 in stock): no other
traffic touches them, so the record is the whole truth about them. They are inactive unless asked otherwise,
so shoppers never see them: listings keep their counts while the ledger creates and deletes (a shadow
comparing what shoppers see would otherwise count every create the service has not received yet as a
difference), and the checker reads as staff, who see inactive products too. Used by the crash tests
(tests/e2e/test_cutover_crashes.py) and by the demo (scripts/demo.py). Stand-alone::

    python scripts/ledger.py --base http://127.0.0.1:8080 --seconds 20
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

PRODUCTS = "/api/catalog/products/"
CATEGORIES = "/api/catalog/categories/"
INITIAL_STOCK = 10_000  # far from zero: a -1 is never refused for the stock it would take below zero
ACKNOWLEDGED, REFUSED, AMBIGUOUS = "acknowledged", "refused", "ambiguous"
# Answers of the router that do not say whether the backend received the write: it timed out waiting for the
# answer (504), or the connection broke after the request went out (502). A 502 "connect_failed" or a 503
# "circuit_open"/"write_freeze" says it was never sent: refused.
UNSURE_ROUTER_CODES = frozenset({"timeout", "bad_response", "upstream_error"})
SKU_MAX = 32
CLIENT_TIMEOUT = 45.0  # beyond the router's read timeouts (10 s service, 30 s monolith): the router answers first
SETUP_PATIENCE = 60.0  # how long setup writes retry through a freeze or a restart before giving up

# Each product as the checker needs it: sku -> the product as the API renders it, or None when it is gone.
Found = Mapping[str, Mapping[str, Any] | None]
# ``read({sku: id or None})`` -> Found for exactly those SKUs. The HTTP one is HttpReader; tests pass a fake.
ReadFn = Callable[[Mapping[str, int | None]], Found]


class LedgerError(RuntimeError):
    """The ledger could not set itself up, or could not read what it has to check."""


@dataclass
class Tracked:
    """One of the ledger's own products, as created: its stock and edits are what the checker follows."""

    id: int
    sku: str
    name: str
    price: str
    stock: int
    category: int
    is_active: bool = False


@dataclass
class Write:
    kind: str                    # "stock" | "edit" | "create" | "delete"
    sku: str
    product: int | None          # the product's id (None for a create whose answer gave none)
    outcome: str                 # acknowledged | refused | ambiguous
    seq: int                     # global order in which the writes were sent (an edit's order per product)
    worker: int
    status: int | None = None    # HTTP status; None when no answer came
    answer: str = ""             # the answer's code, or the transport error
    delta: int = 0               # stock
    values: dict[str, Any] = field(default_factory=dict)  # edit: name, price; create: sku, name, price, stock, category

    def describe(self) -> str:
        told = f"{self.status} {self.answer}".strip() if self.status is not None else self.answer or "no answer"
        what = {"stock": f"stock {self.delta:+d}",
                "edit": f"edit #{self.seq} (name {self.values.get('name')!r}, price {self.values.get('price')})",
                "create": "create", "delete": "delete"}[self.kind]
        return f"{what} {self.outcome} ({told})"


@dataclass
class LedgerRecord:
    """What the clients did and were told: all the checker needs, and nothing that needs HTTP."""

    prefix: str
    stem: str                    # every SKU of this ledger starts with it
    tracked: list[Tracked] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)


@dataclass
class LedgerReport:
    ok: bool
    checked: int                 # acknowledged writes checked
    problems: list[str]          # each names the product id, the write and what was found
    counts: dict[str, int]
    products: int = 0            # products read and held to the record (tracked and created)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)  # {"stock": {"acknowledged": n, ...}, ...}
    answers: dict[str, int] = field(default_factory=dict)  # what the non-2xx answers were ("PATCH 503 write_freeze")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify(status: int, code: str | None) -> str:
    if 200 <= status < 300:
        return ACKNOWLEDGED
    if status in (502, 504) and code in UNSURE_ROUTER_CODES:
        return AMBIGUOUS
    return REFUSED


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _price(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


# --- the checker (pure: a record and a read function) ---------------------------------------------------------------


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


# --- reading over HTTP ------------------------------------------------------------------------------------------------


class HttpReader:
    """Reads the ledger's products from a router or a backend: one listing of every product whose SKU has the
    ledger's stem (staff see inactive ones too), then a look-up by id of each known product the listing did not
    show, so that "gone" is a 404 of the product itself. Transient failures are retried for a while."""

    def __init__(self, base_url: str, headers: Mapping[str, str], stem: str, *, patience: float = 30.0) -> None:
        self.base_url, self.headers, self.stem, self.patience = base_url, dict(headers), stem, patience

    def __call__(self, wanted: Mapping[str, int | None]) -> Found:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=CLIENT_TIMEOUT) as http:
            listed: dict[str, Mapping[str, Any]] = {}
            page = 1
            while True:
                body = self._get(http, PRODUCTS, {"search": self.stem, "ordering": "id", "page_size": 100,
                                                  "page": page})
                if body is None:
                    raise LedgerError(f"{self.base_url}{PRODUCTS}?search={self.stem}&page={page}: 404")
                for product in body.get("results", []):
                    listed[product["sku"]] = product
                if not body.get("next"):
                    break
                page += 1
            found: dict[str, Mapping[str, Any] | None] = {}
            for sku, product_id in wanted.items():
                if sku in listed or product_id is None:
                    found[sku] = listed.get(sku)
                else:
                    found[sku] = self._get(http, f"{PRODUCTS}{product_id}/", None)
            return found

    def _get(self, http: httpx.Client, path: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.patience
        while True:
            problem: str
            try:
                response = http.get(path, params=params)
                if response.status_code == 404:
                    return None
                if response.status_code == 200:
                    body: dict[str, Any] = response.json()
                    return body
                problem = f"{response.status_code} {response.text[:200]}"
                if response.status_code < 500:
                    raise LedgerError(f"GET {path}: {problem}")
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                raise LedgerError(f"GET {path}: {problem} (for {self.patience:.0f} s)")
            time.sleep(0.5)


# --- the writers ------------------------------------------------------------------------------------------------------


class WriteLedger:
    def __init__(self, base_url: str, staff_token: str, *, workers: int = 3, products: int = 12,
                 seed: int = 11, pause: float = 0.01, prefix: str = "ledger", visible: bool = False) -> None:
        """Creates the ledger's ``products`` products through ``base_url`` (staff), each with 10,000 in stock,
        in an existing category (a new one in an empty shop), inactive unless ``visible``. Nothing is written to
        them until :meth:`start`."""
        if workers < 1 or products < 1:
            raise ValueError("a ledger needs at least one worker and one product")
        self.base_url = base_url
        self.staff_token = staff_token
        self.workers = workers
        self.pause = pause
        self.seed = seed
        self.visible = visible
        stem = f"{prefix}-{secrets.token_hex(3)}"  # a run of its own: the same prefix twice never collides
        longest = len(f"{stem}-w{workers}-99999")  # a worker's 99,999th create
        if longest > SKU_MAX:
            raise ValueError(f"prefix {prefix!r} is too long for {SKU_MAX}-character SKUs "
                             f"({len(prefix) - longest + SKU_MAX} characters at most)")
        self.record = LedgerRecord(prefix=prefix, stem=stem)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.crashed: list[str] = []  # a worker that died stopped writing: the check says so
        with self._client() as http:
            self.category = self._category(http)
            for index in range(products):
                self.record.tracked.append(self._create_tracked(http, index))

    # -- set-up -----------------------------------------------------------------------------------------------

    def _client(self, base_url: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=base_url or self.base_url, timeout=CLIENT_TIMEOUT,
                            headers={"Authorization": f"Token {self.staff_token}"})

    def _setup_write(self, http: httpx.Client, method: str, path: str, body: dict[str, Any]) -> httpx.Response | None:
        """The answer to a set-up write, retried while it is a definite 5xx (a write freeze, a restarting
        backend: nothing was done); None when no answer says what happened, so the caller looks."""
        deadline = time.monotonic() + SETUP_PATIENCE
        while True:
            try:
                response = http.request(method, path, json=body)
            except httpx.HTTPError:
                return None
            if response.status_code < 500:
                return response
            if classify(response.status_code, _code(response)) == AMBIGUOUS:
                return None
            if time.monotonic() > deadline:
                raise LedgerError(f"{method} {path}: {response.status_code} {response.text[:300]}")
            time.sleep(0.5)

    def _category(self, http: httpx.Client) -> int:
        response = http.get(CATEGORIES)
        response.raise_for_status()
        existing = response.json()
        if existing:
            return int(existing[0]["id"])
        slug = f"{self.record.stem}-category"
        deadline = time.monotonic() + SETUP_PATIENCE
        while time.monotonic() < deadline:
            created = self._setup_write(http, "POST", CATEGORIES, {"name": f"{self.record.prefix} ledger",
                                                                   "slug": slug})
            if created is not None and created.status_code == 201:
                return int(created.json()["id"])
            match = [c for c in http.get(CATEGORIES).json() if c["slug"] == slug]
            if match:
                return int(match[0]["id"])
            if created is not None:
                raise LedgerError(f"POST {CATEGORIES}: {created.status_code} {created.text[:300]}")
            time.sleep(0.5)
        raise LedgerError(f"could not create the ledger's category {slug}")

    def _create_tracked(self, http: httpx.Client, index: int) -> Tracked:
        tracked = Tracked(id=0, sku=f"{self.record.stem}-p{index}", name=f"{self.record.prefix} p{index}",
                          price=f"{100 + index}.00", stock=INITIAL_STOCK, category=self.category,
                          is_active=self.visible)
        body = {name: value for name, value in asdict(tracked).items() if name != "id"}
        deadline = time.monotonic() + SETUP_PATIENCE
        while time.monotonic() < deadline:
            created = self._setup_write(http, "POST", PRODUCTS, body)
            if created is not None and created.status_code == 201:
                tracked.id = int(created.json()["id"])
                return tracked
            # No answer, or "sku taken" after an attempt whose answer never came: find what that attempt did.
            product = HttpReader(self.base_url, http.headers, tracked.sku)({tracked.sku: None}).get(tracked.sku)
            if product is not None:
                tracked.id = int(product["id"])
                return tracked
            if created is not None:
                raise LedgerError(f"POST {PRODUCTS} {tracked.sku}: {created.status_code} {created.text[:300]}")
            time.sleep(0.5)
        raise LedgerError(f"could not create the ledger's product {tracked.sku}")

    # -- running ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("this ledger has run already; make a new one")
        for index in range(self.workers):
            thread = threading.Thread(target=self._worker, args=(index,), daemon=True, name=f"ledger-{index}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stops the writers once their requests in flight are answered (or time out): then the record is whole."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT + 15)
        hung = [t.name for t in self._threads if t.is_alive()]
        if hung:
            raise LedgerError(f"ledger writers did not stop: {', '.join(hung)}")

    @property
    def counts(self) -> Counter[str]:
        with self._lock:
            counts = Counter(w.outcome for w in self.record.writes)
        for key in (ACKNOWLEDGED, REFUSED, AMBIGUOUS):
            counts.setdefault(key, 0)
        return counts

    def check(self, base_url: str, *, headers: dict[str, str] | None = None) -> LedgerReport:
        """Reads every ledger product (and every created one, by SKU and id) from ``base_url`` — the router or
        a backend directly (pass its headers, e.g. a service's ``X-Identity-Token``; the staff token is sent
        too) — and holds it to the record:

        - stock: final == initial + the acknowledged deltas (+ any subset of the ambiguous ones);
        - edits: name and price are the last acknowledged edit's, or a later ambiguous one's; never a refused one;
        - creates: an acknowledged create exists with its fields, a refused one does not;
        - deletes: an acknowledged delete is gone (404), a refused delete's product still exists.

        Stops the writers first if they still run: a record with writes in flight cannot be checked."""
        if not self._stop.is_set() and self._threads:
            self.stop()
        with self._lock:
            record = LedgerRecord(self.record.prefix, self.record.stem, list(self.record.tracked),
                                  list(self.record.writes))
        reader = HttpReader(base_url, {"Authorization": f"Token {self.staff_token}", **(headers or {})},
                            record.stem)
        report = check_record(record, reader)
        if self.crashed:
            report.problems.extend(self.crashed)
            report.ok = False
        return report

    def _record(self, write: Write) -> None:
        with self._lock:
            self.record.writes.append(write)

    def _send(self, http: httpx.Client, worker: int, kind: str, sku: str, product: int | None, method: str,
              path: str, body: dict[str, Any] | None, **extra: Any) -> tuple[Write, httpx.Response | None]:
        with self._lock:
            seq = next(self._seq)
        try:
            response = http.request(method, path, json=body)
        except httpx.HTTPError as exc:  # timeouts included: the write may or may not have happened
            write = Write(kind, sku, product, AMBIGUOUS, seq, worker, None, type(exc).__name__, **extra)
            self._record(write)
            return write, None
        code = _code(response)
        write = Write(kind, sku, product, classify(response.status_code, code), seq, worker, response.status_code,
                      code or "", **extra)
        if kind == "create" and write.outcome == ACKNOWLEDGED:
            try:
                write.product = int(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                write.outcome, write.answer = AMBIGUOUS, "2xx without an id"
        self._record(write)
        return write, response

    def _worker(self, index: int) -> None:
        try:
            self._write(index)
        except Exception as exc:  # noqa: BLE001 - any bug here must reach the report, not die with the thread
            with self._lock:
                self.crashed.append(f"ledger worker {index} stopped writing: {type(exc).__name__}: {exc}")

    def _write(self, index: int) -> None:
        rng = random.Random(self.seed * 7919 + index)  # noqa: S311 - a reproducible workload, not security
        own = [t for i, t in enumerate(self.record.tracked) if i % self.workers == index]
        edits: Counter[int] = Counter()
        created: list[tuple[int, str]] = []  # acknowledged creates of this worker, not yet deleted
        made = 0
        with self._client() as http:
            while not self._stop.is_set():
                roll = rng.random()
                if roll < 0.55 or (roll < 0.80 and not own):
                    # Any worker, any ledger product: the same product gets stock changes from several workers
                    # while its one editor PATCHes it.
                    product = rng.choice(self.record.tracked)
                    delta = rng.choice((1, -1))
                    self._send(http, index, "stock", product.sku, product.id, "POST", f"{PRODUCTS}{product.id}/stock/",
                               {"delta": delta, "reason": "ledger"}, delta=delta)
                elif roll < 0.80:
                    product = rng.choice(own)
                    edits[product.id] += 1
                    n = edits[product.id]
                    # Unique per product, so the final values say which edit they came from.
                    values: dict[str, Any] = {"name": f"{product.name} edit {n}",
                                              "price": str(Decimal(product.price) + Decimal(n) / 100)}
                    self._send(http, index, "edit", product.sku, product.id, "PATCH", f"{PRODUCTS}{product.id}/",
                               values, values=values)
                elif roll < 0.92 or not created:
                    made += 1
                    sku = f"{self.record.stem}-w{index}-{made}"
                    values = {"sku": sku, "name": f"{self.record.prefix} new {index}-{made}",
                              "price": f"{rng.randint(1, 99_999) / 100:.2f}", "stock": rng.randint(0, 50),
                              "category": self.category, "is_active": self.visible}
                    write, _ = self._send(http, index, "create", sku, None, "POST", PRODUCTS, values, values=values)
                    if write.outcome == ACKNOWLEDGED and write.product is not None:
                        created.append((write.product, sku))
                else:
                    product_id, sku = created.pop(rng.randrange(len(created)))
                    self._send(http, index, "delete", sku, product_id, "DELETE", f"{PRODUCTS}{product_id}/", None)
                time.sleep(self.pause)


def main() -> int:
    parser = argparse.ArgumentParser(description="Write through a router for a while, then check every write.")
    parser.add_argument("--base", default="http://127.0.0.1:8080", help="the router (or a backend)")
    parser.add_argument("--email", default="staff@example.com")
    parser.add_argument("--password", default="shop-demo-password")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--products", type=int, default=12)
    parser.add_argument("--prefix", default="ledger")
    args = parser.parse_args()
    with httpx.Client(base_url=args.base, timeout=30) as http:
        login = http.post("/api/accounts/login/", json={"email": args.email, "password": args.password})
        login.raise_for_status()
    ledger = WriteLedger(args.base, login.json()["token"], workers=args.workers, products=args.products,
                         prefix=args.prefix)
    ledger.start()
    time.sleep(args.seconds)
    ledger.stop()
    report = ledger.check(args.base)
    print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
