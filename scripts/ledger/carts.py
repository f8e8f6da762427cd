"""The cart's write ledger: shoppers that change their own carts while a plan moves the cart, recording what each
was told, and a checker that holds every cart to that record.

Each worker owns one cart, so the record is the whole truth about it: a logged-in customer through the API
(token), an anonymous visitor through the API (the monolith's session cookie), and an anonymous visitor through
the monolith's cart pages (``/cart/add/``, ``/cart/items/<id>/``: the monolith's cart gateway, local or at the
service). Each write is classified as :mod:`~scripts.ledger.record` classifies answers: acknowledged (the API's
2xx, a page's success message), refused (503 ``write_freeze``/``read_only``, 409 ``out_of_stock``, a page's error
message) or ambiguous (no answer: the worker then reads its cart again and carries on from what it holds, the
write counted as either).

What the worker expects its cart to hold is computed from its own acknowledged writes (add: more of a product;
set: the quantity; remove: gone), never taken from an answer, so a refused write that happened, or an
acknowledged one that was lost, shows up at the next check of that cart; every acknowledged API answer (which
carries the cart) is checked against the expectation at once, and :meth:`CartLedger.check` reads each cart at
the end (through the router, or any backend) and names every cart that differs.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from scripts.ledger.record import ACKNOWLEDGED, AMBIGUOUS, REFUSED

PASSWORD = "shop-demo-password"  # noqa: S105 - the seeded users' password
ROW = re.compile(r'<a href="/products/(\d+)/">.*?action="/cart/items/(\d+)/".*?name="quantity" value="(\d+)"', re.S)
MESSAGE = re.compile(r'<li class="(success|error)">([^<]*)</li>')


@dataclass
class CartReport:
    ok: bool
    carts: int
    counts: dict[str, int]
    by_kind: dict[str, dict[str, int]]
    answers: dict[str, int]
    problems: list[str] = field(default_factory=list)
    by_shopper: dict[str, dict[str, int]] = field(default_factory=dict)  # the shopper's kind -> outcomes


@dataclass
class Shopper:
    """One cart and what its owner was told about it."""

    name: str
    kind: str  # "api-user", "api-anonymous", "pages"
    client: httpx.Client
    expected: dict[int, int] = field(default_factory=dict)
    lines: dict[int, int] = field(default_factory=dict)  # product -> line id, as last seen
    problems: list[str] = field(default_factory=list)


class CartLedger:
    """``start()`` the workers, ``stop()`` them, ``check(base)``; ``counts`` while running."""

    def __init__(self, base_url: str, *, users: list[str], products: list[int], api_anonymous: int = 1,
                 pages: int = 1, readers: list[str] | None = None, seed: int = 11, pause: float = 0.02) -> None:
        self.base_url = base_url
        self.products = products
        self.pause = pause
        self.rng = random.Random(seed)  # noqa: S311 - a workload, not a secret
        self.shoppers: list[Shopper] = []
        for email in users:
            token = self._token(email)
            client = httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Token {token}"})
            self.shoppers.append(Shopper(email, "api-user", client))
        for n in range(api_anonymous):
            self.shoppers.append(Shopper(f"anonymous-api-{n}", "api-anonymous",
                                         httpx.Client(base_url=base_url, timeout=30)))
        for n in range(pages):
            self.shoppers.append(Shopper(f"anonymous-pages-{n}", "pages", httpx.Client(base_url=base_url, timeout=30)))
        # Readers: customers who only look at their carts (GET /api/cart/), and an anonymous visitor without one:
        # reads of carts that do not change, which a shadow can compare and a canary serve.
        self.readers = [self._token(email) for email in readers or []]
        self.reads: Counter[int] = Counter()
        self.writes: list[tuple[str, str, str, str]] = []  # (shopper, kind, outcome, answer)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _token(self, email: str) -> str:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            response = http.post("/api/accounts/login/", json={"email": email, "password": PASSWORD})
            response.raise_for_status()
            token: str = response.json()["token"]
            return token

    @property
    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(outcome for _s, _k, outcome, _a in self.writes)

    def start(self) -> None:
        """Starts a worker per shopper (again after :meth:`stop`: the expectations carry on)."""
        self._stop.clear()
        self._threads = []
        for shopper in self.shoppers:
            if shopper.kind == "pages":
                shopper.client.get(f"/products/{self.products[0]}/")  # the CSRF cookie (the add form's page)
            rng = random.Random(self.rng.random())  # noqa: S311 - a workload, not a secret
            thread = threading.Thread(target=self._work, args=(shopper, rng), name=f"cart-ledger-{shopper.name}",
                                      daemon=True)
            self._threads.append(thread)
            thread.start()
        if self.readers:
            thread = threading.Thread(target=self._read_carts, name="cart-ledger-reader", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _read_carts(self) -> None:
        # Anonymous readers are many browsers (sessions nobody has): what a canary's sticky cohorts are cut from.
        headers = [{"Authorization": f"Token {token}"} for token in self.readers] + [
            {"Cookie": f"sessionid=cartreader{n:04d}"} for n in range(100)]
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            n = 0
            while not self._stop.is_set():
                try:
                    status = http.get("/api/cart/", headers=headers[(n * 7) % len(headers)]).status_code
                except httpx.HTTPError:
                    status = 0
                http.cookies.clear()
                with self._lock:
                    self.reads[status] += 1
                n += 1
                time.sleep(self.pause * 2)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    # --- the workers ---

    def _note(self, shopper: Shopper, kind: str, outcome: str, answer: str) -> None:
        with self._lock:
            self.writes.append((shopper.name, kind, outcome, answer))

    def _work(self, shopper: Shopper, rng: random.Random) -> None:
        while not self._stop.is_set():
            product = rng.choice(self.products)
            line = shopper.lines.get(product) if product in shopper.expected else None
            if line is None or rng.random() < 0.5:
                kind, change = "add", (product, rng.randint(1, 2))
            elif rng.random() < 0.7:
                kind, change = "set", (product, rng.randint(1, 4))
            else:
                kind, change = "remove", (product, 0)
            try:
                outcome, answer = (self._page_write if shopper.kind == "pages" else self._api_write)(
                    shopper, kind, change, line)
            except httpx.HTTPError as exc:
                outcome, answer = AMBIGUOUS, type(exc).__name__
            self._note(shopper, kind, outcome, answer)
            if outcome == ACKNOWLEDGED:
                self._apply(shopper, kind, change)
            elif outcome == AMBIGUOUS:
                self._resync(shopper)
            time.sleep(self.pause)

    @staticmethod
    def _apply(shopper: Shopper, kind: str, change: tuple[int, int]) -> None:
        product, quantity = change
        if kind == "add":
            shopper.expected[product] = shopper.expected.get(product, 0) + quantity
        elif kind == "set":
            shopper.expected[product] = quantity
        else:
            shopper.expected.pop(product, None)

    def _api_write(self, shopper: Shopper, kind: str, change: tuple[int, int], line: int | None) -> tuple[str, str]:
        product, quantity = change
        http = shopper.client
        if kind == "add":
            response = http.post("/api/cart/items/", json={"product": product, "quantity": quantity})
        elif kind == "set":
            response = http.patch(f"/api/cart/items/{line}/", json={"quantity": quantity})
        else:
            response = http.delete(f"/api/cart/items/{line}/")
        outcome, answer = _classify(response)
        if outcome == ACKNOWLEDGED and response.status_code != 204:
            seen = _api_cart(response.json())
            after = dict(shopper.expected)
            if kind == "add":
                after[product] = after.get(product, 0) + quantity
            elif kind == "set":
                after[product] = quantity
            if {p: q for p, (q, _i) in seen.items()} != after:
                shopper.problems.append(f"{shopper.name}: {kind} {change} answered a cart of "
                                        f"{_show({p: q for p, (q, _i) in seen.items()})}, expected {_show(after)}")
            shopper.lines = {p: i for p, (_q, i) in seen.items()}
        return outcome, answer

    def _page_write(self, shopper: Shopper, kind: str, change: tuple[int, int], line: int | None) -> tuple[str, str]:
        product, quantity = change
        http = shopper.client
        token = http.cookies.get("csrftoken") or ""
        if kind == "add":
            response = http.post("/cart/add/", data={"product": product, "quantity": quantity,
                                                     "csrfmiddlewaretoken": token}, follow_redirects=True)
        else:
            response = http.post(f"/cart/items/{line}/", data={"quantity": quantity if kind == "set" else 0,
                                                              "csrfmiddlewaretoken": token}, follow_redirects=True)
        if response.status_code != 200:
            return _classify(response)
        html = response.text
        shopper.lines = {p: i for p, (_q, i) in _page_cart(html).items()}
        messages = MESSAGE.findall(html)
        if any(tag == "error" for tag, _text in messages):
            return REFUSED, f"page {next(text for tag, text in messages if tag == 'error')[:60]}"
        if kind == "add" and not any(tag == "success" for tag, _text in messages):
            return AMBIGUOUS, "page without a message"
        return ACKNOWLEDGED, ""

    def _resync(self, shopper: Shopper) -> None:
        """After a write with no answer: what the cart holds now is the expectation from here on."""
        for _attempt in range(30):
            try:
                found = self._read(shopper, shopper.client)
            except (httpx.HTTPError, LookupError):
                time.sleep(0.5)
                continue
            shopper.expected = {p: q for p, (q, _i) in found.items()}
            shopper.lines = {p: i for p, (_q, i) in found.items()}
            return

    @staticmethod
    def _read(shopper: Shopper, http: httpx.Client) -> dict[int, tuple[int, int]]:
        if shopper.kind == "pages":
            response = http.get("/cart/")
            if response.status_code != 200:
                raise LookupError(f"/cart/ answered {response.status_code}")
            return _page_cart(response.text)
        response = http.get("/api/cart/")
        if response.status_code != 200:
            raise LookupError(f"/api/cart/ answered {response.status_code}")
        return _api_cart(response.json())

    # --- the checker ---

    def check(self, base_url: str | None = None, *, kinds: tuple[str, ...] | None = None) -> CartReport:
        """Every cart (of the shoppers of ``kinds``, default all) read through ``base_url`` (default: where the
        writes went) against what its owner was told."""
        problems: list[str] = []
        for shopper in self.shoppers:
            if kinds is not None and shopper.kind not in kinds:
                continue
            problems += shopper.problems
            http = shopper.client
            if base_url is not None and base_url != self.base_url:
                http = httpx.Client(base_url=base_url, timeout=30, headers=dict(shopper.client.headers),
                                    cookies=shopper.client.cookies)
            try:
                found = {p: q for p, (q, _i) in self._read(shopper, http).items()}
            except (httpx.HTTPError, LookupError) as exc:
                problems.append(f"{shopper.name}: the cart could not be read: {exc}")
                continue
            if found != shopper.expected:
                problems.append(f"{shopper.name} ({shopper.kind}): the cart holds {_show(found)}, expected "
                                f"{_show(shopper.expected)} from its acknowledged writes")
        with self._lock:
            writes = list(self.writes)
        by_kind: dict[str, Counter[str]] = {}
        by_shopper: dict[str, Counter[str]] = {}
        kinds_of = {shopper.name: shopper.kind for shopper in self.shoppers}
        answers: Counter[str] = Counter()
        for name, kind, outcome, answer in writes:
            by_shopper.setdefault(kinds_of[name], Counter())[outcome] += 1
            by_kind.setdefault(kind, Counter())[outcome] += 1
            if outcome != ACKNOWLEDGED:
                answers[f"{kind} {answer}".strip()] += 1
        counts = Counter(outcome for _s, _k, outcome, _a in writes)
        return CartReport(ok=not problems, carts=len(self.shoppers),
                          counts={k: counts[k] for k in (ACKNOWLEDGED, REFUSED, AMBIGUOUS)},
                          by_kind={k: dict(v) for k, v in by_kind.items()}, answers=dict(answers), problems=problems,
                          by_shopper={k: dict(v) for k, v in by_shopper.items()})

    def close(self) -> None:
        for shopper in self.shoppers:
            shopper.client.close()


def _classify(response: httpx.Response) -> tuple[str, str]:
    status = response.status_code
    if 200 <= status < 300:
        return ACKNOWLEDGED, ""
    try:
        code = response.json().get("code") or ""
    except ValueError:
        code = ""
    if status in (409, 400, 404) or (status == 503 and code in ("write_freeze", "read_only")):
        return REFUSED, f"{status} {code}".strip()
    return AMBIGUOUS, f"{status} {code}".strip()


def _api_cart(body: dict[str, Any]) -> dict[int, tuple[int, int]]:
    return {int(item["product"]["id"]): (int(item["quantity"]), int(item["id"])) for item in body["items"]}


def _page_cart(html: str) -> dict[int, tuple[int, int]]:
    return {int(p): (int(q), int(i)) for p, i, q in ROW.findall(html)}


def _show(cart: dict[int, int]) -> str:
    return "{" + ", ".join(f"{p}: {q}" for p, q in sorted(cart.items())) + "}"
