"""The orders' ledger: customers who fill their carts through the API and check out through the router while a plan
moves the orders, recording what each was told, and a checker that holds the orders, the carts and the stock to
that record.

Each worker is one customer of its own (nobody else touches its cart or its orders) buying the ledger's own
products (created by the ledger at set-up, through the router, with :data:`INITIAL_STOCK` each: no other traffic
buys them), so the record is the whole truth about them:

- cart adds (``POST /api/cart/items/``): acknowledged ones make the cart the customer expects; refused ones
  (503 ``write_freeze``) do not; an ambiguous one (no answer) is settled by reading the cart again;
- checkouts (``POST /api/orders/checkout/`` with an ``Idempotency-Key`` of their own): a 201 with an order id is
  acknowledged, and its lines must be the expected cart; a refusal (503 ``write_freeze``, 400, 409, and the
  saga's 503 ``checkout_unavailable``, which says nothing was ordered) leaves the cart as it was; an ambiguous
  answer (no answer, the router's 502/504, 503 ``checkout_pending``, any other 5xx) is sent again with the same
  key, up to :data:`RETRIES` times (the customer is then told the outcome of that one checkout); still ambiguous
  after that, it may or may not have placed an order;
- cancels (``POST /api/orders/{id}/cancel/``) of some acknowledged orders: 200 acknowledged, a refusal leaves the
  order as it was, an ambiguous one is settled by reading the order.

:meth:`OrdersLedger.check` reads every customer's orders (through the router, or at the backend that owns them:
the monolith with the customer's token, the orders service with an identity token minted as the router would),
their carts and the ledger products' stock, and names every difference: an acknowledged order missing, twice,
with other lines or another status (cancelled exactly when a cancel was acknowledged); an order nobody was told
about (beyond the still-ambiguous checkouts); a cart other than the expected one; a product whose stock is not
``INITIAL_STOCK`` minus what the orders found (not cancelled) hold.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import jwt

from scripts.ledger.record import ACKNOWLEDGED, AMBIGUOUS, REFUSED, answer_code

PASSWORD: Final = "shop-demo-password"  # noqa: S105 - the seeded users' password
INITIAL_STOCK: Final = 100_000
RETRIES: Final = 20
ADDRESS: Final = {"full_name": "Ledger Customer", "line1": "Kungsgatan 2", "line2": "", "city": "Lund",
                  "postal_code": "222 22", "country": "SE"}


@dataclass
class Placed:
    id: int
    key: str
    lines: dict[int, int]
    cancelled: bool | None = False  # None: a cancel whose answer never came (either)


@dataclass
class Customer:
    email: str
    token: str
    user_id: int
    client: httpx.Client
    before: set[int] = field(default_factory=set)  # orders it had before the ledger started
    cart: dict[int, int] = field(default_factory=dict)  # what its acknowledged adds and checkouts left in it
    placed: list[Placed] = field(default_factory=list)
    unsure: int = 0  # checkouts still ambiguous after every retry: each may have placed one order
    problems: list[str] = field(default_factory=list)


@dataclass
class OrdersReport:
    ok: bool
    counts: dict[str, int]  # checkouts by outcome
    cancels: dict[str, int]
    answers: dict[str, int]  # what the refused and the retried checkouts were told
    orders: int  # acknowledged orders found
    problems: list[str] = field(default_factory=list)


class OrdersLedger:
    """``start()`` the customers, ``stop()`` them, ``check(base)``; ``counts`` while running."""

    def __init__(self, base_url: str, *, customers: list[str], staff: str = "staff@example.com", products: int = 4,
                 readers: list[str] | None = None, cancel_share: float = 0.2, seed: int = 13,
                 pause: float = 0.05) -> None:
        self.base_url = base_url
        self.pause = pause
        self.cancel_share = cancel_share
        self.rng = random.Random(seed)  # noqa: S311 - a workload, not a secret
        self.stem = f"orders-ledger-{uuid.uuid4().hex[:6]}"
        with httpx.Client(base_url=base_url, timeout=30) as http:
            staff_token = _login(http, staff)
            self.products = [self._product(http, staff_token, n) for n in range(products)]
        self.customers = []
        for email in customers:
            with httpx.Client(base_url=base_url, timeout=30) as http:
                token = _login(http, email)
                me = http.get("/api/accounts/me/", headers={"Authorization": f"Token {token}"})
                me.raise_for_status()
            client = httpx.Client(base_url=base_url, timeout=40, headers={"Authorization": f"Token {token}"})
            customer = Customer(email, token, int(me.json()["id"]), client)
            customer.before = set(_order_ids(client))
            customer.cart = _cart(client)
            self.customers.append(customer)
        with httpx.Client(base_url=base_url, timeout=30) as http:
            self.readers = [_login(http, email) for email in readers or []]
        self.reads: Counter[str] = Counter()  # "200", "anonymous 401", ...
        self.checkouts: list[tuple[str, str, str]] = []  # (customer, outcome, answer)
        self.cancels: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _product(self, http: httpx.Client, staff_token: str, n: int) -> int:
        headers = {"Authorization": f"Token {staff_token}"}
        categories = http.get("/api/catalog/categories/", headers=headers)
        categories.raise_for_status()
        sku = f"{self.stem}-{n}"
        body = {"sku": sku, "name": f"Orders ledger {n}", "price": f"{10 + n}.50", "stock": INITIAL_STOCK,
                "category": int(categories.json()[0]["id"]), "is_active": True}
        for _attempt in range(60):
            try:
                created = http.post("/api/catalog/products/", json=body, headers=headers)
            except httpx.HTTPError:
                created = None
            if created is not None and created.status_code == 201:
                return int(created.json()["id"])
            found = http.get("/api/catalog/products/", params={"search": sku}, headers=headers).json()["results"]
            if found:
                return int(found[0]["id"])
            time.sleep(0.5)
        raise RuntimeError(f"could not create the orders ledger's product {sku}")

    @property
    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(outcome for _c, outcome, _a in self.checkouts)

    def start(self) -> None:
        """A worker per customer (again after :meth:`stop`: the record carries on)."""
        self._stop.clear()
        self._threads = []
        for customer in self.customers:
            rng = random.Random(self.rng.random())  # noqa: S311 - a workload, not a secret
            self._threads.append(threading.Thread(target=self._work, args=(customer, rng), daemon=True,
                                                  name=f"orders-ledger-{customer.email}"))
        if self.readers:
            self._threads.append(threading.Thread(target=self._read_orders, daemon=True, name="orders-ledger-reader"))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=RETRIES * 45)

    def close(self) -> None:
        for customer in self.customers:
            customer.client.close()

    # --- readers: orders that do not change, for the shadow and the canary ---

    def _read_orders(self) -> None:
        # Anonymous readers are many browsers (sessions nobody has; the API refuses them, alike on both sides):
        # what a canary's sticky cohorts are cut from, a few customers being too few for a 10% share.
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            n = 0
            while not self._stop.is_set():
                anonymous = n % 3 == 2
                headers = ({"Cookie": f"sessionid=ordersreader{n % 100:04d}"} if anonymous
                           else {"Authorization": f"Token {self.readers[n % len(self.readers)]}"})
                try:
                    listing = http.get("/api/orders/", headers=headers)
                    status = listing.status_code
                    if status == 200 and listing.json()["results"]:
                        first = listing.json()["results"][n % len(listing.json()["results"])]["id"]
                        status = http.get(f"/api/orders/{first}/", headers=headers).status_code
                except (httpx.HTTPError, ValueError, KeyError):
                    status = 0
                http.cookies.clear()
                with self._lock:
                    self.reads[f"anonymous {status}" if anonymous else str(status)] += 1
                n += 1
                time.sleep(self.pause)

    # --- the customers ---

    def _work(self, customer: Customer, rng: random.Random) -> None:
        while not self._stop.is_set():
            for _ in range(rng.randint(1, 2)):
                self._add(customer, rng.choice(self.products), rng.randint(1, 3))
                time.sleep(self.pause)
            if customer.cart:
                self._checkout(customer)
            placed = [order for order in customer.placed if order.cancelled is False]
            if placed and rng.random() < self.cancel_share:
                self._cancel(customer, rng.choice(placed[-3:]))
            time.sleep(self.pause)

    def _add(self, customer: Customer, product: int, quantity: int) -> None:
        try:
            response = customer.client.post("/api/cart/items/", json={"product": product, "quantity": quantity})
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 201:
            customer.cart[product] = customer.cart.get(product, 0) + quantity
            return
        if response is not None and response.status_code == 503 and answer_code(response) in ("write_freeze",
                                                                                                 "read_only"):
            return
        # No answer, or not one an add may give: what the cart holds now is the expectation from here on.
        for _attempt in range(60):
            try:
                customer.cart = _cart(customer.client)
                return
            except (httpx.HTTPError, LookupError):
                time.sleep(0.5)
        customer.problems.append(f"{customer.email}: the cart could not be read after an add without an answer")

    def _checkout(self, customer: Customer) -> None:
        key = f"{self.stem}-{customer.user_id}-{uuid.uuid4().hex[:12]}"
        expected = dict(customer.cart)
        told: list[str] = []
        outcome, order = AMBIGUOUS, None
        for attempt in range(RETRIES):
            try:
                response = customer.client.post("/api/orders/checkout/", json={"shipping_address": ADDRESS},
                                                 headers={"Idempotency-Key": key})
            except httpx.HTTPError as exc:
                told.append(type(exc).__name__)
            else:
                code = answer_code(response) or ""
                told.append(f"{response.status_code} {code}".strip())
                if response.status_code == 201:
                    outcome, order = ACKNOWLEDGED, response.json()
                    break
                if response.status_code in (400, 409, 422) or (response.status_code == 503 and code in (
                        "write_freeze", "read_only", "checkout_unavailable")):
                    outcome = REFUSED
                    break
            time.sleep(min(0.2 * 2 ** attempt, 3.0))
        answer = " then ".join(told) if outcome != ACKNOWLEDGED or len(told) > 1 else ""
        with self._lock:
            self.checkouts.append((customer.email, outcome, answer))
        if order is not None:
            lines: dict[int, int] = {}
            for line in order.get("lines", []):
                lines[int(line["product"])] = lines.get(int(line["product"]), 0) + int(line["quantity"])
            if lines != expected:
                customer.problems.append(f"{customer.email}: checkout {key} answered order {order.get('id')} with "
                                         f"lines {_show(lines)}, the cart held {_show(expected)}")
            customer.placed.append(Placed(int(order["id"]), key, expected))
            customer.cart = {}
        elif outcome == AMBIGUOUS:
            customer.unsure += 1
            self._add_resync(customer)

    def _add_resync(self, customer: Customer) -> None:
        for _attempt in range(60):
            try:
                customer.cart = _cart(customer.client)
                return
            except (httpx.HTTPError, LookupError):
                time.sleep(0.5)

    def _cancel(self, customer: Customer, order: Placed) -> None:
        try:
            response = customer.client.post(f"/api/orders/{order.id}/cancel/")
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            order.cancelled = True
            outcome = ACKNOWLEDGED
        elif response is not None and (response.status_code in (404, 409) or (
                response.status_code == 503 and answer_code(response) in ("write_freeze", "read_only"))):
            outcome = f"{REFUSED} {response.status_code} {answer_code(response) or ''}".strip()
        else:
            order.cancelled = None
            outcome = f"{AMBIGUOUS} {response.status_code if response is not None else 'no answer'}"
        with self._lock:
            self.cancels[outcome] += 1

    # --- the checker ---

    def check(self, base_url: str | None = None, *, identity_secret: str | None = None) -> OrdersReport:
        """Every customer's orders read at ``base_url`` (default: the router; with ``identity_secret``, an orders
        service read as the router would call it), their carts and the products' stock through the router."""
        problems: list[str] = []
        taken: Counter[int] = Counter()
        found_acknowledged = 0
        for customer in self.customers:
            problems += customer.problems
            headers = ({"X-Identity-Token": _mint(customer.user_id, identity_secret)} if identity_secret
                       else {"Authorization": f"Token {customer.token}"})
            try:
                with httpx.Client(base_url=base_url or self.base_url, timeout=30, headers=headers) as http:
                    orders = {int(o["id"]): o for o in _orders(http) if int(o["id"]) not in customer.before}
            except (httpx.HTTPError, LookupError) as exc:
                problems.append(f"{customer.email}: the orders could not be read at {base_url}: {exc}")
                continue
            for placed in customer.placed:
                order = orders.pop(placed.id, None)
                if order is None:
                    problems.append(f"{customer.email}: acknowledged order {placed.id} ({placed.key}) is missing")
                    continue
                found_acknowledged += 1
                lines = _lines(order)
                if lines != placed.lines:
                    problems.append(f"{customer.email}: order {placed.id} holds {_show(lines)}, acknowledged with "
                                    f"{_show(placed.lines)}")
                cancelled = order["status"] == "cancelled"
                if placed.cancelled is not None and cancelled != placed.cancelled:
                    problems.append(f"{customer.email}: order {placed.id} is {order['status']}, its cancel was "
                                    f"{'acknowledged' if placed.cancelled else 'never acknowledged'}")
                if not cancelled:
                    taken.update(lines)
            if len(orders) > customer.unsure:
                problems.append(f"{customer.email}: orders nobody was told about: {sorted(orders)} ({customer.unsure} "
                                "checkouts left ambiguous)")
            for order in orders.values():
                if order["status"] != "cancelled":
                    taken.update(_lines(order))
            try:
                cart = _cart(customer.client)
            except (httpx.HTTPError, LookupError) as exc:
                problems.append(f"{customer.email}: the cart could not be read: {exc}")
            else:
                if cart != customer.cart:
                    problems.append(f"{customer.email}: the cart holds {_show(cart)}, expected {_show(customer.cart)}")
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            for product in self.products:
                stock = int(http.get(f"/api/catalog/products/{product}/").json()["stock"])
                if stock != INITIAL_STOCK - taken[product]:
                    problems.append(f"product {product}: stock {stock}, expected {INITIAL_STOCK} - {taken[product]} "
                                    "held by the orders found")
        with self._lock:
            checkouts = list(self.checkouts)
            cancels = dict(self.cancels)
        counts = Counter(outcome for _c, outcome, _a in checkouts)
        answers = Counter(answer for _c, _o, answer in checkouts if answer)
        return OrdersReport(ok=not problems, counts={k: counts[k] for k in (ACKNOWLEDGED, REFUSED, AMBIGUOUS)},
                            cancels=cancels, answers=dict(answers), orders=found_acknowledged, problems=problems)


