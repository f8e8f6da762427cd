"""The shipments' ledger: shipments asked for as the orders service's checkout asks for them, moved along by staff,
and read by their customers, through the router while a plan moves shipping; what each was told is recorded, and
a checker holds the shipments to that record.

Each worker makes shipments of its own (``POST /api/shipping/internal/shipments/`` with the orders service's token,
for order ids nobody else uses: ``ORDER_BASE`` and up, for one of its customers), then moves each one
along ``pending → packed → shipped → in_transit → delivered`` as staff, every move with a note of its own:

- a 2xx is acknowledged: the move must be in the shipment's history exactly once, in the order it was made;
- a refusal (503 ``write_freeze``/``read_only``) must not be there; the worker tries the same move again;
- no answer (or the router's 502/504) may be either: the shipment is read again and the worker goes on from what
  it finds.

The customers the shipments are for reach now and then for another's (by the list's ``?order=`` filter: an empty
page; by its URL: a 404), and :meth:`ShipmentsLedger.check` reads each one's own list: every ledger shipment in it
must be one made for them (a customer never sees another's, whichever side answers).
Readers of shipments that do not change (customers nobody else's traffic orders for, and anonymous browsers refused
alike by both sides) give the shadow and the canary something to compare that sync lag does not blur.
:meth:`ShipmentsLedger.check` reads every shipment as staff (through the router, or at an owner), a page of 100 at a
time, and names every difference from the record.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from scripts.ledger.orders import _login
from scripts.ledger.record import ACKNOWLEDGED, AMBIGUOUS, REFUSED, answer_code

ORDER_BASE: Final = 900_000_000  # the ledger's order ids: far above any the shop makes
LIFECYCLE: Final = ("pending", "packed", "shipped", "in_transit", "delivered")
FREEZE_CODES: Final = ("write_freeze", "read_only")
S: Final = "/api/shipping/shipments/"


@dataclass
class Made:
    """One ledger shipment: its order, its customer, and the moves acknowledged (notes, in order)."""

    order: int
    user: int
    id: int | None = None
    status: str = "pending"
    moves: list[str] = field(default_factory=list)      # acknowledged notes, in order
    refused: list[str] = field(default_factory=list)    # notes that must not be in the history
    unsure: list[str] = field(default_factory=list)     # notes that may be
    unsure_status: bool = False                         # the last move's answer never came


@dataclass
class ShipmentsReport:
    ok: bool
    counts: dict[str, int]   # writes by outcome
    answers: dict[str, int]  # what the refused and the unsure writes were told
    shipments: int           # ledger shipments found
    moves: int               # acknowledged moves found
    reads: dict[str, int]
    problems: list[str] = field(default_factory=list)


class ShipmentsLedger:
    """``start()`` the workers and readers, ``stop()`` them, ``check(base)``."""

    def __init__(self, base_url: str, *, service_token: str, customers: list[str], readers: list[str],
                 workers: int = 2, staff: str = "staff@example.com", pause: float = 0.1) -> None:
        self.base_url = base_url
        self.service_token = service_token
        self.workers = workers
        self.pause = pause
        self.run_id = uuid.uuid4().hex[:6]
        with httpx.Client(base_url=base_url, timeout=30) as http:
            self.staff_token = _login(http, staff)
            self.customers: list[tuple[int, str]] = []
            for email in customers:
                token = _login(http, email)
                me = http.get("/api/accounts/me/", headers={"Authorization": f"Token {token}"})
                me.raise_for_status()
                self.customers.append((int(me.json()["id"]), token))
            self.readers = [_login(http, email) for email in readers]
        self.made: list[Made] = []
        self.outcomes: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()
        self.reads: Counter[str] = Counter()
        self.problems: list[str] = []
        self._next_order = ORDER_BASE + int(self.run_id, 16) % 1_000_000 * 100
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        self._threads = [threading.Thread(target=self._work, args=(n,), daemon=True, name=f"shipments-ledger-{n}")
                         for n in range(self.workers)]
        self._threads.append(threading.Thread(target=self._read, daemon=True, name="shipments-ledger-reader"))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    # --- the writers ---

    def _order(self) -> int:
        with self._lock:
            self._next_order += 1
            return self._next_order

    def _tell(self, outcome: str, answer: str) -> None:
        with self._lock:
            self.outcomes[outcome] += 1
            if answer:
                self.answers[answer] += 1

    def _work(self, n: int) -> None:
        staff = {"Authorization": f"Token {self.staff_token}"}
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            while not self._stop.is_set():
                user = self.customers[(n + len(self.made)) % len(self.customers)][0]
                shipment = Made(self._order(), user)
                if not self._create(http, shipment):
                    continue
                with self._lock:
                    self.made.append(shipment)
                while not self._stop.is_set() and shipment.status != LIFECYCLE[-1]:
                    self._move(http, shipment, staff)
                    time.sleep(self.pause)

    def _create(self, http: httpx.Client, shipment: Made) -> bool:
        """Asked for until an answer says it exists (a repeat is harmless: the order's one shipment)."""
        body = {"order": shipment.order, "user": shipment.user, "carrier": "dhl"}
        while not self._stop.is_set():
            try:
                response = http.post("/api/shipping/internal/shipments/", json=body,
                                     headers={"X-Service-Token": self.service_token})
            except httpx.HTTPError as exc:
                self._tell(AMBIGUOUS, f"create {type(exc).__name__}")
            else:
                code = answer_code(response) or ""
                if response.status_code in (200, 201):
                    shipment.id = int(response.json()["id"])
                    self._tell(ACKNOWLEDGED, "")
                    return True
                outcome = REFUSED if response.status_code == 503 and code in FREEZE_CODES else AMBIGUOUS
                self._tell(outcome, f"create {response.status_code} {code}".strip())
            time.sleep(0.2)
        return False

    def _move(self, http: httpx.Client, shipment: Made, staff: dict[str, str]) -> None:
        status = LIFECYCLE[LIFECYCLE.index(shipment.status) + 1]
        note = f"ledger-{self.run_id}-{shipment.order}-{status}-{uuid.uuid4().hex[:6]}"
        body = {"status": status, "note": note}
        if status == "shipped":
            body["tracking_number"] = f"TRK-{shipment.order}"
        response: httpx.Response | None = None
        try:
            response = http.post(f"{S}{shipment.id}/status/", json=body, headers=staff)
            answer = f"{response.status_code} {answer_code(response) or ''}".strip()
        except httpx.HTTPError as exc:
            answer = type(exc).__name__
        if response is not None and response.status_code == 200:
            shipment.moves.append(note)
            shipment.status = status
            shipment.unsure_status = False
            self._tell(ACKNOWLEDGED, "")
            return
        if response is not None and response.status_code == 503 and answer_code(response) in FREEZE_CODES:
            shipment.refused.append(note)
            self._tell(REFUSED, f"move {answer}")
            return
        # No answer, or not one a move may give: it may have happened; go on from what the shipment is now.
        shipment.unsure.append(note)
        self._tell(AMBIGUOUS, f"move {answer}")
        for _attempt in range(60):
            try:
                now = http.get(f"{S}{shipment.id}/", headers=staff)
                if now.status_code == 200:
                    shipment.status = str(now.json()["status"])
                    shipment.unsure_status = True
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        self.problems.append(f"shipment {shipment.id}: could not be read after a move without an answer")

    # --- the readers ---

    def _read(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            n = 0
            while not self._stop.is_set():
                try:
                    status = self._customer_read(http, n) if n % 5 == 4 else self._stable_read(http, n)
                except (httpx.HTTPError, ValueError, KeyError):
                    status = "no answer"
                http.cookies.clear()
                with self._lock:
                    self.reads[status] += 1
                n += 1
                time.sleep(self.pause / 2)

    def _stable_read(self, http: httpx.Client, n: int) -> str:
        """Shipments that do not change: a reader's list and one of them, or an anonymous browser's 401 (sessions
        nobody has: what a canary's sticky cohorts are cut from, a few customers being too few for a 10% share)."""
        if n % 3 != 0 or not self.readers:
            return f"anonymous {http.get(S, headers={'Cookie': f'sessionid=shipreader{n % 100:04d}'}).status_code}"
        headers = {"Authorization": f"Token {self.readers[n % len(self.readers)]}"}
        listing = http.get(S, headers=headers)
        if listing.status_code == 200 and listing.json()["results"]:
            results = listing.json()["results"]
            return str(http.get(f"{S}{results[n % len(results)]['id']}/", headers=headers).status_code)
        return str(listing.status_code)

    def _customer_read(self, http: httpx.Client, n: int) -> str:
        """A ledger customer reaching for another's shipment: by the list's ``?order=`` filter (an empty page) and
        by its URL (404). Both answers stay the same however the shipments move, so the shadow compares them
        without sync lag; the customers' own lists, which do change, are checked by :meth:`check`."""
        user, token = self.customers[n % len(self.customers)]
        headers = {"Authorization": f"Token {token}"}
        with self._lock:
            others = [m for m in self.made if m.user != user and m.id is not None]
        if not others:
            return "no other's yet"
        other = others[n % len(others)]
        listing = http.get(S, headers=headers, params={"order": other.order})
        if listing.status_code == 200 and listing.json()["count"] != 0:
            self.problems.append(f"user {user} was shown shipment {other.id} of another customer (?order=)")
        detail = http.get(f"{S}{other.id}/", headers=headers)
        return f"{listing.status_code} other {detail.status_code}"

    def _theirs(self, user: int, shown: list[dict[str, Any]]) -> None:
        with self._lock:
            mine = {m.order for m in self.made if m.user == user}
            ledger = {m.order for m in self.made}
        for shipment in shown:
            order = int(shipment["order"])
            if order in ledger and order not in mine:
                self.problems.append(f"user {user} was shown shipment {shipment['id']} of another customer")

    # --- the checker ---

    def check(self, base_url: str | None = None, *, headers: dict[str, str] | None = None) -> ShipmentsReport:
        """Every ledger shipment read as staff at ``base_url`` (default: the router, with staff's token)."""
        problems = list(self.problems)
        found = moves = 0
        sent = headers or {"Authorization": f"Token {self.staff_token}"}
        try:
            with httpx.Client(base_url=base_url or self.base_url, timeout=30, headers=sent) as http:
                by_order = shipments_by_order(http)
        except (httpx.HTTPError, LookupError) as exc:
            return ShipmentsReport(ok=False, counts=dict(self.outcomes), answers=dict(self.answers), shipments=0,
                                   moves=0, reads=dict(self.reads),
                                   problems=[*problems, f"the shipments could not be read at {base_url}: {exc}"])
        if headers is None:   # the customers' own lists, with their own tokens (through the router or the monolith)
            problems += self._own_lists(base_url or self.base_url)
        for made in list(self.made):
            results = by_order.get(made.order, [])
            if len(results) != 1:
                problems.append(f"order {made.order}: {len(results)} shipments, acknowledged one ({made.id})")
                continue
            found += 1
            moves += self._held(made, results[0], problems)
        return ShipmentsReport(ok=not problems, counts=dict(self.outcomes), answers=dict(self.answers),
                               shipments=found, moves=moves, reads=dict(self.reads), problems=problems)

    def _own_lists(self, base_url: str) -> list[str]:
        problems: list[str] = []
        for user, token in self.customers:
            try:
                with httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Token {token}"}) as http:
                    shown = [s for found in shipments_by_order(http).values() for s in found]
            except (httpx.HTTPError, LookupError) as exc:
                problems.append(f"user {user}: their shipments could not be read at {base_url}: {exc}")
                continue
            before = len(self.problems)
            self._theirs(user, shown)
            problems += self.problems[before:]
            del self.problems[before:]
            listed = {int(s["order"]) for s in shown}
            with self._lock:
                theirs = [m for m in self.made if m.user == user and m.id is not None]
            problems += [f"user {user}: their shipment {m.id} (order {m.order}) is not in their list"
                         for m in theirs if m.order not in listed]
        return problems

    @staticmethod
    def _held(made: Made, shipment: dict[str, Any], problems: list[str]) -> int:
        notes = [event["note"] for event in shipment["events"]]
        where = f"shipment {shipment['id']} (order {made.order})"
        if shipment["id"] != made.id:
            problems.append(f"{where}: acknowledged as shipment {made.id}")
        kept = [note for note in notes if note in made.moves]
        if kept != made.moves:
            problems.append(f"{where}: acknowledged moves {made.moves}, history holds {kept}")
        for note in made.refused:
            if note in notes:
                problems.append(f"{where}: the refused move {note} is in its history")
        known = set(made.moves) | set(made.unsure) | {"", "Order placed"}
        strangers = [note for note in notes if note not in known]
        if strangers:
            problems.append(f"{where}: moves nobody made: {strangers}")
        if not made.unsure_status and shipment["status"] != made.status:
            problems.append(f"{where}: is {shipment['status']}, its last acknowledged move made it {made.status}")
        return len(kept)


def shipments_by_order(http: httpx.Client) -> dict[int, list[dict[str, Any]]]:
    """Every shipment the caller sees (staff: all), by order, read a page of 100 at a time. Checkouts may go on
    meanwhile: a new shipment comes first (newest first), pushing the rest one place down, so a page can show
    again what the previous one ended with; each shipment is kept once, by its id (nothing is deleted, so none
    is skipped). A shipment made after the reading began may be missing: callers check what came before it."""
    found: dict[int, dict[int, dict[str, Any]]] = {}
    for page in range(1, 100_000):
        response = http.get(S, params={"page": page, "page_size": 100})
        if response.status_code != 200:
            raise LookupError(f"{S}?page={page} answered {response.status_code}: {response.text[:200]}")
        body = response.json()
        for shipment in body["results"]:
            found.setdefault(int(shipment["order"]), {})[int(shipment["id"])] = shipment
        if not body.get("next"):
            break
    return {order: list(by_id.values()) for order, by_id in found.items()}
