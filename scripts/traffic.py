"""Realistic background traffic through the router while a plan runs: browsing, searching, product pages,
carts and checkouts by customers, and a staff member editing products.

Each request is checked against what its action may answer; anything else (and every transport error) is
a failed request. A 503 with code ``write_freeze`` is the cutover's bounded pause, counted on its own.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

PASSWORD = "shop-demo-password"  # noqa: S105 - the seeded demo accounts' documented password
ADDRESS = {"full_name": "Demo Shopper", "line1": "Storgatan 1", "city": "Malmö", "postal_code": "211 19",
           "country": "SE"}


@dataclass
class Tally:
    by_step: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, step: str, outcome: str, failure: str | None = None) -> None:
        with self.lock:
            self.by_step.setdefault(step, Counter())[outcome] += 1
            if failure is not None and len(self.failures) < 200:
                self.failures.append(f"[{step}] {failure}")

    def total(self, outcome: str) -> int:
        return sum(counter[outcome] for counter in self.by_step.values())


class Traffic:
    def __init__(self, base_url: str, *, customers: int = 5, workers: int = 6, seed: int = 7,
                 pause: float = 0.02, visitors: int = 100) -> None:
        self.base_url = base_url
        self.visitors = visitors
        self.workers = workers
        self.pause = pause
        self.random = random.Random(seed)
        self.step = "setup"
        self.tally = Tally()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        with httpx.Client(base_url=base_url, timeout=30) as http:
            self.tokens = [self._login(http, f"customer{n}@example.com") for n in range(1, customers + 1)]
            self.staff = self._login(http, "staff@example.com")
            listing = http.get("/api/catalog/products/", params={"page_size": 100, "in_stock": "true"}).json()
        self.products = [p["id"] for p in listing["results"]]
        if not self.products:
            raise RuntimeError("the shop has no product in stock; seed it first")

    @staticmethod
    def _login(http: httpx.Client, email: str) -> str:
        response = http.post("/api/accounts/login/", json={"email": email, "password": PASSWORD})
        response.raise_for_status()
        token: str = response.json()["token"]
        http.cookies.clear()  # token only: no session cookie shared between simulated users
        return token

    # -- actions: (method, path, json, token, allowed statuses) ---------------------------------------------

    def _action(self, rng: random.Random) -> tuple[str, list[tuple[str, str, object, str | None, set[int]]]]:
        product = rng.choice(self.products)
        roll = rng.random()
        if roll < 0.30:
            return "browse", [("GET", f"/api/catalog/products/?page={rng.randint(1, 5)}", None, None, {200, 404})]
        if roll < 0.45:
            term = rng.choice(["oak", "lamp", "steel", "crème", "knife"])
            return "search", [("GET", f"/api/catalog/products/?search={term}&ordering=-price", None, None, {200})]
        if roll < 0.70:
            return "product", [("GET", f"/api/catalog/products/{product}/", None, None, {200, 404})]
        if roll < 0.78:
            return "category", [("GET", f"/api/catalog/products/?category={rng.randint(1, 8)}", None, None, {200})]
        if roll < 0.83:
            return "home", [("GET", "/", None, None, {200})]
        if roll < 0.95:
            token = rng.choice(self.tokens)
            return "checkout", [
                ("POST", "/api/cart/items/", {"product": product, "quantity": 1}, token, {201, 409, 400}),
                ("POST", "/api/orders/checkout/", {"shipping_address": ADDRESS}, token, {201, 400, 409}),
            ]
        return "staff-edit", [("PATCH", f"/api/catalog/products/{product}/",
                               {"description": f"Edited at {time.time():.3f}"}, self.staff, {200})]

    def _worker(self, index: int) -> None:
        rng = random.Random(self.random.random() + index)
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            while not self._stop.is_set():
                name, calls = self._action(rng)
                # Anonymous shoppers are many browsers, each with its own session cookie: that is what a
                # canary's sticky cohorts are cut from (they would all be one "client address" otherwise).
                visitor = f"sessionid=visitor{rng.randrange(self.visitors):04d}{index}"
                for method, path, body, token, allowed in calls:
                    step = self.step
                    headers = {"Authorization": f"Token {token}"} if token else {"Cookie": visitor}
                    try:
                        response = http.request(method, path, json=body, headers=headers)
                    except httpx.HTTPError as exc:
                        self.tally.add(step, "failed", f"{name}: {method} {path}: {type(exc).__name__}: {exc}")
                        break
                    http.cookies.clear()
                    if response.status_code == 503 and _code(response) == "write_freeze":
                        self.tally.add(step, "frozen")
                        break
                    if response.status_code not in allowed:
                        self.tally.add(step, "failed", f"{name}: {method} {path} -> {response.status_code} "
                                                       f"{response.text[:160]}")
                        break
                    self.tally.add(step, "ok")
                time.sleep(self.pause)

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._worker, args=(index,), daemon=True, name=f"traffic-{index}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=35)


def _code(response: httpx.Response) -> str | None:
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None