def _login(http: httpx.Client, email: str) -> str:
    response = http.post("/api/accounts/login/", json={"email": email, "password": PASSWORD})
    response.raise_for_status()
    http.cookies.clear()
    token: str = response.json()["token"]
    return token


def _mint(user_id: int, secret: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "staff": False, "iat": now, "exp": now + 600, "iss": "strangler-router",
                       "aud": "strangler-services"}, secret, algorithm="HS256")


def _orders(http: httpx.Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for page in range(1, 1000):
        response = http.get("/api/orders/", params={"page": page, "page_size": 100})
        if response.status_code == 404 and page > 1:
            break
        if response.status_code != 200:
            raise LookupError(f"/api/orders/?page={page} answered {response.status_code}: {response.text[:200]}")
        body = response.json()
        out += body["results"]
        if not body.get("next"):
            break
    return out


def _order_ids(http: httpx.Client) -> list[int]:
    return [int(order["id"]) for order in _orders(http)]


def _lines(order: dict[str, Any]) -> dict[int, int]:
    lines: dict[int, int] = {}
    for line in order["lines"]:
        lines[int(line["product"])] = lines.get(int(line["product"]), 0) + int(line["quantity"])
    return lines


def _cart(http: httpx.Client) -> dict[int, int]:
    response = http.get("/api/cart/")
    if response.status_code != 200:
        raise LookupError(f"/api/cart/ answered {response.status_code}")
    return {int(item["product"]["id"]): int(item["quantity"]) for item in response.json()["items"]}


def _show(cart: dict[int, int]) -> str:
    return "{" + ", ".join(f"{p}: {q}" for p, q in sorted(cart.items())) + "}"
