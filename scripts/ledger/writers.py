"""The writers: a ``WriteLedger`` creates its own products, then its worker threads change, edit, create and
delete them through the router, recording each write and what the client was told; ``check`` hands that
record to the checker with an HTTP reader."""

from __future__ import annotations

import itertools
import random
import secrets
import threading
import time
from collections import Counter
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import httpx

from scripts.ledger.checks import check_record
from scripts.ledger.reader import CATEGORIES, CLIENT_TIMEOUT, PRODUCTS, HttpReader
from scripts.ledger.record import (
    ACKNOWLEDGED,
    AMBIGUOUS,
    REFUSED,
    LedgerError,
    LedgerRecord,
    LedgerReport,
    Tracked,
    Write,
    answer_code,
    classify,
)

INITIAL_STOCK = 10_000  # far from zero: a -1 is never refused for the stock it would take below zero
SKU_MAX = 32
SETUP_PATIENCE = 60.0  # how long setup writes retry through a freeze or a restart before giving up


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
            if classify(response.status_code, answer_code(response)) == AMBIGUOUS:
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
        code = answer_code(response)
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
