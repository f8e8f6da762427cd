"""The login ledger: people who log in, use, and give up their credentials while a plan moves the accounts, recording
what each was told, and a checker that holds every credential and address book to that record.

Who takes part (each through the router, as a client would):

- **token holders** (seeded users, their hashes made by Django): log in through the API (``POST
  /api/accounts/login/``), use the token at once and after (``/api/accounts/me/``: the user it was issued to; and
  ``/api/cart/``: another capability, which learns the caller from the monolith's copy of the tokens or from the
  router's identity bridge), keep an address book (create, delete: each acknowledged write recorded), and now and
  then log out (``POST /api/accounts/logout/``): the token must then be refused, through the router, within
  :data:`REVOCATION_BOUND` seconds (the bridge's cache), and stay refused;
- **page visitors**: log in through the monolith's login page (a session cookie) and use the session on
  ``/api/accounts/me/``; one session is opened before anything moves and kept to the end;
- **a registrant**: registers new users (``POST /api/accounts/register/``) whose passwords must keep working.

A request answered 503 ``write_freeze``/``read_only`` (the cutover's freeze) was refused and is tried again; any
other answer that is not what the record says is a problem, named with the step it happened in. :meth:`check`
re-reads everything at the end: every live token and session still the user's, every logged-out token refused,
every registered user able to log in with the password they chose (through the API and the login page), every
address book exactly its acknowledged writes.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from scripts.ledger.record import ACKNOWLEDGED, AMBIGUOUS, REFUSED

PASSWORD = "shop-demo-password"  # noqa: S105 - the seeded users' password
# The router's identity.cache_seconds (5) and the reverse sync's lag: a logged-out token is refused by then.
REVOCATION_BOUND = 6.0
FREEZE_CODES = ("write_freeze", "read_only")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class LoginReport:
    ok: bool
    counts: dict[str, int]
    problems: list[str]
    tokens: int
    sessions: int
    registered: int
    revocations: list[float]
    addresses: int


@dataclass
class Holder:
    """One user and what they were told: their token (None: logged out), their address book, their revoked tokens."""

    email: str
    user_id: int | None = None
    token: str | None = None
    revoked: list[str] = field(default_factory=list)
    addresses: dict[int, str] = field(default_factory=dict)  # id -> full_name, as acknowledged
    made: int = 0


class LoginLedger:
    """``start()`` the workers, ``stop()`` them, ``check()``; ``counts`` and ``step`` while running."""

    def __init__(self, base_url: str, *, users: list[str], page_users: list[str], register: bool = True,
                 pause: float = 0.1, logout_every: int = 25, login_every: float = 3.0) -> None:
        self.base_url = base_url
        self.pause = pause
        self.logout_every = logout_every
        # A login hashes the password (Django's PBKDF2, 1,000,000 iterations: about half a CPU-second here): page
        # logins and registrations are paced, and a token holder logs out every ``logout_every`` rounds, so that
        # the ledger does not starve a 2-core machine's monolith (its health checks failed and the router opened
        # its circuit when they were not).
        self.login_every = login_every
        self.step = "start"
        self.holders = [Holder(email) for email in users]
        self.page_users = page_users
        self.register = register
        self.registered: dict[str, str] = {}  # email -> password, acknowledged
        self.sessions: dict[str, tuple[httpx.Client, int]] = {}  # name -> (client holding the cookie, user id)
        self.revocations: list[float] = []
        self.last_logout = 0.0
        self.problems: list[str] = []
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- running -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        # The session opened before anything moves, kept to the end (never logged out).
        if "kept" not in self.sessions and self.page_users:
            self._page_session("kept", self.page_users[0])
        self._threads = [threading.Thread(target=self._holder, args=(h,), daemon=True) for h in self.holders]
        self._threads.append(threading.Thread(target=self._pages, daemon=True))
        if self.register:
            self._threads.append(threading.Thread(target=self._registrant, daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self._threads = []

    def _problem(self, text: str) -> None:
        with self._lock:
            self.problems.append(f"[{self.step}] {text}")

    def _note(self, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] += 1

    def _client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Token {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, timeout=30, headers=headers)

    def _answer(self, response: httpx.Response, ok: tuple[int, ...], what: str) -> str:
        """The outcome of a write: acknowledged (an ``ok`` status), refused (the freeze), else a problem."""
        if response.status_code in ok:
            self._note(ACKNOWLEDGED)
            return ACKNOWLEDGED
        if response.status_code == 503 and _code(response) in FREEZE_CODES:
            self._note(REFUSED)
            return REFUSED
        self._note("failed")
        self._problem(f"{what}: {response.status_code} {response.text[:200]}")
        return "failed"

    # --- token holders -------------------------------------------------------------------------------------------

    def _holder(self, holder: Holder) -> None:
        rounds = 0
        while not self._stop.is_set():
            rounds += 1
            try:
                if holder.token is None:
                    self._log_in(holder)
                elif rounds % self.logout_every == 0:
                    self._log_out(holder)
                else:
                    self._use(holder, rounds)
            except httpx.HTTPError as exc:
                self._note(AMBIGUOUS)
                self._problem(f"{holder.email}: no answer ({type(exc).__name__}: {exc})")
            time.sleep(self.pause)

    def _log_in(self, holder: Holder) -> None:
        with self._client() as http:
            response = http.post("/api/accounts/login/", json={"email": holder.email, "password": PASSWORD})
        if self._answer(response, (200,), f"{holder.email} login") != ACKNOWLEDGED:
            return
        body = response.json()
        holder.token, holder.user_id = body["token"], body["user"]["id"]
        if holder.token in holder.revoked:
            self._problem(f"{holder.email}: login gave back a token logged out before")
        self._check_token(holder, "right after login")

    def _check_token(self, holder: Holder, when: str) -> None:
        with self._client(holder.token) as http:
            for path in ("/api/accounts/me/", "/api/cart/"):
                response = http.get(path)
                self._note("read")
                if response.status_code != 200:
                    self._problem(f"{holder.email}: {path} {when}: {response.status_code} {response.text[:160]}")
                elif path.endswith("/me/") and response.json().get("id") != holder.user_id:
                    self._problem(f"{holder.email}: {path} {when} answered user {response.json().get('id')}")

    def _use(self, holder: Holder, rounds: int) -> None:
        self._check_token(holder, "in use")
        with self._client(holder.token) as http:
            if holder.addresses and rounds % 3 == 0:
                address = min(holder.addresses)
                outcome = self._answer(http.delete(f"/api/accounts/addresses/{address}/"), (204,),
                                       f"{holder.email} address delete")
                if outcome == ACKNOWLEDGED:
                    del holder.addresses[address]
                return
            holder.made += 1
            name = f"ledger {holder.email} {holder.made}"
            response = http.post("/api/accounts/addresses/", json={
                "full_name": name, "line1": "1 Ledger Lane", "city": "Ledgerton", "postal_code": "L1",
                "country": "GB"})
            if self._answer(response, (201,), f"{holder.email} address create") == ACKNOWLEDGED:
                holder.addresses[int(response.json()["id"])] = name

    def _log_out(self, holder: Holder) -> None:
        token = holder.token
        with self._client(token) as http:
            response = http.post("/api/accounts/logout/")
        if self._answer(response, (204,), f"{holder.email} logout") != ACKNOWLEDGED or token is None:
            return
        holder.token = None
        holder.revoked.append(token)
        told = time.monotonic()
        self.last_logout = told
        # Refused everywhere: the accounts' API (through the identity bridge once the service owns identity, its
        # answers cached) and another capability's (the monolith's, from its copy of the tokens).
        waiting = {"/api/accounts/me/", "/api/cart/"}
        with self._client(token) as http:
            while waiting:
                for path in sorted(waiting):
                    answer = http.get(path)
                    self._note("read")
                    if answer.status_code == 401:
                        waiting.discard(path)
                    elif answer.status_code != 200:
                        self._problem(f"{holder.email}: a logged-out token at {path}: {answer.status_code} "
                                      f"{answer.text[:160]}")
                        return
                waited = time.monotonic() - told
                if waiting and waited > REVOCATION_BOUND:
                    self._problem(f"{holder.email}: a logged-out token still taken at {sorted(waiting)} after "
                                  f"{waited:.1f}s (bound {REVOCATION_BOUND}s)")
                    return
                if waiting:
                    time.sleep(0.2)
        with self._lock:
            self.revocations.append(round(waited, 2))

    # --- page visitors and the registrant ------------------------------------------------------------------------

    def _page_session(self, name: str, email: str, password: str = PASSWORD) -> bool:
        """A session opened through the monolith's login page; False when the freeze refused it."""
        http = httpx.Client(base_url=self.base_url, timeout=30)
        form = http.get("/accounts/login/")
        found = CSRF.search(form.text)
        if form.status_code != 200 or found is None:
            self._problem(f"{name}: the login page answered {form.status_code}")
            http.close()
            return False
        response = http.post("/accounts/login/", data={"username": email, "password": password,
                                                        "csrfmiddlewaretoken": found.group(1)})
        if self._answer(response, (302,), f"{name} page login") != ACKNOWLEDGED:
            http.close()
            return False
        me = http.get("/api/accounts/me/")
        if me.status_code != 200:
            self._problem(f"{name}: /api/accounts/me/ right after the page login: {me.status_code} {me.text[:160]}")
            http.close()
            return False
        old = self.sessions.pop(name, None)
        if old is not None:
            old[0].close()
        self.sessions[name] = (http, int(me.json()["id"]))
        return True

    def _pages(self) -> None:
        n = 0
        last = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() - last >= self.login_every:
                    n += 1
                    last = time.monotonic()
                    self._page_session(f"page-{n % 3}", self.page_users[n % len(self.page_users)])
                self._check_sessions()
            except httpx.HTTPError as exc:
                self._note(AMBIGUOUS)
                self._problem(f"page visitor: no answer ({type(exc).__name__}: {exc})")
            time.sleep(self.pause * 3)

    def _check_sessions(self) -> None:
        for name, (http, user_id) in list(self.sessions.items()):
            response = http.get("/api/accounts/me/")
            self._note("read")
            if response.status_code != 200 or response.json().get("id") != user_id:
                self._problem(f"session {name}: /api/accounts/me/ answered {response.status_code} "
                              f"{response.text[:160]}")

    def _registrant(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            email = f"ledger-{int(time.time() * 1000)}-{n}@example.com"
            password = f"pw-{secrets.token_hex(8)}"
            try:
                with self._client() as http:
                    response = http.post("/api/accounts/register/", json={
                        "email": email, "password": password, "first_name": "Led", "last_name": "Ger"})
                if self._answer(response, (201,), f"register {email}") == ACKNOWLEDGED:
                    with self._lock:
                        self.registered[email] = password
                    with self._client(response.json()["token"]) as http:
                        me = http.get("/api/accounts/me/")
                    if me.status_code != 200 or me.json().get("email") != email:
                        self._problem(f"register {email}: its token at /me/: {me.status_code} {me.text[:160]}")
            except httpx.HTTPError as exc:
                self._note(AMBIGUOUS)
                self._problem(f"registrant: no answer ({type(exc).__name__}: {exc})")
            self._stop.wait(self.login_every)

    # --- the check -----------------------------------------------------------------------------------------------

    def check(self, base_url: str | None = None) -> LoginReport:
        """Reads everything again at ``base_url`` (default: the router) and holds it to the record."""
        problems = list(self.problems)
        base = base_url or self.base_url
        # A token logged out less than the bound ago may still be in the bridge's cache: that is the documented bound.
        time.sleep(max(0.0, self.last_logout + REVOCATION_BOUND - time.monotonic()))
        tokens = addresses = 0
        for holder in self.holders:
            if holder.token is not None:
                tokens += 1
                with httpx.Client(base_url=base, timeout=30,
                                  headers={"Authorization": f"Token {holder.token}"}) as http:
                    me = http.get("/api/accounts/me/")
                    if me.status_code != 200 or me.json().get("id") != holder.user_id:
                        problems.append(f"{holder.email}: the live token at {base}: {me.status_code}")
                        continue
                    book = http.get("/api/accounts/addresses/")
                mine = {int(a["id"]): a["full_name"] for a in book.json() if a["full_name"].startswith("ledger ")}
                addresses += len(mine)
                if mine != holder.addresses:
                    problems.append(f"{holder.email}: address book at {base} {sorted(mine)} but acknowledged "
                                    f"{sorted(holder.addresses)}")
            for token in holder.revoked[-3:]:
                with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Token {token}"}) as http:
                    answer = http.get("/api/accounts/me/")
                if answer.status_code != 401:
                    problems.append(f"{holder.email}: a logged-out token answered {answer.status_code} at {base}")
        if base == self.base_url:
            before = len(self.problems)
            self._check_sessions()
            problems.extend(self.problems[before:])
        for email, password in sorted(self.registered.items())[-5:]:
            with httpx.Client(base_url=base, timeout=30) as http:
                answer = http.post("/api/accounts/login/", json={"email": email, "password": password})
            if answer.status_code != 200:
                problems.append(f"registered {email}: login at {base}: {answer.status_code} {answer.text[:120]}")
        counts = {k: self.counts[k] for k in (ACKNOWLEDGED, REFUSED, AMBIGUOUS, "failed", "read")}
        return LoginReport(ok=not problems, counts=counts, problems=problems, tokens=tokens,
                           sessions=len(self.sessions), registered=len(self.registered),
                           revocations=sorted(self.revocations), addresses=addresses)

    def close(self) -> None:
        for http, _ in self.sessions.values():
            http.close()


def _code(response: httpx.Response) -> str | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None
